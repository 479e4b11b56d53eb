//! `sp-gateway.toml`: typed configuration with defaults, `JPKI_PF_GATEWAY_*` environment
//! overrides, and a `validate()` that reports every problem at once. Secrets (the id-sealing key,
//! webhook secrets, the J-LIS token) are read from files named here and never printed; SP API keys
//! appear only as SHA-256 hashes (`sp-gateway hash-key` prints one).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! workers = 2
//! snapshot_dir = "/var/lib/jpki-pf/snapshots"
//! audit_log = "/var/log/jpki-pf/gateway-audit.jsonl"
//! id_secret_file = "/etc/jpki-pf/gateway-id.secret"   # >= 32 bytes, shared by all replicas
//!
//! [server.tls]                   # optional: HTTPS, and mTLS with client_ca
//! cert = "/etc/jpki-pf/gateway.crt"
//! key = "/etc/jpki-pf/gateway.key"
//! client_ca = "/etc/jpki-pf/sp-clients-ca.pem"
//!
//! [trust]
//! hierarchy = "production"        # or "test" (O=JPKI-TEST only)
//! roots = [{ path = "/etc/jpki-pf/roots/sign-2023.der", sha256 = "..." }]
//!
//! [redis]
//! url = "redis://127.0.0.1:6379/"
//! timeout_ms = 500
//! probe_interval_ms = 5000        # PING this often for sp_gateway_redis_up (not readiness)
//!
//! [index]
//! reload_interval_ms = 2000
//! grace_secs = 0                  # answers stay "good" this long past nextUpdate
//! # only for CRLs without an issuingDistributionPoint: a certificate finds the partition of a
//! # CRL that names itself with no entry here
//! crl_dp_partitions = { "<cRLDistributionPoints name>" = "<crl-sync partition id>" }
//!
//! [limits]
//! max_json_bytes = 1048576        # verifications, logins, consents
//! max_bulk_json_bytes = 16777216  # certificate-status
//! max_bulk_items = 100000
//!
//! [login]
//! challenge_ttl_secs = 120
//!
//! [jlis]                          # optional: 4-info relay
//! base_url = "http://127.0.0.1:9000"
//! token_file = "/etc/jpki-pf/jlis.token"
//! timeout_ms = 5000
//!
//! [webhooks]                      # delivery of revocations of consented certificates
//! delta_stream = "jpki-pf:crl-delta"
//! max_attempts = 8
//!
//! [[sp]]
//! id = "bank-a"
//! name = "Bank A"
//! api_key_sha256 = ["<hex>"]
//! revoked_api_key_sha256 = []
//! purposes = ["kyc", "login", "status", "basic_info"]
//! requests_per_second = 50
//! burst = 100
//! items_per_second = 2000
//! items_burst = 100000
//! webhook = { url = "https://bank-a.example/jpki-events", secret_file = "/etc/jpki-pf/bank-a.whsec" }
//! client_cert_sha256 = ["<hex>"]  # optional (mTLS): the key only works from these client certs
//! client_cert_subject = "C=JP, O=Bank A, CN=bank-a-api"   # optional, the same idea by subject
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod validate;
mod webhooks;

use pf_server::registry::SpConfig;
use pf_server::tls::ServerConfig;
pub use webhooks::WebhooksConfig;

/// Configuration errors: every problem found, at once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML did not parse.
    #[error("parsing {path}: {message}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// One or more values are invalid.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

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
    /// The listener: HTTPS and mutual TLS.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where crl-sync writes snapshots.
    pub snapshot_dir: PathBuf,
    /// The append-only audit log (動作記録).
    pub audit_log: PathBuf,
    /// The key that seals verification ids (at least 32 bytes; the same on every replica).
    pub id_secret_file: PathBuf,
    /// Trusted roots.
    pub trust: TrustConfig,
    /// Redis.
    pub redis: RedisConfig,
    /// Revocation index.
    #[serde(default)]
    pub index: IndexConfig,
    /// Body and bulk limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Login challenges.
    #[serde(default)]
    pub login: LoginConfig,
    /// Idempotency keys.
    #[serde(default)]
    pub idempotency: IdempotencyConfig,
    /// J-LIS 4-info service (optional).
    #[serde(default)]
    pub jlis: Option<JlisConfig>,
    /// Webhook delivery from crl-sync's delta events.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// The SPs.
    #[serde(default)]
    pub sp: Vec<SpConfig>,
}

/// Trusted roots of one hierarchy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// `production` or `test`.
    #[serde(default = "default_hierarchy")]
    pub hierarchy: String,
    /// Root certificates (DER or PEM), optionally pinned.
    #[serde(default)]
    pub roots: Vec<RootConfig>,
}

/// One trusted root.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootConfig {
    /// DER or PEM file.
    pub path: PathBuf,
    /// Expected SHA-256 fingerprint of the DER, hex.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Redis.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Per-command timeout.
    #[serde(default = "default_redis_timeout")]
    pub timeout_ms: u64,
    /// Key prefix (all keys of one SP share a `{sp}` hash tag for Redis Cluster).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How often a background PING refreshes `sp_gateway_redis_up`, so that the metric follows
    /// Redis while no request touches it. Redis is not part of readiness.
    #[serde(default = "default_redis_probe_interval")]
    pub probe_interval_ms: u64,
}

/// Revocation index.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// How often the snapshot directory is checked for a new snapshot.
    pub reload_interval_ms: u64,
    /// How long past a CRL's nextUpdate answers may still be "good".
    pub grace_secs: i64,
    /// Overrides for CRLs that carry no issuingDistributionPoint: a certificate's
    /// cRLDistributionPoints name (URI, or DirName as `C=JP, O=JPKI, …, CN=…`) → the crl-sync
    /// partition id whose freshness applies to it. A name that is a partition id, or that a
    /// partition's CRL gives itself in its issuingDistributionPoint (J-LIS municipality CRLs do),
    /// needs no entry; a certificate with no known partition uses its CA key's stalest one.
    /// The partition is recorded with a registration (for later status checks) only when its id
    /// fits in a verification id ([`crate::ids::partition_fits`]: at most 64 bytes, no `,`).
    pub crl_dp_partitions: std::collections::HashMap<String, String>,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            reload_interval_ms: 2000,
            grace_secs: 0,
            crl_dp_partitions: std::collections::HashMap::new(),
        }
    }
}

/// Body limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest JSON body for single-item endpoints.
    pub max_json_bytes: usize,
    /// Largest JSON body for `certificate-status`.
    pub max_bulk_json_bytes: usize,
    /// Most items in one `certificate-status` request.
    pub max_bulk_items: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_json_bytes: 1024 * 1024,
            max_bulk_json_bytes: 16 * 1024 * 1024,
            max_bulk_items: 100_000,
        }
    }
}

/// Login challenges.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Lifetime of a challenge.
    pub challenge_ttl_secs: u64,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            challenge_ttl_secs: 120,
        }
    }
}

/// Idempotency keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// How long a completed request's key is remembered.
    pub ttl_secs: u64,
    /// How long a key stays "in progress" if the gateway dies mid-request.
    pub lock_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            ttl_secs: 24 * 3600,
            lock_secs: 60,
        }
    }
}

/// J-LIS's 4-info provision service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JlisConfig {
    /// Base URL, e.g. `https://jlis.example`.
    pub base_url: String,
    /// File holding the PF's bearer token, if J-LIS needs one.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Whole-request timeout.
    #[serde(default = "default_jlis_timeout")]
    pub timeout_ms: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_workers() -> usize {
    2
}
fn default_hierarchy() -> String {
    "production".to_owned()
}
fn default_redis_timeout() -> u64 {
    500
}
fn default_redis_probe_interval() -> u64 {
    5000
}
fn default_prefix() -> String {
    "jpki-pf:gw".to_owned()
}
fn default_jlis_timeout() -> u64 {
    5000
}

impl Config {
    /// Reads, parses, applies the process environment and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Config::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML (no environment, no validation).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Environment overrides: `JPKI_PF_GATEWAY_LISTEN`, `..._WORKERS`, `..._SNAPSHOT_DIR`,
    /// `..._AUDIT_LOG`, `..._ID_SECRET_FILE`, `..._REDIS_URL`, `..._REDIS_TIMEOUT_MS`,
    /// `..._REDIS_PROBE_INTERVAL_MS`, `..._INDEX_GRACE_SECS`, `..._JLIS_BASE_URL`, `..._WEBHOOKS_DELTA_STREAM`,
    /// `..._WEBHOOKS_CONSUMER`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let p = "JPKI_PF_GATEWAY_";
        let mut problems = Vec::new();
        let var = |k: &str| get(&format!("{p}{k}"));
        if let Some(v) = var("LISTEN") {
            match v.parse() {
                Ok(a) => self.listen = a,
                Err(_) => problems.push(format!("{p}LISTEN={v:?} is not host:port")),
            }
        }
        let mut num = |k: &str, slot: &mut u64| {
            if let Some(v) = var(k) {
                match v.parse() {
                    Ok(n) => *slot = n,
                    Err(_) => problems.push(format!("{p}{k}={v:?} is not a number")),
                }
            }
        };
        let mut workers = self.workers as u64;
        num("WORKERS", &mut workers);
        self.workers = usize::try_from(workers).unwrap_or(usize::MAX);
        num("REDIS_TIMEOUT_MS", &mut self.redis.timeout_ms);
        num("REDIS_PROBE_INTERVAL_MS", &mut self.redis.probe_interval_ms);
        let mut grace = u64::try_from(self.index.grace_secs).unwrap_or(0);
        num("INDEX_GRACE_SECS", &mut grace);
        self.index.grace_secs = i64::try_from(grace).unwrap_or(i64::MAX);
        if let Some(v) = var("SNAPSHOT_DIR") {
            self.snapshot_dir = v.into();
        }
        if let Some(v) = var("AUDIT_LOG") {
            self.audit_log = v.into();
        }
        if let Some(v) = var("ID_SECRET_FILE") {
            self.id_secret_file = v.into();
        }
        if let Some(v) = var("REDIS_URL") {
            self.redis.url = v;
        }
        if let Some(v) = var("WEBHOOKS_DELTA_STREAM") {
            self.webhooks.delta_stream = v;
        }
        if let Some(v) = var("WEBHOOKS_CONSUMER") {
            self.webhooks.consumer = Some(v);
        }
        if let Some(v) = var("JLIS_BASE_URL") {
            match &mut self.jlis {
                Some(j) => j.base_url = v,
                None => {
                    self.jlis = Some(JlisConfig {
                        base_url: v,
                        token_file: None,
                        timeout_ms: default_jlis_timeout(),
                    })
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// Parses 64 hex digits.
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// Reads a secret file, trimming one trailing newline.
pub fn read_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = std::fs::read(path)?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
}
