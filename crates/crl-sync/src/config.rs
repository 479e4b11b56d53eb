//! `crl-sync.toml`: typed configuration with defaults, a `JPKI_PF_CRL_SYNC_*` environment override for every
//! key ([`ENV`]) and a
//! `validate()` that reports every problem at once.
//!
//! ```toml
//! snapshot_dir = "/var/lib/jpki-pf/snapshots"
//! metrics_textfile = "/var/lib/prometheus/node-exporter/crl_sync.prom"   # optional
//! max_crl_bytes = 2147483648
//! max_clock_skew_secs = 300
//! keep_snapshots = 3
//!
//! [http]
//! timeout_secs = 300          # whole request, body included
//! connect_timeout_secs = 10
//! retries = 3                 # after the first attempt
//! backoff_initial_ms = 1000   # doubled per retry, capped at backoff_max_ms
//! backoff_max_ms = 30000
//!
//! [redis]                     # optional: delta events
//! url = "redis://127.0.0.1:6379/"
//! stream = "jpki-pf:crl-delta"
//!
//! [[ca]]
//! id = "sign-2023"
//! cert = "/etc/jpki-pf/ca/sign-2023.pem"
//!
//! [[partition]]
//! id = "sign-2023/13101"
//! url = "http://jlis.example/crl/sign-2023/13101.crl"
//! ca = "sign-2023"
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where snapshots (one file per CA key and generation) and the fetch state live.
    pub snapshot_dir: PathBuf,
    /// Prometheus node-exporter textfile to write after each run.
    #[serde(default)]
    pub metrics_textfile: Option<PathBuf>,
    /// Largest CRL accepted, in bytes.
    #[serde(default = "default_max_crl_bytes")]
    pub max_crl_bytes: u64,
    /// How far thisUpdate may lie in the future.
    #[serde(default = "default_skew")]
    pub max_clock_skew_secs: u64,
    /// Snapshot generations kept per CA key.
    #[serde(default = "default_keep")]
    pub keep_snapshots: usize,
    /// HTTP client settings.
    #[serde(default)]
    pub http: HttpConfig,
    /// Delta events go to this Redis stream when set.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
    /// The CA certificates CRLs are verified against (several generations may share one DN).
    #[serde(default)]
    pub ca: Vec<CaConfig>,
    /// The CRL partitions to fetch.
    #[serde(default)]
    pub partition: Vec<PartitionConfig>,
}

/// HTTP client settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Whole-request timeout, body included.
    pub timeout_secs: u64,
    /// TCP/TLS connect timeout.
    pub connect_timeout_secs: u64,
    /// Retries after the first attempt, for connection errors, timeouts, 5xx and cut-off bodies.
    pub retries: u32,
    /// First backoff delay; doubled per retry.
    pub backoff_initial_ms: u64,
    /// Backoff cap.
    pub backoff_max_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout_secs: 300,
            connect_timeout_secs: 10,
            retries: 3,
            backoff_initial_ms: 1000,
            backoff_max_ms: 30_000,
        }
    }
}

/// Redis settings for delta events.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Stream key: `revoked` events, and one `baseline` marker per partition's first snapshot
    /// ([`crate::publish`]).
    #[serde(default = "default_stream")]
    pub stream: String,
}

/// One CA certificate.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// Name used by partitions.
    pub id: String,
    /// PEM or DER certificate file.
    pub cert: PathBuf,
}

/// One CRL partition.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    /// Stable partition id, kept in the snapshot.
    pub id: String,
    /// `http://` or `https://` URL of the CRL.
    pub url: String,
    /// The `id` of the CA that signs it.
    pub ca: String,
}

fn default_max_crl_bytes() -> u64 {
    2 << 30
}
fn default_skew() -> u64 {
    300
}
fn default_keep() -> usize {
    3
}
fn default_stream() -> String {
    "jpki-pf:crl-delta".to_owned()
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("config {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// `validate()` found problems; all of them are listed.
    #[error("config is invalid:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// crl-sync's environment variables: `JPKI_PF_CRL_SYNC_<KEY>` for every key, `__` between table
/// levels (`JPKI_PF_CRL_SYNC_HTTP__RETRIES`), and the shorter names documented before for a few
/// nested keys. The loader is the one every server uses ([`pf_server::config`]).
pub const ENV: pf_server::config::EnvLayout<'static> = pf_server::config::EnvLayout {
    prefix: "JPKI_PF_CRL_SYNC_",
    aliases: &[
        ("REDIS_URL", "redis.url"),
        ("HTTP_TIMEOUT_SECS", "http.timeout_secs"),
        ("HTTP_RETRIES", "http.retries"),
    ],
};

impl From<pf_server::ConfigError> for ConfigError {
    fn from(e: pf_server::ConfigError) -> ConfigError {
        match e {
            pf_server::ConfigError::Read { path, source } => ConfigError::Read { path, source },
            pf_server::ConfigError::Parse { path, message } => ConfigError::Parse { path, message },
            pf_server::ConfigError::Invalid(problems) => ConfigError::Invalid(problems),
            other => ConfigError::Invalid(vec![other.to_string()]),
        }
    }
}

impl Config {
    /// Loads a TOML file, applies the environment ([`ENV`]) and validates.
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
        Ok(pf_server::config::from_sources(
            text,
            Path::new("crl-sync.toml"),
            vars,
            &ENV,
        )?)
    }

    /// Parses TOML text (no overrides, no validation).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks everything and reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.snapshot_dir.as_os_str().is_empty() {
            problems.push("snapshot_dir is empty".to_owned());
        }
        if self.max_crl_bytes < 1024 {
            problems.push(format!("max_crl_bytes = {} is too small", self.max_crl_bytes));
        }
        if self.keep_snapshots == 0 {
            problems.push("keep_snapshots must be at least 1".to_owned());
        }
        if self.http.timeout_secs == 0 || self.http.connect_timeout_secs == 0 {
            problems.push("http timeouts must be at least 1 second".to_owned());
        }
        if self.http.retries > 20 {
            problems.push(format!("http.retries = {} is more than 20", self.http.retries));
        }
        if self.http.backoff_initial_ms > self.http.backoff_max_ms {
            problems.push("http.backoff_initial_ms is above http.backoff_max_ms".to_owned());
        }
        if let Some(r) = &self.redis {
            if !(r.url.starts_with("redis://") || r.url.starts_with("rediss://")) {
                problems.push(format!("redis.url {:?} is not a redis:// URL", r.url));
            }
            if r.stream.is_empty() {
                problems.push("redis.stream is empty".to_owned());
            }
        }
        let mut ca_ids = HashSet::new();
        for ca in &self.ca {
            if !ca_ids.insert(ca.id.as_str()) {
                problems.push(format!("ca id {:?} appears twice", ca.id));
            }
            if !ca.cert.is_file() {
                problems.push(format!(
                    "ca {:?}: certificate file {} does not exist",
                    ca.id,
                    ca.cert.display()
                ));
            }
        }
        if self.partition.is_empty() {
            problems.push("no [[partition]] configured".to_owned());
        }
        let mut part_ids = HashSet::new();
        for p in &self.partition {
            if p.id.is_empty() || p.id.len() > 200 {
                problems.push(format!("partition id {:?} must be 1-200 characters", p.id));
            }
            if !part_ids.insert(p.id.as_str()) {
                problems.push(format!("partition id {:?} appears twice", p.id));
            }
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                problems.push(format!("partition {:?}: url {:?} is not http(s)", p.id, p.url));
            }
            if !ca_ids.contains(p.ca.as_str()) {
                problems.push(format!("partition {:?}: unknown ca {:?}", p.id, p.ca));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The HTTP fetch policy.
    pub fn fetch_policy(&self) -> crate::fetch::FetchPolicy {
        crate::fetch::FetchPolicy {
            timeout: Duration::from_secs(self.http.timeout_secs),
            connect_timeout: Duration::from_secs(self.http.connect_timeout_secs),
            retries: self.http.retries,
            backoff_initial: Duration::from_millis(self.http.backoff_initial_ms),
            backoff_max: Duration::from_millis(self.http.backoff_max_ms),
            max_bytes: self.max_crl_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_at_once() {
        let cfg = Config::from_toml(
            r#"
snapshot_dir = ""
keep_snapshots = 0
[[partition]]
id = "a"
url = "ftp://x"
ca = "nope"
[[partition]]
id = "a"
url = "http://x"
ca = "nope"
"#,
        )
        .unwrap();
        let Err(ConfigError::Invalid(p)) = cfg.validate() else {
            panic!("must be invalid")
        };
        assert!(p.len() >= 5, "{p:?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::from_toml("snapshot_dir = \"/x\"\nsnapshotdir = 1\n").is_err());
    }

    #[test]
    fn env_overrides() {
        let env = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            Config::from_sources("snapshot_dir = \"/x\"", vars)
        };
        let cfg = env(&[
            ("JPKI_PF_CRL_SYNC_SNAPSHOT_DIR", "/y"),
            ("JPKI_PF_CRL_SYNC_HTTP_RETRIES", "5"),
            ("JPKI_PF_CRL_SYNC_REDIS_URL", "redis://127.0.0.1:1/"),
        ])
        .unwrap();
        assert_eq!(cfg.snapshot_dir, PathBuf::from("/y"));
        assert_eq!(cfg.http.retries, 5);
        assert!(cfg.redis.is_some());
        assert!(env(&[("JPKI_PF_CRL_SYNC_HTTP_RETRIES", "x")]).is_err());
        // Every key: nested tables with `__`.
        let cfg = env(&[
            ("JPKI_PF_CRL_SYNC_HTTP__BACKOFF_MAX_MS", "100"),
            ("JPKI_PF_CRL_SYNC_KEEP_SNAPSHOTS", "7"),
        ])
        .unwrap();
        assert_eq!(cfg.http.backoff_max_ms, 100);
        assert_eq!(cfg.keep_snapshots, 7);
        assert!(env(&[("JPKI_PF_CRL_SYNC_NO_SUCH_KEY", "1")]).is_err());
    }
}
