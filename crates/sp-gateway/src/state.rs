//! The gateway: everything a handler needs, built once from the configuration.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use pf_server::health::IndexHealth;
use pf_server::index::Index;
use pf_server::ratelimit::{Decision, RateLimiter};
use pf_server::registry::{AuthOutcome, Purpose, Registry, Sp};
use pf_server::tls::ClientCert;
use serde_json::json;
use verifier::{Limits, TrustStore, Verifier};

use crate::audit::AuditLog;
use crate::config::{Config, parse_sha256, read_secret};
use crate::error::ApiError;
use crate::ids::{IdSealer, KeyTags};
use crate::live::LiveChecks;
use crate::metrics::Metrics;
use crate::relay::Jlis;
use crate::store::Store;

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A file could not be read.
    #[error("{what} {path}: {source}")]
    Io {
        /// What it was.
        what: &'static str,
        /// Path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Something in the configuration is unusable.
    #[error("{0}")]
    Invalid(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StartError {
    let path = path.display().to_string();
    move |source| StartError::Io { what, path, source }
}

/// Shared state of all workers.
#[derive(Debug)]
pub struct Gateway {
    /// The configuration.
    pub config: Config,
    /// SPs and keys.
    pub registry: Registry,
    /// The verifier.
    pub verifier: Verifier,
    /// CA key tags.
    pub tags: KeyTags,
    /// The revocation index (shared with its reload loop, which ends when the gateway drops it).
    pub index: Arc<Index>,
    /// Redis.
    pub store: Store,
    /// Rate limits.
    pub limiter: RateLimiter,
    /// Audit log.
    pub audit: AuditLog,
    /// Metrics.
    pub metrics: Metrics,
    /// Verification id sealing.
    pub ids: IdSealer,
    /// J-LIS 4-info relay, when configured.
    pub jlis: Option<Jlis>,
    /// Live status checks at J-LIS's OCSP responder, when `[upstream]` is configured.
    pub live: Option<LiveChecks>,
}

/// Loads the trust store from the configured roots.
pub fn load_trust(cfg: &Config) -> Result<TrustStore, StartError> {
    let mut store = if cfg.trust.hierarchy == "test" {
        TrustStore::test()
    } else {
        TrustStore::production()
    };
    for r in &cfg.trust.roots {
        let bytes = std::fs::read(&r.path).map_err(io("trust root", &r.path))?;
        let der = if bytes.starts_with(b"-----BEGIN") {
            openssl::x509::X509::from_pem(&bytes)
                .and_then(|c| c.to_der())
                .map_err(|e| StartError::Invalid(format!("{}: {e}", r.path.display())))?
        } else {
            bytes
        };
        let res = match r.sha256.as_deref().and_then(parse_sha256) {
            Some(pin) => store.add_pinned_root(&der, &pin),
            None => store.add_root(&der).map(|_| ()),
        };
        res.map_err(|e| StartError::Invalid(format!("trust root {}: {e}", r.path.display())))?;
    }
    Ok(store)
}

impl Gateway {
    /// Builds the gateway. Must run inside a Tokio runtime (Redis connects lazily: a Redis that
    /// is down does not stop the start).
    pub fn build(config: Config) -> Result<Gateway, StartError> {
        let trust = load_trust(&config)?;
        let tags = KeyTags::from_trust(&trust).map_err(StartError::Invalid)?;
        let secret = read_secret(&config.id_secret_file).map_err(io("id secret", &config.id_secret_file))?;
        if secret.len() < 32 {
            return Err(StartError::Invalid(format!(
                "{} holds {} bytes; at least 32 are needed",
                config.id_secret_file.display(),
                secret.len()
            )));
        }
        let store = Store::connect(
            &config.redis.url,
            Duration::from_millis(config.redis.timeout_ms),
            &config.redis.prefix,
        )
        .map_err(|e| StartError::Invalid(e.to_string()))?;
        let audit = AuditLog::open(&config.audit_log).map_err(io("audit log", &config.audit_log))?;
        let metrics = Metrics::new().map_err(|e| StartError::Invalid(e.to_string()))?;
        let jlis = match &config.jlis {
            Some(j) => Some(Jlis::new(j).map_err(StartError::Invalid)?),
            None => None,
        };
        let live = match &config.upstream {
            Some(u) => {
                Some(LiveChecks::new(u, &trust, &tags).map_err(|e| StartError::Invalid(e.to_string()))?)
            }
            None => None,
        };
        let index = Arc::new(Index::open(config.snapshot_dir.clone(), config.index.grace_secs));
        Ok(Gateway {
            registry: Registry::from_config(&config.sp),
            verifier: Verifier::new(trust, Limits::default()),
            tags,
            index,
            store,
            limiter: RateLimiter::new(),
            audit,
            metrics,
            ids: IdSealer::new(&secret),
            jlis,
            live,
            config,
        })
    }

    /// Authenticates the caller and checks the purpose, auditing refusals.
    pub fn authenticate(&self, req: &HttpRequest, purpose: Purpose) -> Result<&Sp, ApiError> {
        let route = req.match_pattern().unwrap_or_default();
        let (kind, sp, prefix) = match self.registry.authenticate(req) {
            AuthOutcome::Ok(sp) => {
                let cert = req.conn_data::<ClientCert>();
                if !sp.client_cert_allowed(cert) {
                    self.metrics
                        .auth_failures
                        .with_label_values(&["client_cert"])
                        .inc();
                    self.audit.record(
                        "auth_failed",
                        Some(&sp.id),
                        json!({
                            "why": "client_cert_mismatch",
                            "client_cert_sha256": cert.map(|c| hex::encode(c.sha256)),
                            "route": route,
                            "peer": req.peer_addr().map(|a| a.ip().to_string()),
                        }),
                    );
                    return Err(ApiError::Unauthenticated);
                }
                if let Err(e) = sp.allow(purpose) {
                    self.audit.record(
                        "auth_refused",
                        Some(&sp.id),
                        json!({"why": "purpose_not_allowed", "purpose": purpose.as_str(), "route": route}),
                    );
                    return Err(e.into());
                }
                return Ok(sp);
            }
            AuthOutcome::Missing => ("missing", None, None),
            AuthOutcome::Unknown { key_hash_prefix } => ("unknown", None, Some(key_hash_prefix)),
            AuthOutcome::Revoked { sp, key_hash_prefix } => {
                ("revoked", Some(sp.id.as_str()), Some(key_hash_prefix))
            }
        };
        self.metrics.auth_failures.with_label_values(&[kind]).inc();
        let peer = req.peer_addr().map(|a| a.ip().to_string());
        self.audit.record(
            "auth_failed",
            sp,
            json!({"why": kind, "key_sha256_prefix": prefix, "route": route, "peer": peer}),
        );
        Err(ApiError::Unauthenticated)
    }

    /// Charges the SP's rate limits: one request plus `items` status items.
    pub async fn limit(&self, sp: &Sp, items: u64) -> Result<(), ApiError> {
        match self.limiter.check(&self.store, sp, items).await {
            Decision::Allow => Ok(()),
            Decision::Deny { retry_after_us } => {
                self.metrics
                    .rate_limited
                    .with_label_values(&[sp.id.as_str()])
                    .inc();
                Err(ApiError::RateLimited {
                    retry_after_secs: Decision::retry_after_secs(retry_after_us),
                })
            }
        }
    }

    /// Updates the index gauges (age and expiry of the stalest partition, loaded, stale
    /// partitions per CA key) and the Redis gauge from the last call or probe.
    pub fn update_gauges(&self) {
        let now = pf_server::clock::now_unix();
        self.metrics
            .index
            .observe(&IndexHealth::of_index(&self.index, now), now);
        self.metrics.redis_up.set(i64::from(self.store.seems_up()));
    }
}

/// The shared handle handlers receive.
pub type Shared = Arc<Gateway>;
