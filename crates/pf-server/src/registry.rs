//! The SP registry: who may call, with which purposes and limits, and from which client
//! certificates. API keys are known only by their SHA-256; a presented key is hashed and compared
//! with **every** registered hash in constant time (`CRYPTO_memcmp`), with no early exit, so the
//! time taken says nothing about how close a guess was or which SP it belongs to.
//!
//! The `[[sp]]` tables of a server's configuration are [`SpConfig`]s; [`sp_problems`] checks them
//! (every problem at once, for the server's own `validate()`), and [`Registry::from_config`]
//! builds the registry from checked ones.
//!
//! What it is not for: answering a refused caller. A refusal is a [`RegistryError`] with a stable
//! code, which each service turns into its own answer in its one error mapping.

use std::collections::HashSet;
use std::path::PathBuf;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::sha::sha256;
use serde::Deserialize;

use crate::secret::{parse_sha256, read_secret};
use crate::tls::ClientCert;

/// Why the registry refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The SP's contract does not cover this purpose.
    #[error("this SP is not allowed to use {}", .0.as_str())]
    PurposeNotAllowed(Purpose),
    /// No random bytes for a new API key.
    #[error("no random bytes for a new API key: {0}")]
    KeyGeneration(#[from] openssl::error::ErrorStack),
}

impl RegistryError {
    /// A stable code for logs and answers.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::PurposeNotAllowed(_) => "PURPOSE_NOT_ALLOWED",
            RegistryError::KeyGeneration(_) => "KEY_GENERATION",
        }
    }
}

/// One `[[sp]]` table of the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    /// Stable id (letters, digits, `-`, `_`; 1 to 64).
    pub id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 of each valid API key, hex (several during a rotation).
    pub api_key_sha256: Vec<String>,
    /// SHA-256 of revoked keys: refused with 401 and audited as such.
    #[serde(default)]
    pub revoked_api_key_sha256: Vec<String>,
    /// `kyc`, `login`, `status`, `basic_info`.
    pub purposes: Vec<String>,
    /// Sustained requests per second.
    #[serde(default = "default_rps")]
    pub requests_per_second: f64,
    /// Requests allowed in a burst.
    #[serde(default = "default_burst")]
    pub burst: u64,
    /// Sustained certificate-status items per second (a bulk request counts by its size).
    #[serde(default = "default_items_ps")]
    pub items_per_second: f64,
    /// Items allowed in a burst (at least one full bulk request).
    #[serde(default = "default_items_burst")]
    pub items_burst: u64,
    /// Optional initial webhook (the gateway's revocation webhooks; can be changed with
    /// `PUT /v1/webhook`).
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// With mTLS: SHA-256 (hex) of the DER of each client certificate this SP's keys may be used
    /// from; empty = any certificate the client CA accepts.
    #[serde(default)]
    pub client_cert_sha256: Vec<String>,
    /// With mTLS: the exact subject the client certificate must have, written as its entries in
    /// order, `SHORTNAME=value` joined by `, ` (e.g. `C=JP, O=Bank A, CN=bank-a-api`).
    #[serde(default)]
    pub client_cert_subject: Option<String>,
}

/// A webhook endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// HTTPS URL.
    pub url: String,
    /// File holding the HMAC secret.
    pub secret_file: PathBuf,
}

fn default_rps() -> f64 {
    50.0
}
fn default_burst() -> u64 {
    100
}
fn default_items_ps() -> f64 {
    2000.0
}
fn default_items_burst() -> u64 {
    100_000
}

/// What the SP checks need to know about the rest of a server's configuration.
#[derive(Clone, Copy, Debug)]
pub struct SpRules {
    /// Whether the listener asks for client certificates (`server.tls.client_ca`): binding an
    /// SP to client certificates means nothing otherwise.
    pub mtls: bool,
    /// The most items one request may carry: an SP's `items_burst` must let a full one pass.
    pub max_items_per_request: u64,
}

/// Every problem of the `[[sp]]` tables, as lines for the server's configuration report: ids,
/// key hashes (each used once across all SPs), purposes, rates, client-certificate bindings and
/// webhooks; and at least one SP.
pub fn sp_problems(sps: &[SpConfig], rules: SpRules) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |m: String| problems.push(m);
    let mut ids = HashSet::new();
    let mut hashes = HashSet::new();
    for sp in sps {
        let ok_id = !sp.id.is_empty()
            && sp.id.len() <= 64
            && sp
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_id {
            bad(format!("sp id {:?} must be 1-64 of [A-Za-z0-9_-]", sp.id));
        }
        if !ids.insert(sp.id.as_str()) {
            bad(format!("sp id {:?} appears twice", sp.id));
        }
        if sp.api_key_sha256.is_empty() {
            bad(format!("sp {:?}: no api_key_sha256", sp.id));
        }
        for h in sp.api_key_sha256.iter().chain(&sp.revoked_api_key_sha256) {
            match parse_sha256(h) {
                None => bad(format!("sp {:?}: {h:?} is not a SHA-256 hex digest", sp.id)),
                Some(d) => {
                    if !hashes.insert(d) {
                        bad(format!(
                            "sp {:?}: key hash {}… is used twice",
                            sp.id,
                            h.get(..8).unwrap_or(h)
                        ));
                    }
                }
            }
        }
        for p in &sp.purposes {
            if Purpose::parse(p).is_none() {
                bad(format!(
                    "sp {:?}: unknown purpose {p:?} (known: {:?})",
                    sp.id,
                    Purpose::ALL.map(Purpose::as_str)
                ));
            }
        }
        let finite = |x: f64| x.is_finite() && x > 0.0 && x <= 1e6;
        if !finite(sp.requests_per_second) || !finite(sp.items_per_second) {
            bad(format!("sp {:?}: rates must be in (0, 1e6]", sp.id));
        }
        if sp.burst == 0 {
            bad(format!("sp {:?}: burst must be at least 1", sp.id));
        }
        if sp.items_burst < rules.max_items_per_request {
            bad(format!(
                "sp {:?}: items_burst {} is below limits.max_bulk_items {}: a full bulk request could never pass",
                sp.id, sp.items_burst, rules.max_items_per_request
            ));
        }
        for h in &sp.client_cert_sha256 {
            if parse_sha256(h).is_none() {
                bad(format!(
                    "sp {:?}: client_cert_sha256 {h:?} is not a SHA-256 hex digest",
                    sp.id
                ));
            }
        }
        if sp
            .client_cert_subject
            .as_ref()
            .is_some_and(|s| s.trim().is_empty())
        {
            bad(format!("sp {:?}: client_cert_subject is empty", sp.id));
        }
        let bound = !sp.client_cert_sha256.is_empty() || sp.client_cert_subject.is_some();
        if bound && !rules.mtls {
            bad(format!(
                "sp {:?}: client_cert_* needs server.tls.client_ca (no client certificate is asked for otherwise)",
                sp.id
            ));
        }
        if let Some(w) = &sp.webhook {
            if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                bad(format!("sp {:?}: webhook url is not http(s)", sp.id));
            }
            match read_secret(&w.secret_file) {
                Err(_) => bad(format!("sp {:?}: webhook secret_file cannot be read", sp.id)),
                Ok(s) if !(32..=256).contains(&s.len()) => bad(format!(
                    "sp {:?}: the webhook secret must be 32 to 256 bytes",
                    sp.id
                )),
                Ok(_) => {}
            }
        }
    }
    if sps.is_empty() {
        bad("no [[sp]] configured".into());
    }
    problems
}

/// What an SP may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// `POST /v1/verifications` (犯収法 JPKI method).
    Kyc,
    /// Challenges and logins.
    Login,
    /// `certificate-status` re-checks.
    Status,
    /// The 4-info relay (consents, basic-info, webhook).
    BasicInfo,
}

impl Purpose {
    /// Every purpose, in the order the configuration documents them.
    pub const ALL: [Purpose; 4] = [Purpose::Kyc, Purpose::Login, Purpose::Status, Purpose::BasicInfo];

    /// The configuration / metrics name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Kyc => "kyc",
            Purpose::Login => "login",
            Purpose::Status => "status",
            Purpose::BasicInfo => "basic_info",
        }
    }

    /// The purpose a configuration name stands for.
    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One registered SP.
#[derive(Clone, Debug)]
pub struct Sp {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Allowed purposes.
    pub purposes: Vec<Purpose>,
    /// Sustained requests per second.
    pub requests_per_second: f64,
    /// Request burst.
    pub burst: u64,
    /// Sustained status items per second.
    pub items_per_second: f64,
    /// Item burst.
    pub items_burst: u64,
    /// With mTLS: the client certificates (SHA-256 of the DER) this SP's keys work from; empty
    /// means any.
    pub client_certs: Vec<[u8; 32]>,
    /// With mTLS: the subject the client certificate must have.
    pub client_subject: Option<String>,
}

impl Sp {
    /// Whether this SP's keys may be used over a connection with `cert` (none on plain HTTP or
    /// TLS without client certificates): always when the SP is bound to no client certificate.
    pub fn client_cert_allowed(&self, cert: Option<&ClientCert>) -> bool {
        if self.client_certs.is_empty() && self.client_subject.is_none() {
            return true;
        }
        let Some(cert) = cert else { return false };
        let by_fingerprint = self.client_certs.is_empty()
            || self
                .client_certs
                .iter()
                .fold(false, |hit, c| hit | openssl::memcmp::eq(c, &cert.sha256));
        let by_subject = self
            .client_subject
            .as_ref()
            .is_none_or(|s| s.trim() == cert.subject);
        by_fingerprint && by_subject
    }

    /// `Ok` when the SP may use `purpose`.
    pub fn allow(&self, purpose: Purpose) -> Result<(), RegistryError> {
        if self.purposes.contains(&purpose) {
            Ok(())
        } else {
            Err(RegistryError::PurposeNotAllowed(purpose))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyState {
    Valid,
    Revoked,
}

/// The outcome of checking a presented key.
#[derive(Debug)]
pub enum AuthOutcome<'a> {
    /// A valid key of this SP.
    Ok(&'a Sp),
    /// No `Authorization: Bearer` header.
    Missing,
    /// A key nobody registered.
    Unknown {
        /// First 8 hex digits of the key's SHA-256, for the audit record (never the key).
        key_hash_prefix: String,
    },
    /// A revoked key of this SP.
    Revoked {
        /// The SP it belonged to.
        sp: &'a Sp,
        /// First 8 hex digits of its SHA-256.
        key_hash_prefix: String,
    },
}

/// All SPs and their key hashes.
#[derive(Debug)]
pub struct Registry {
    sps: Vec<Sp>,
    keys: Vec<([u8; 32], usize, KeyState)>,
}

impl Registry {
    /// Builds the registry from validated configuration.
    pub fn from_config(sps: &[SpConfig]) -> Registry {
        let mut out = Registry {
            sps: Vec::new(),
            keys: Vec::new(),
        };
        for (i, c) in sps.iter().enumerate() {
            out.sps.push(Sp {
                id: c.id.clone(),
                name: c.name.clone(),
                purposes: c.purposes.iter().filter_map(|p| Purpose::parse(p)).collect(),
                requests_per_second: c.requests_per_second,
                burst: c.burst,
                items_per_second: c.items_per_second,
                items_burst: c.items_burst,
                client_certs: c
                    .client_cert_sha256
                    .iter()
                    .filter_map(|h| parse_sha256(h))
                    .collect(),
                client_subject: c.client_cert_subject.clone(),
            });
            for h in &c.api_key_sha256 {
                if let Some(d) = parse_sha256(h) {
                    out.keys.push((d, i, KeyState::Valid));
                }
            }
            for h in &c.revoked_api_key_sha256 {
                if let Some(d) = parse_sha256(h) {
                    out.keys.push((d, i, KeyState::Revoked));
                }
            }
        }
        out
    }

    /// The SPs.
    pub fn sps(&self) -> &[Sp] {
        &self.sps
    }

    /// An SP by id.
    pub fn get(&self, id: &str) -> Option<&Sp> {
        self.sps.iter().find(|s| s.id == id)
    }

    /// Checks a presented key: hashes it and compares with every registered hash.
    pub fn check_key(&self, key: &[u8]) -> AuthOutcome<'_> {
        let digest = sha256(key);
        let mut found: Option<(usize, KeyState)> = None;
        for (h, sp, state) in &self.keys {
            // Every hash is compared; no early exit.
            if openssl::memcmp::eq(h, &digest) {
                found = Some((*sp, *state));
            }
        }
        let prefix = hex::encode(digest.get(..4).unwrap_or_default());
        match found.and_then(|(i, st)| self.sps.get(i).map(|sp| (sp, st))) {
            Some((sp, KeyState::Valid)) => AuthOutcome::Ok(sp),
            Some((sp, KeyState::Revoked)) => AuthOutcome::Revoked {
                sp,
                key_hash_prefix: prefix,
            },
            None => AuthOutcome::Unknown {
                key_hash_prefix: prefix,
            },
        }
    }

    /// Checks the request's `Authorization: Bearer` header.
    pub fn authenticate(&self, req: &HttpRequest) -> AuthOutcome<'_> {
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return AuthOutcome::Missing;
        };
        let bytes = value.as_bytes();
        let token = match bytes.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => bytes.get(7..).unwrap_or_default(),
            _ => return AuthOutcome::Missing,
        };
        let token = token.trim_ascii();
        if token.is_empty() || token.len() > 512 {
            return AuthOutcome::Missing;
        }
        self.check_key(token)
    }
}

/// A new random API key (32 bytes, URL-safe base64) and its SHA-256 hex for the configuration.
pub fn generate_key() -> Result<(String, String), RegistryError> {
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw)?;
    let key = format!("sk_{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = hex::encode(sha256(key.as_bytes()));
    Ok((key, hash))
}

/// SHA-256 hex of a key, for the configuration.
pub fn hash_key(key: &str) -> String {
    hex::encode(sha256(key.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn sp(id: &str, key: &str, revoked: &[&str]) -> SpConfig {
        SpConfig {
            id: id.into(),
            name: id.into(),
            api_key_sha256: vec![hash_key(key)],
            revoked_api_key_sha256: revoked.iter().map(|k| hash_key(k)).collect(),
            purposes: vec!["kyc".into()],
            requests_per_second: 1.0,
            burst: 1,
            items_per_second: 1.0,
            items_burst: 1,
            webhook: None,
            client_cert_sha256: Vec::new(),
            client_cert_subject: None,
        }
    }

    #[test]
    fn keys_by_hash() {
        let r = Registry::from_config(&[sp("a", "key-a", &["old-a"]), sp("b", "key-b", &[])]);
        assert!(matches!(r.check_key(b"key-a"), AuthOutcome::Ok(s) if s.id == "a"));
        assert!(matches!(r.check_key(b"key-b"), AuthOutcome::Ok(s) if s.id == "b"));
        assert!(matches!(r.check_key(b"old-a"), AuthOutcome::Revoked { sp, .. } if sp.id == "a"));
        assert!(matches!(r.check_key(b"key-c"), AuthOutcome::Unknown { .. }));
        assert!(r.get("a").unwrap().allow(Purpose::Kyc).is_ok());
        assert!(r.get("a").unwrap().allow(Purpose::Status).is_err());
        let (k, h) = generate_key().unwrap();
        assert_eq!(hash_key(&k), h);
    }

    #[test]
    fn sp_problems_are_all_reported() {
        let rules = SpRules {
            mtls: false,
            max_items_per_request: 1,
        };
        assert!(sp_problems(&[sp("a", "key-a", &[])], rules).is_empty());
        assert_eq!(sp_problems(&[], rules), ["no [[sp]] configured"]);
        let mut b = sp("b", "key-a", &[]);
        b.purposes.push("mining".into());
        b.client_cert_subject = Some("CN=b".into());
        let problems = sp_problems(&[sp("a", "key-a", &[]), b], rules);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("used twice")));
        assert!(problems.iter().any(|p| p.contains("unknown purpose \"mining\"")));
        assert!(problems.iter().any(|p| p.contains("needs server.tls.client_ca")));
    }
}
