//! Readiness (`GET /readyz`) and the CRL staleness that metrics and alerts watch.
//!
//! A replica is **ready** when this process can serve: its revocation index is loaded (a
//! non-empty snapshot set) and its audit log is healthy. The listener being up is implied by the
//! handler answering. Two conditions are deliberately left out, because every replica shares them
//! and a load balancer acting on them would drop all replicas at once while they can still
//! answer:
//! - **Redis reachability**: KYC verdicts and status checks by verification id work from the
//!   index and the sealed ids alone; what needs Redis (registrations, challenges, consents,
//!   status by user id or serial) answers `STORE_UNAVAILABLE` on every replica alike.
//! - **CRL staleness**: a stale partition makes its answers `unknown`/`TRY_LATER`, never
//!   `good` ([`revocation::status`]), on every replica alike; the other partitions keep
//!   answering.
//!
//! The audit log is per process: each replica writes its own file (a second writer would break
//! the hash chain), so a failed write (full or read-only disk) concerns that replica only, and a
//! replica that cannot record what it answers must not take traffic.
//!
//! Staleness and Redis reachability are reported in the `/readyz` body as information and
//! exported as metrics ([`crate::metrics::Metrics::set_index_health`], `sp_gateway_redis_up`).

use revocation::{PartitionMeta, SnapshotSet};

use crate::index::Index;

/// The one readiness rule: the index is loaded and the audit log is healthy.
pub fn is_ready(index_loaded: bool, audit_log_healthy: bool) -> bool {
    index_loaded && audit_log_healthy
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use revocation::IndexBuilder;

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
    }

    #[test]
    fn nothing_loaded() {
        for set in [None, Some(SnapshotSet::new(Vec::new()).unwrap())] {
            let h = IndexHealth::of(set.as_ref(), NOW, 0);
            assert!(!h.loaded);
            assert!(!h.is_fresh());
            assert_eq!(h.stale_partitions(), 0);
            assert!(h.stalest.is_none());
        }
    }

    #[test]
    fn ready_is_per_process() {
        assert!(is_ready(true, true));
        assert!(!is_ready(false, true));
        assert!(!is_ready(true, false));
    }
}
