//! Health, readiness and metrics of a server: `GET /healthz`, `GET /readyz` and `GET /metrics`,
//! served the same way by every service that answers from the revocation index.
//!
//! - **Health** ([`healthz`]): the process answers; always 200.
//! - **Readiness** ([`readyz`]): this process can serve. The rule ([`is_ready`]) takes only
//!   conditions that belong to one process: the revocation index is loaded (a non-empty snapshot
//!   set) and the service's own required checks pass (the gateway's audit log, for one). A
//!   condition every replica shares (CRL staleness, a shared store) is reported in the body as
//!   information and exported as a metric, never a reason to leave the load balancer: acting on
//!   it would drop every replica at once while they can still answer. A stale partition makes its
//!   answers unknown, never good ([`revocation::status`]), on every replica alike.
//! - **Metrics** ([`metrics`]): the Prometheus text exposition of the service's registry, whose
//!   namespace the service chooses ([`crate::metrics::registry`]).
//!
//! A service takes part by implementing [`Monitored`]: its index, its own checks and its metric
//! registry.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use revocation::{PartitionMeta, SnapshotSet};
use serde_json::{Map, Value};

use crate::clock::{now_unix, rfc3339};
use crate::index::Index;

/// The staleness of one CA key's CRL partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaKeyHealth {
    /// The CA key id (subjectKeyIdentifier), hex: the metrics' `ca_key` label, as in the
    /// snapshot file names (`rev-<key id>-<generation>.snap`).
    pub ca_key: String,
    /// Partitions in the key's snapshot.
    pub partitions: usize,
    /// Partitions past nextUpdate plus the grace ([`PartitionMeta::is_fresh`] false): their
    /// certificates answer `unknown`.
    pub stale: usize,
    /// The earliest thisUpdate of the key's partitions, unix seconds (`None` without partitions).
    pub oldest_this_update: Option<i64>,
}

/// The revocation index as readiness and the metrics see it at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexHealth {
    /// A non-empty snapshot set is loaded (a readiness condition).
    pub loaded: bool,
    /// Per CA key, in key id order.
    pub ca_keys: Vec<CaKeyHealth>,
    /// The partition with the earliest nextUpdate across all CA keys.
    pub stalest: Option<PartitionMeta>,
}

impl IndexHealth {
    /// The health of the index `index` serves from, at `now` with its grace.
    pub fn of_index(index: &Index, now: i64) -> IndexHealth {
        IndexHealth::of(index.load().as_deref(), now, index.grace())
    }

    /// The health of `set` at `now`, a partition being stale from nextUpdate plus `grace`.
    pub fn of(set: Option<&SnapshotSet>, now: i64, grace: i64) -> IndexHealth {
        let Some(set) = set else {
            return IndexHealth::default();
        };
        let ca_keys = set
            .snapshots()
            .map(|snap| {
                let parts = snap.partitions();
                CaKeyHealth {
                    ca_key: hex::encode(snap.issuer_key_id()),
                    partitions: parts.len(),
                    stale: parts.iter().filter(|p| !p.is_fresh(now, grace)).count(),
                    oldest_this_update: parts.iter().map(|p| p.this_update).min(),
                }
            })
            .collect();
        IndexHealth {
            loaded: !set.is_empty(),
            ca_keys,
            stalest: set.stalest_partition().cloned(),
        }
    }

    /// Stale partitions across all CA keys.
    pub fn stale_partitions(&self) -> usize {
        self.ca_keys.iter().map(|k| k.stale).sum()
    }

    /// The CA keys with at least one stale partition.
    pub fn stale_ca_keys(&self) -> impl Iterator<Item = &str> {
        self.ca_keys
            .iter()
            .filter(|k| k.stale > 0)
            .map(|k| k.ca_key.as_str())
    }

    /// Whether a set is loaded and no partition is stale.
    pub fn is_fresh(&self) -> bool {
        self.loaded && self.stale_partitions() == 0
    }
}

/// One check in the `/readyz` body: `"name": {"ok": …, "required": …, …details}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The key in the body's `checks` object.
    pub name: &'static str,
    /// Whether the condition holds.
    pub ok: bool,
    /// Whether it decides readiness (a per-process condition) or is information only.
    pub required: bool,
    /// More fields beside `ok` and `required`.
    pub details: Map<String, Value>,
}

impl Check {
    /// A per-process condition: readiness fails while it does not hold.
    pub fn required(name: &'static str, ok: bool) -> Check {
        Check {
            name,
            ok,
            required: true,
            details: Map::new(),
        }
    }

    /// A condition reported for information (and alerts on the metrics), shared by every replica.
    pub fn informational(name: &'static str, ok: bool) -> Check {
        Check {
            required: false,
            ..Check::required(name, ok)
        }
    }

    /// The check with one more field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Check {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut fields = Map::new();
        fields.insert("ok".to_owned(), self.ok.into());
        fields.insert("required".to_owned(), self.required.into());
        for (k, v) in &self.details {
            fields.insert(k.clone(), v.clone());
        }
        Value::Object(fields)
    }
}

/// The one readiness rule: the index is loaded and every required check of the service holds.
pub fn is_ready(index_loaded: bool, service_checks: &[Check]) -> bool {
    index_loaded && service_checks.iter().all(|c| c.ok || !c.required)
}

/// Readiness at one instant: the verdict and every check behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Readiness {
    /// [`is_ready`].
    pub ready: bool,
    /// The index checks (`index`, required; `crl_freshness`, information), then the service's.
    pub checks: Vec<Check>,
}

impl Readiness {
    /// Readiness from the index's health and the service's own checks.
    pub fn assess(health: &IndexHealth, service_checks: Vec<Check>) -> Readiness {
        let ready = is_ready(health.loaded, &service_checks);
        let stalest = health.stalest.as_ref();
        let mut checks = vec![
            Check::required("index", health.loaded)
                .with("ca_keys", health.ca_keys.len())
                .with("this_update", stalest.map(|f| rfc3339(f.this_update)))
                .with("next_update", stalest.map(|f| rfc3339(f.next_update))),
            Check::informational("crl_freshness", health.is_fresh())
                .with("stale_partitions", health.stale_partitions())
                .with(
                    "stale_ca_keys",
                    health.stale_ca_keys().map(Value::from).collect::<Vec<_>>(),
                ),
        ];
        checks.extend(service_checks);
        Readiness { ready, checks }
    }

    /// The `/readyz` body: `{"status": "ready" | "not_ready", "checks": {name: check, …}}`.
    pub fn body(&self) -> Value {
        let checks: Map<String, Value> = self
            .checks
            .iter()
            .map(|c| (c.name.to_owned(), c.to_json()))
            .collect();
        serde_json::json!({
            "status": if self.ready { "ready" } else { "not_ready" },
            "checks": checks,
        })
    }
}

/// What a service gives the health endpoints.
pub trait Monitored: Send + Sync + 'static {
    /// The revocation index it answers from.
    fn index(&self) -> &Index;
    /// Its own checks, each required (per process) or informational (shared by every replica).
    /// Called on every `/readyz`: report remembered states rather than probing here, so that a
    /// hanging dependency cannot slow the answer past a load balancer's probe timeout.
    fn checks(&self) -> Vec<Check>;
    /// Its metric registry.
    fn registry(&self) -> &prometheus::Registry;
    /// Updates gauges computed on demand, before a scrape.
    fn before_scrape(&self) {}
}

impl<T: Monitored + ?Sized> Monitored for Arc<T> {
    fn index(&self) -> &Index {
        (**self).index()
    }
    fn checks(&self) -> Vec<Check> {
        (**self).checks()
    }
    fn registry(&self) -> &prometheus::Registry {
        (**self).registry()
    }
    fn before_scrape(&self) {
        (**self).before_scrape();
    }
}

/// `GET /healthz`: `{"status":"ok"}` while the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /readyz`: 200 when [`is_ready`], else 503, with the [`Readiness::body`].
pub async fn readyz<S: Monitored>(service: web::Data<S>) -> HttpResponse {
    let health = IndexHealth::of_index(service.index(), now_unix());
    let readiness = Readiness::assess(&health, service.checks());
    let body = readiness.body();
    if readiness.ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: the Prometheus text exposition of the service's registry.
pub async fn metrics<S: Monitored>(service: web::Data<S>) -> HttpResponse {
    service.before_scrape();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::encode(service.registry()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use revocation::IndexBuilder;
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn meta(id: &str, this_update: i64, next_update: i64) -> PartitionMeta {
        PartitionMeta {
            id: id.to_owned(),
            dp_name: None,
            crl_number: vec![1],
            this_update,
            next_update,
            source_sha256: [0; 32],
            entries: 0,
        }
    }

    fn snapshot(key: &[u8], parts: &[PartitionMeta]) -> revocation::Snapshot {
        let mut b = IndexBuilder::new(key).unwrap();
        for p in parts {
            b.add_partition(p.clone()).unwrap();
        }
        b.finish().unwrap()
    }

    #[test]
    fn staleness_per_ca_key() {
        let set = SnapshotSet::new(vec![
            snapshot(
                b"\x01\x02",
                &[
                    meta("a/fresh", NOW - 600, NOW + 3600),
                    meta("a/stale", NOW - 7200, NOW - 60),
                    meta("a/in-grace", NOW - 5000, NOW - 10),
                ],
            ),
            snapshot(b"\x0a\x0b", &[meta("b/fresh", NOW - 300, NOW + 60)]),
        ])
        .unwrap();
        let h = IndexHealth::of(Some(&set), NOW, 30);
        assert!(h.loaded);
        assert_eq!(
            h.ca_keys,
            [
                CaKeyHealth {
                    ca_key: "0102".into(),
                    partitions: 3,
                    stale: 1,
                    oldest_this_update: Some(NOW - 7200),
                },
                CaKeyHealth {
                    ca_key: "0a0b".into(),
                    partitions: 1,
                    stale: 0,
                    oldest_this_update: Some(NOW - 300),
                },
            ]
        );
        assert_eq!(h.stale_partitions(), 1);
        assert_eq!(h.stale_ca_keys().collect::<Vec<_>>(), ["0102"]);
        assert!(!h.is_fresh());
        assert_eq!(h.stalest.as_ref().map(|p| p.id.as_str()), Some("a/stale"));
        // Without grace the partition 10 s past nextUpdate is stale too.
        assert_eq!(IndexHealth::of(Some(&set), NOW, 0).stale_partitions(), 2);
        // Before every nextUpdate: fresh.
        assert!(IndexHealth::of(Some(&set), NOW - 7200, 0).is_fresh());

        // The body reports the staleness without making the process not ready.
        let r = Readiness::assess(&h, vec![Check::required("audit_log", true)]);
        assert!(r.ready);
        assert_eq!(
            r.body(),
            json!({
                "status": "ready",
                "checks": {
                    "index": {
                        "ok": true,
                        "required": true,
                        "ca_keys": 2,
                        "this_update": "2027-01-15T06:00:00Z",
                        "next_update": "2027-01-15T07:59:00Z",
                    },
                    "crl_freshness": {
                        "ok": false,
                        "required": false,
                        "stale_partitions": 1,
                        "stale_ca_keys": ["0102"],
                    },
                    "audit_log": { "ok": true, "required": true },
                }
            })
        );
    }

    #[test]
    fn nothing_loaded() {
        for set in [None, Some(SnapshotSet::new(Vec::new()).unwrap())] {
            let h = IndexHealth::of(set.as_ref(), NOW, 0);
            assert!(!h.loaded);
            assert!(!h.is_fresh());
            assert_eq!(h.stale_partitions(), 0);
            assert!(h.stalest.is_none());
            let r = Readiness::assess(&h, Vec::new());
            assert!(!r.ready);
            assert_eq!(r.body()["status"], "not_ready");
            assert_eq!(r.body()["checks"]["index"]["this_update"], Value::Null);
        }
    }

    #[test]
    fn ready_is_per_process() {
        let audit = |ok| [Check::required("audit_log", ok)];
        assert!(is_ready(true, &audit(true)));
        assert!(!is_ready(false, &audit(true)));
        assert!(!is_ready(true, &audit(false)));
        // Shared conditions are information only.
        assert!(is_ready(true, &[Check::informational("redis", false)]));
    }
}
