//! `sp-gateway.toml`: typed configuration with defaults, a `JPKI_PF_GATEWAY_*` environment
//! override for every key ([`ENV`]), and a `validate()` that reports every problem at once. Secrets (the id-sealing key,
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
//! [upstream]                      # optional: live status checks at J-LIS's OCSP responder
//! url = "http://127.0.0.1:9000/ocsp"   # for every CA served (signing certificates carry no AIA)
//! timeout_ms = 5000               # one OCSP exchange
//! require_nonce = true            # refuse an answer that does not echo our nonce
//! cache_entries = 100000          # verified answers, each kept until its nextUpdate
//! relay_stale = false             # true: an item whose CRL partition is stale is checked live
//! max_live_items = 100            # live checks per request (`"live": true` allows no more items)
//! concurrency = 8                 # live checks of one request in flight at once
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

pub use pf_server::ConfigError;
pub use pf_server::secret::{parse_sha256, read_secret};

/// The gateway's environment variables: `JPKI_PF_GATEWAY_<KEY>` for every key, `__` between
/// table levels (`JPKI_PF_GATEWAY_REDIS__URL`), and the shorter names documented before for a
/// few nested keys.
pub const ENV: pf_server::config::EnvLayout<'static> = pf_server::config::EnvLayout {
    prefix: "JPKI_PF_GATEWAY_",
    aliases: &[
        ("REDIS_URL", "redis.url"),
        ("REDIS_TIMEOUT_MS", "redis.timeout_ms"),
        ("REDIS_PROBE_INTERVAL_MS", "redis.probe_interval_ms"),
        ("INDEX_GRACE_SECS", "index.grace_secs"),
        ("JLIS_BASE_URL", "jlis.base_url"),
        ("WEBHOOKS_DELTA_STREAM", "webhooks.delta_stream"),
        ("WEBHOOKS_CONSUMER", "webhooks.consumer"),
    ],
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
    /// J-LIS's OCSP responder, for live status checks (optional).
    #[serde(default)]
    pub upstream: Option<UpstreamConfig>,
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

/// J-LIS's OCSP responder: live status checks (`"live": true`) and, with `relay_stale`, the
/// automatic relay of items whose CRL partition is stale. Each live check is metered apart from
/// the CRL checks (J-LIS may bill OCSP checks per call).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The responder's URL, used for every CA served: signing certificates carry no
    /// authorityInfoAccess.
    pub url: String,
    /// One OCSP exchange (connect, send, read), in milliseconds.
    #[serde(default = "default_upstream_timeout")]
    pub timeout_ms: u64,
    /// Refuse an answer that does not echo the request's nonce.
    #[serde(default = "default_true")]
    pub require_nonce: bool,
    /// Verified answers kept, each until its nextUpdate (0: none).
    #[serde(default = "default_upstream_cache")]
    pub cache_entries: usize,
    /// Whether an item the index answers `unknown` because its CRL partition is stale (or not
    /// yet valid) is checked at the responder without the SP asking.
    #[serde(default)]
    pub relay_stale: bool,
    /// Most live checks in one request: a `"live": true` request may carry no more items, and
    /// stale items past it keep the index's `unknown`.
    #[serde(default = "default_max_live_items")]
    pub max_live_items: usize,
    /// Live checks of one request in flight at once.
    #[serde(default = "default_live_concurrency")]
    pub concurrency: usize,
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
fn default_max_live_items() -> usize {
    100
}
fn default_live_concurrency() -> usize {
    8
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
    /// Reads, parses, applies the process environment ([`ENV`]) and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = pf_server::config::load(path, &ENV)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML with the environment overrides among `vars` (name, value); no validation.
    pub fn from_sources(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        pf_server::config::from_sources(text, Path::new("sp-gateway.toml"), vars, &ENV)
    }

    /// Parses TOML (no environment, no validation).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}
