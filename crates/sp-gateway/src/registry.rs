//! The SP registry: who may call, with which purposes and limits. API keys are known only by
//! their SHA-256; a presented key is hashed and compared with **every** registered hash in
//! constant time (`CRYPTO_memcmp`), with no early exit, so the time taken says nothing about how
//! close a guess was or which SP it belongs to.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::config::{SpConfig, parse_sha256};
use crate::error::ApiError;

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
    /// The configuration / metrics name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Kyc => "kyc",
            Purpose::Login => "login",
            Purpose::Status => "status",
            Purpose::BasicInfo => "basic_info",
        }
    }

    fn parse(s: &str) -> Option<Purpose> {
        match s {
            "kyc" => Some(Purpose::Kyc),
            "login" => Some(Purpose::Login),
            "status" => Some(Purpose::Status),
            "basic_info" => Some(Purpose::BasicInfo),
            _ => None,
        }
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
    pub fn client_cert_allowed(&self, cert: Option<&crate::tls::ClientCert>) -> bool {
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

    /// `Ok` when the SP may use `purpose`, else 403.
    pub fn allow(&self, purpose: Purpose) -> Result<(), ApiError> {
        if self.purposes.contains(&purpose) {
            Ok(())
        } else {
            Err(ApiError::PurposeNotAllowed(purpose.as_str()))
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
        let digest = verifier::sha256(key);
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
pub fn generate_key() -> Result<(String, String), openssl::error::ErrorStack> {
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw)?;
    let key = format!("sk_{}", crate::body::to_b64url(&raw));
    let hash = hex::encode(verifier::sha256(key.as_bytes()));
    Ok((key, hash))
}

/// SHA-256 hex of a key, for the configuration.
pub fn hash_key(key: &str) -> String {
    hex::encode(verifier::sha256(key.trim().as_bytes()))
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
}
