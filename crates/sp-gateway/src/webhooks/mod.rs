//! Signed webhook delivery of revocations (the consented 4-info update flow): when crl-sync sees a consented
//! certificate revoked, the SP that holds the consent is told, at least once.
//!
//! Two stages, each a loop over a Redis stream read with a consumer group shared by every
//! gateway replica (so an entry is handled by one replica, and an entry a crashed replica left
//! unacknowledged is taken over with XAUTOCLAIM after `claim_idle_ms`):
//!
//! 1. **Matching** (`delta`): reads crl-sync's delta stream (`webhooks.delta_stream`; one entry
//!    per newly revoked certificate: CA key id, serial, reason, time, CRL number; and one
//!    `baseline` marker per CRL partition indexed for the first time, whose entries are not
//!    announced: it is counted and acknowledged, nothing is delivered). Entries are parsed as
//!    [`revocation::DeltaEvent`], the contract with crl-sync; one that does not parse is counted
//!    as `ignored`, logged with its error code and acknowledged. For every SP
//!    that registered that certificate (`certuser` holds `tag:serial` for the CA key's tag) and
//!    holds an active consent for its serial (`cc:<serial>`), it appends one delivery to the
//!    webhook outbox, then acknowledges the delta entry. The event id is derived from (SP, CA key,
//!    serial, consent), and a marker key written in the same script as the outbox entry makes a
//!    re-read delta entry (after a crash before the acknowledgement) add nothing twice.
//! 2. **Delivery** (`delivery`): reads the outbox, POSTs each body to the SP's webhook (`PUT
//!    /v1/webhook`, else the SP's `webhook` in the configuration) with `JPKI-PF-Signature`, the
//!    event id and the attempt number, and settles it in one script: acknowledged and removed on
//!    2xx; otherwise scheduled again after a bounded exponential backoff (a sorted set moved back
//!    into the outbox when due) or, after `max_attempts`, moved to the dead-letter stream. Every
//!    outcome is audited (`webhook_delivered`, `webhook_failed`) and counted.
//!
//! The body carries ids, the serial, the reason, the revocation time and the CRL number:
//! **never 4 info**, and neither do the logs, metrics or audit records written here.
//!
//! | key | type | what |
//! |---|---|---|
//! | `P:{~wh}:outbox` | stream | `event_id`, `sp`, `attempt`, `body` (and `replay_of`: a requeued dead letter's id) |
//! | `P:{~wh}:retry` | sorted set | deliveries waiting for their next attempt, by due time (ms) |
//! | `P:{~wh}:dead` | stream | deliveries that used up their attempts, with the last error ([`dead_letters`]: list, replay) |
//! | `P:{~wh}:seen:<event id>` | string | enqueued once (expires after 35 days) |

pub mod dead_letters;
mod delivery;
mod delta;
pub mod signature;
mod streams;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{WebhooksConfig, read_secret};
use crate::state::Shared;
use crate::store::StoreError;

pub use signature::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};

/// The event type of a revocation.
pub const EVENT_REVOKED: &str = "certificate.revoked";

/// A webhook endpoint: where to POST and the HMAC secret.
#[derive(Clone)]
pub(crate) struct Target {
    url: String,
    secret: Vec<u8>,
}

/// What both stages share.
pub(crate) struct Ctx {
    gw: Shared,
    cfg: WebhooksConfig,
    /// Webhooks from the configuration, by SP id (a `PUT /v1/webhook` setting wins).
    configured: HashMap<String, Target>,
    http: reqwest::Client,
    outbox: String,
    retry: String,
    dead: String,
    enqueue: Script,
    promote: Script,
    settle_done: Script,
    settle_retry: Script,
    settle_dead: Script,
}

/// The running worker; [`Worker::stop`] it for a graceful end.
#[derive(Debug)]
pub struct Worker {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    consumer: String,
    grace: Duration,
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// An SP's webhook secret file could not be read.
    #[error("sp {sp:?}: webhook secret_file: {source}")]
    Secret {
        /// The SP.
        sp: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client or a Redis connection could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// A consumer name unique to this process: the host name, the process id and a random suffix
/// (a restarted replica is a new consumer; what the old one left pending is claimed).
pub fn default_consumer() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "gw".to_owned());
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(64)
        .collect();
    let mut r = [0u8; 4];
    let _ = openssl::rand::rand_bytes(&mut r);
    format!("{host}-{}-{}", std::process::id(), hex::encode(r))
}

impl Worker {
    /// Starts both stages on the current Tokio runtime.
    pub fn spawn(gw: Shared) -> Result<Worker, WorkerError> {
        let cfg = gw.config.webhooks.clone();
        let mut configured = HashMap::new();
        for sp in &gw.config.sp {
            if let Some(w) = &sp.webhook {
                let secret = read_secret(&w.secret_file).map_err(|source| WorkerError::Secret {
                    sp: sp.id.clone(),
                    source,
                })?;
                configured.insert(
                    sp.id.clone(),
                    Target {
                        url: w.url.clone(),
                        secret,
                    },
                );
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .connect_timeout(Duration::from_millis(cfg.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jpki-pf-sp-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WorkerError::Setup(e.to_string()))?;
        let consumer = cfg.consumer.clone().unwrap_or_else(default_consumer);
        let redis_timeout = Duration::from_millis(gw.config.redis.timeout_ms);
        let ctx = Arc::new(Ctx {
            outbox: gw.store.webhook_key("outbox"),
            retry: gw.store.webhook_key("retry"),
            dead: gw.store.webhook_key("dead"),
            enqueue: Script::new(delta::ENQUEUE),
            promote: Script::new(delivery::PROMOTE),
            settle_done: Script::new(delivery::SETTLE_DONE),
            settle_retry: Script::new(delivery::SETTLE_RETRY),
            settle_dead: Script::new(delivery::SETTLE_DEAD),
            configured,
            http,
            cfg: cfg.clone(),
            gw,
        });
        let reader = |key: String, what: &'static str| {
            streams::GroupReader::new(
                ctx.gw.store.client(),
                redis_timeout,
                key,
                cfg.group.clone(),
                consumer.clone(),
                cfg.batch,
                cfg.block_ms,
                cfg.claim_idle_ms,
                what,
            )
            .map_err(|e| WorkerError::Setup(e.to_string()))
        };
        let matcher = delta::Matcher::new(
            Arc::clone(&ctx),
            reader(cfg.delta_stream.clone(), "delta entries")?,
        );
        let sender = delivery::Sender::new(
            Arc::clone(&ctx),
            reader(ctx.outbox.clone(), "webhook deliveries")?,
        );
        let (stop, rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(drive("webhook matching", rx.clone(), matcher)),
            tokio::spawn(drive("webhook delivery", rx, sender)),
        ];
        tracing::info!(consumer = %consumer, stream = %cfg.delta_stream, "webhook worker started");
        Ok(Worker {
            stop,
            tasks,
            consumer,
            grace: Duration::from_millis(cfg.block_ms + 2 * cfg.timeout_ms + 2000),
        })
    }

    /// This replica's consumer name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Lets the current step of each stage finish (deliveries in flight included), then ends;
    /// a stage still busy after the grace period is aborted (its entries stay pending and are
    /// claimed by another replica).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + self.grace;
        for mut t in self.tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
            }
        }
    }

    /// Ends both stages at once, as a crash would: whatever was read and not acknowledged stays
    /// pending for another replica.
    pub fn abort(self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One stage: a step that reads and handles one batch.
pub(crate) trait Stage {
    /// Handles one batch; waits at most `block_ms` for new entries plus the work on them.
    fn step(&mut self) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
    /// Notes a failed step.
    fn failed(&mut self, e: &StoreError);
}

/// Runs `stage` until `stop` turns true, pausing with a bounded backoff after errors.
async fn drive(name: &'static str, mut stop: watch::Receiver<bool>, mut stage: impl Stage) {
    let mut pause = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        match stage.step().await {
            Ok(()) => pause = Duration::from_millis(100),
            Err(e) => {
                stage.failed(&e);
                tracing::warn!(stage = name, error = %e, pause_ms = pause.as_millis() as u64, "webhook stage failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
    )
    .unwrap_or(i64::MAX)
}

/// The delay before attempt `failed + 1`: `initial * 2^(failed - 1)`, capped.
pub fn backoff(cfg: &WebhooksConfig, failed: u32) -> Duration {
    let exp = failed.saturating_sub(1).min(30);
    let ms = cfg.backoff_initial_ms.saturating_mul(1u64 << exp);
    Duration::from_millis(ms.min(cfg.backoff_max_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let cfg = WebhooksConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            ..WebhooksConfig::default()
        };
        let got: Vec<u64> = (1..=6).map(|n| backoff(&cfg, n).as_millis() as u64).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&cfg, 200).as_millis(), 1000);
    }

    #[test]
    fn consumer_names_differ() {
        assert_ne!(default_consumer(), default_consumer());
        assert!(!default_consumer().contains(' '));
    }
}
