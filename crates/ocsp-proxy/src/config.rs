//! `ocsp-proxy.toml`: typed configuration with defaults, a `JPKI_PF_OCSP_*` environment override
//! for every key ([`ENV`], the loader every server uses: [`pf_server::config`]), and a
//! `validate()` that reports every problem at once.
//!
//! ```toml
//! listen = "127.0.0.1:8081"
//! workers = 2
//! snapshot_dir = "/var/lib/jpki-pf/snapshots"
//! ca_certs = ["/etc/jpki-pf/ca/sign-2023.pem", "/etc/jpki-pf/ca/auth-2023.pem"]  # PEM, several per file allowed
//!
//! [responder]                     # the PF's OCSP signing certificate and key (PEM)
//! cert = "/etc/jpki-pf/ocsp/responder.pem"
//! key = "/etc/jpki-pf/ocsp/responder.key.pem"
//!
//! [index]
//! reload_interval_ms = 2000
//! grace_secs = 0                  # a CRL vouches for "good" this long past its nextUpdate
//!
//! [limits]
//! max_request_bytes = 65536
//! max_cert_ids = 32
//! max_signings_in_flight = 64     # past it: tryLater at once (load shedding), never a queue
//!
//! [cache]
//! max_entries = 200000            # signed responses to requests without a nonce
//!
//! [upstream]                      # optional: relay to J-LIS's responder when the CRL data is stale
//! url = "http://jlis.example/ocsp" # for every CA served (signing certificates carry no AIA)
//! timeout_ms = 5000
//! require_nonce = true            # refuse an upstream answer without our nonce
//! cache_entries = 100000          # verified upstream answers, each kept until its nextUpdate
//!
//! [server.tls]                    # optional: HTTPS (see pf_server::tls)
//! cert = "/etc/jpki-pf/ocsp/https.crt"
//! key = "/etc/jpki-pf/ocsp/https.key"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pf_server::ConfigError;
use pf_server::tls::ServerConfig;
use serde::Deserialize;

/// The responder's environment variables: `JPKI_PF_OCSP_<KEY>` for every key, `__` between
/// table levels (`JPKI_PF_OCSP_LIMITS__MAX_CERT_IDS`).
pub const ENV: pf_server::config::EnvLayout<'static> = pf_server::config::EnvLayout {
    prefix: "JPKI_PF_OCSP_",
    aliases: &[],
};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// HTTP worker threads.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// The listener: HTTPS when set.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where crl-sync writes snapshots.
    pub snapshot_dir: PathBuf,
    /// The CA certificates whose certificates are answered (PEM files).
    pub ca_certs: Vec<PathBuf>,
    /// The signing certificate and key.
    pub responder: ResponderConfig,
    /// The revocation index.
    #[serde(default)]
    pub index: IndexConfig,
    /// Request and work bounds.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The signed-response cache.
    #[serde(default)]
    pub cache: CacheConfig,
    /// The relay to J-LIS's responder for certificates the CRL data cannot vouch for; without
    /// it, they are answered `tryLater`.
    #[serde(default)]
    pub upstream: Option<UpstreamConfig>,
}

/// J-LIS's OCSP responder, asked when the CRL data cannot vouch (see `ocsp_client`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The responder's URL, for every CA served.
    pub url: String,
    /// Whole-request timeout.
    #[serde(default = "default_upstream_timeout")]
    pub timeout_ms: u64,
    /// Refuse an answer that does not echo our nonce.
    #[serde(default = "default_true")]
    pub require_nonce: bool,
    /// Verified answers kept, each until its nextUpdate.
    #[serde(default = "default_upstream_cache")]
    pub cache_entries: usize,
}

fn default_upstream_timeout() -> u64 {
    5000
}
fn default_true() -> bool {
    true
}
fn default_upstream_cache() -> usize {
    100_000
}

/// The PF's OCSP signing certificate and key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderConfig {
    /// Certificate, PEM (RSA-2048 or larger, or ECDSA P-256, with id-kp-OCSPSigning).
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// The revocation index.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// How often the snapshot directory is checked for a newer set.
    #[serde(default = "default_reload_ms")]
    pub reload_interval_ms: u64,
    /// Seconds past a CRL's nextUpdate during which it still vouches for "good".
    #[serde(default)]
    pub grace_secs: i64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            reload_interval_ms: default_reload_ms(),
            grace_secs: 0,
        }
    }
}

/// Request and work bounds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request accepted, bytes.
    #[serde(default = "default_max_request")]
    pub max_request_bytes: usize,
    /// Most CertIDs in one request.
    #[serde(default = "default_max_cert_ids")]
    pub max_cert_ids: usize,
    /// Signatures computed at once; a request that would need one more is answered `tryLater`
    /// at once.
    #[serde(default = "default_signings")]
    pub max_signings_in_flight: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_request_bytes: default_max_request(),
            max_cert_ids: default_max_cert_ids(),
            max_signings_in_flight: default_signings(),
        }
    }
}

/// The signed-response cache.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Most responses kept.
    #[serde(default = "default_cache_entries")]
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: default_cache_entries(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8081))
}
fn default_workers() -> usize {
    2
}
fn default_reload_ms() -> u64 {
    2000
}
fn default_max_request() -> usize {
    64 * 1024
}
fn default_max_cert_ids() -> usize {
    32
}
fn default_signings() -> usize {
    64
}
fn default_cache_entries() -> usize {
    200_000
}

impl Config {
    /// Reads, parses, applies the process environment ([`ENV`]) and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = pf_server::config::load(path, &ENV)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML with the environment overrides among `vars`; no validation.
    pub fn from_sources(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        pf_server::config::from_sources(text, Path::new("ocsp-proxy.toml"), vars, &ENV)
    }

    /// Every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(1..=64).contains(&self.workers) {
            problems.push(format!("workers = {} must be 1 to 64", self.workers));
        }
        if self.ca_certs.is_empty() {
            problems.push("ca_certs is empty: no CA would be answered".to_owned());
        }
        for p in self
            .ca_certs
            .iter()
            .chain([&self.responder.cert, &self.responder.key])
        {
            if !p.is_file() {
                problems.push(format!("{} is not a readable file", p.display()));
            }
        }
        if self.snapshot_dir.as_os_str().is_empty() {
            problems.push("snapshot_dir is empty".to_owned());
        }
        if !(100..=600_000).contains(&self.index.reload_interval_ms) {
            problems.push("index.reload_interval_ms must be 100 to 600000".to_owned());
        }
        if !(0..=7 * 86_400).contains(&self.index.grace_secs) {
            problems.push("index.grace_secs must be 0 to 604800".to_owned());
        }
        if !(128..=jpki::ocsp::MAX_OCSP_LEN).contains(&self.limits.max_request_bytes) {
            problems.push(format!(
                "limits.max_request_bytes must be 128 to {}",
                jpki::ocsp::MAX_OCSP_LEN
            ));
        }
        if !(1..=1000).contains(&self.limits.max_cert_ids) {
            problems.push("limits.max_cert_ids must be 1 to 1000".to_owned());
        }
        if !(1..=100_000).contains(&self.limits.max_signings_in_flight) {
            problems.push("limits.max_signings_in_flight must be 1 to 100000".to_owned());
        }
        if self.cache.max_entries > 50_000_000 {
            problems.push("cache.max_entries must be at most 50000000".to_owned());
        }
        if let Some(tls) = &self.server.tls {
            problems.extend(tls.problems());
        }
        if let Some(u) = &self.upstream {
            if !(u.url.starts_with("http://") || u.url.starts_with("https://")) {
                problems.push(format!("upstream.url {:?} is not an http(s) URL", u.url));
            }
            if !(100..=60_000).contains(&u.timeout_ms) {
                problems.push("upstream.timeout_ms must be 100 to 60000".to_owned());
            }
            if u.cache_entries > 50_000_000 {
                problems.push("upstream.cache_entries must be at most 50000000".to_owned());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn defaults_environment_and_every_problem_at_once() {
        let text = "snapshot_dir = \"/nonexistent\"\nca_certs = []\n[responder]\ncert = \"/no/c.pem\"\nkey = \"/no/k.pem\"\n";
        let cfg = Config::from_sources(text, []).unwrap();
        assert_eq!(cfg.limits.max_cert_ids, 32);
        assert_eq!(cfg.listen.port(), 8081);
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        let cfg = Config::from_sources(
            text,
            [
                ("JPKI_PF_OCSP_LIMITS__MAX_CERT_IDS".to_owned(), "0".to_owned()),
                ("JPKI_PF_OCSP_WORKERS".to_owned(), "4".to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(cfg.workers, 4);
        let ConfigError::Invalid(problems) = cfg.validate().unwrap_err() else {
            panic!("expected Invalid")
        };
        assert!(
            problems.iter().any(|p| p.contains("max_cert_ids")),
            "{problems:?}"
        );
        assert!(Config::from_sources(text, [("JPKI_PF_OCSP_NOPE".to_owned(), "1".to_owned())]).is_err());
    }
}
