//! The one rule that turns a snapshot lookup into a [`CertStatus`]: every server of the platform
//! answers through it, so the gateway, the OCSP responder and `jpki-verify` cannot disagree.
//!
//! For a certificate of CA key `key` with serial `serial`, asked about at instant `at`:
//! 1. **revoked** when the key's snapshot lists the serial, whatever the freshness (J-LIS never
//!    un-revokes), with the dates of the partition whose CRL listed it;
//! 2. otherwise the partition that applies is the first of `partitions` (the names the
//!    certificate's cRLDistributionPoints give, or the partition recorded for it) that the
//!    snapshot has ([`Basis::OwnPartition`]); when none is given or known, the CA key's
//!    **stalest** partition, the one with the earliest nextUpdate ([`Basis::StalestPartition`]);
//! 3. **good** only when that partition covers the instant: `thisUpdate ≤ at < nextUpdate +
//!    grace` ([`jpki::status::covers`]); otherwise **unknown** (stale, or not yet valid). No index,
//!    no snapshot for the key, or a snapshot without partitions: unknown.

use jpki::{Basis, CertStatus, CheckMethod, Freshness, Serial, UnknownReason};

use crate::{PartitionMeta, Snapshot, SnapshotSet};

/// What an answer may rely on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Seconds past a CRL's nextUpdate during which it still vouches for "good" (J-LIS
    /// publishes late at times). Negative counts as zero.
    pub grace_secs: i64,
}

impl Policy {
    /// A policy with `grace_secs` of grace past nextUpdate.
    pub fn with_grace(grace_secs: i64) -> Policy {
        Policy { grace_secs }
    }
}

/// The freshness of `meta`, answered on `basis`.
pub fn freshness_of(meta: &PartitionMeta, basis: Basis) -> Freshness {
    Freshness {
        method: CheckMethod::Crl,
        partition: meta.id.as_str().into(),
        this_update: meta.this_update,
        next_update: meta.next_update,
        basis,
    }
}

/// The status of `serial` under CA key `key` at `at` in `set` (`None`: no index loaded); see the
/// module documentation for the rule.
pub fn status<S: AsRef<str>>(
    set: Option<&SnapshotSet>,
    key: &[u8],
    serial: &Serial,
    at: i64,
    partitions: &[S],
    policy: Policy,
) -> CertStatus {
    match set {
        Some(set) => set.status(key, serial, at, partitions, policy),
        None => CertStatus::unknown(UnknownReason::NoIndex),
    }
}

impl SnapshotSet {
    /// The status of `serial` under CA key `key` at `at`; `partitions` are the names the
    /// certificate's partition may go by, in order of preference. See [`crate::answer`].
    pub fn status<S: AsRef<str>>(
        &self,
        key: &[u8],
        serial: &Serial,
        at: i64,
        partitions: &[S],
        policy: Policy,
    ) -> CertStatus {
        match self.get(key) {
            Some(snapshot) => snapshot.status(serial, at, partitions, policy),
            None => CertStatus::unknown(UnknownReason::NoSnapshot),
        }
    }
}

impl Snapshot {
    /// The status of `serial` in this CA key's snapshot at `at`. See [`crate::answer`].
    pub fn status<S: AsRef<str>>(
        &self,
        serial: &Serial,
        at: i64,
        partitions: &[S],
        policy: Policy,
    ) -> CertStatus {
        if let Some(r) = self.lookup(serial) {
            // A snapshot never holds an entry without its partition; should one be damaged, the
            // listing still stands (revoked is never softened) with the stalest dates.
            let index = Some(r.partition)
                .filter(|i| self.partition(*i).is_some())
                .or_else(|| self.stalest_index());
            if let Some(freshness) = index.and_then(|i| self.freshness_at(i, Basis::ListingCrl)) {
                return CertStatus::Revoked {
                    revoked_at: r.revoked_at,
                    reason: r.reason,
                    freshness,
                };
            }
        }
        let own = partitions.iter().find_map(|p| self.partition_index(p.as_ref()));
        let chosen = match own {
            Some(i) => self.freshness_at(i, Basis::OwnPartition),
            None => self
                .stalest_index()
                .and_then(|i| self.freshness_at(i, Basis::StalestPartition)),
        };
        let Some(freshness) = chosen else {
            return CertStatus::unknown(UnknownReason::NoPartition);
        };
        if freshness.covers(at, policy.grace_secs) {
            CertStatus::Good(freshness)
        } else {
            let reason = if at < freshness.this_update {
                UnknownReason::NotYetValid
            } else {
                UnknownReason::Stale
            };
            CertStatus::Unknown {
                reason,
                freshness: Some(freshness),
            }
        }
    }

    /// The freshness of partition `index`, answered on `basis`, naming it by the shared id.
    fn freshness_at(&self, index: u16, basis: Basis) -> Option<Freshness> {
        let meta = self.partition(index)?;
        Some(Freshness {
            method: CheckMethod::Crl,
            partition: self.partition_id_arc(index)?,
            this_update: meta.this_update,
            next_update: meta.next_update,
            basis,
        })
    }
}
