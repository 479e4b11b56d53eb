//! The gateway's answers from the live revocation index ([`pf_server::index::Index`], which holds
//! the snapshot set crl-sync writes and swaps in a newer one).
//!
//! Every answer (KYC verifications, logins and status checks) comes from the platform's one rule,
//! [`revocation::status`]: **revoked** when the serial is listed under its CA key, whatever the
//! freshness; **good** only when the CRL partition that applies covers the instant
//! (`thisUpdate ≤ now < nextUpdate + grace_secs`); **unknown** (`TRY_LATER`) otherwise. The
//! partition that applies is the certificate's own when it is known and loaded:
//! - at KYC and login the certificate is at hand, and the verifier hands its
//!   cRLDistributionPoints names to the rule (mapped through `index.crl_dp_partitions` for CRLs
//!   that name no issuingDistributionPoint);
//! - later status checks (by verification id, user id or serial) use the partition recorded
//!   when the certificate was registered ([`record_partition`], kept in the sealed id and in
//!   Redis beside the certificate, see [`crate::ids::CertRef`]);
//!
//! otherwise the CA key's **stalest** partition, and the answer says so (`source_basis:
//! stalest_partition`): one stale municipality CRL makes every such answer unknown (fail closed).

use std::collections::HashMap;

use jpki::{Basis, CertStatus, Serial};
use pf_server::clock::rfc3339;
use revocation::{Policy, SnapshotSet};
use serde::Serialize;

/// The `revocation` object of responses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevocationView {
    /// `good`, `revoked` or `unknown`.
    pub status: &'static str,
    /// `crl` (the index), or `ocsp` for a live status check at J-LIS's OCSP responder.
    pub check_method: &'static str,
    /// The CRL's thisUpdate, RFC 3339.
    pub source_updated_at: Option<String>,
    /// The CRL's nextUpdate, RFC 3339.
    pub source_next_update: Option<String>,
    /// How the CRL partition was chosen: `listing_crl`, `own_partition` or `stalest_partition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_basis: Option<&'static str>,
    /// Revocation time, RFC 3339 (revoked only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// RFC 5280 reason name (revoked only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// `TRY_LATER` when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<&'static str>,
    /// Why a live check got no verified answer (the OCSP client's stable code, e.g.
    /// `OCSP_UPSTREAM_UNREACHABLE`); the status is then `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_error: Option<&'static str>,
}

impl RevocationView {
    /// The response form of a status.
    pub fn of(status: &CertStatus) -> RevocationView {
        let f = status.freshness();
        let mut view = RevocationView {
            status: status.label(),
            check_method: "crl",
            source_updated_at: f.map(|f| rfc3339(f.this_update)),
            source_next_update: f.map(|f| rfc3339(f.next_update)),
            source_basis: f.map(|f| f.basis.as_str()),
            revoked_at: None,
            reason: None,
            reason_code: None,
            live_error: None,
        };
        match status {
            CertStatus::Good(_) => {}
            CertStatus::Revoked {
                revoked_at, reason, ..
            } => {
                view.revoked_at = Some(rfc3339(*revoked_at));
                view.reason = reason.map(jpki::Reason::rfc_name);
            }
            CertStatus::Unknown { .. } => view.reason_code = Some("TRY_LATER"),
        }
        view
    }

    /// The response form of a live check's answer: `check_method: ocsp`, the OCSP answer's
    /// thisUpdate and nextUpdate, no CRL basis, and the error code of a failed check.
    pub fn of_live(status: &CertStatus, source: crate::live::LiveSource) -> RevocationView {
        RevocationView {
            check_method: "ocsp",
            source_basis: None,
            live_error: source.error(),
            ..RevocationView::of(status)
        }
    }
}

/// The status of `serial` under CA key `key_id` at `now` in `set`, the certificate's partition
/// going by one of `partitions` (cRLDistributionPoints names, mapped through `map` when it has
/// an entry, or a recorded partition id).
pub fn status(
    set: Option<&SnapshotSet>,
    key_id: &[u8],
    serial: &Serial,
    now: i64,
    grace: i64,
    partitions: &[String],
    map: &HashMap<String, String>,
) -> CertStatus {
    let policy = Policy::with_grace(grace);
    // CRLs that name themselves need no map: the names go to the rule as they are.
    if map.is_empty() {
        return revocation::status(set, key_id, serial, now, partitions, policy);
    }
    let mapped: Vec<&str> = partitions
        .iter()
        .map(|p| map.get(p).unwrap_or(p).as_str())
        .collect();
    revocation::status(set, key_id, serial, now, &mapped, policy)
}

/// The partition ids a certificate (DER) may belong to: each full name of its
/// cRLDistributionPoints (a URI as is, a DirName as `SHORTNAME=value` entries joined by `, `),
/// mapped through `map` when it has an entry, else as is. Empty when the certificate does not
/// parse or names no distribution point (the caller then fails closed on the stalest partition).
pub fn partition_candidates(der: &[u8], map: &HashMap<String, String>) -> Vec<String> {
    verifier::crl_distribution_points(der)
        .into_iter()
        .map(|t| map.get(&t).cloned().unwrap_or(t))
        .collect()
}

/// The partition to record for a certificate registered after a verification, so that its
/// later status checks use it: the partition that answered when it was the certificate's own
/// ([`Basis::OwnPartition`]); otherwise, among the certificate's [`partition_candidates`] that
/// fit in an id ([`crate::ids::partition_fits`]), the first one (a snapshot may add it later;
/// until then checks fail closed on the stalest partition), else `None`. `der` is parsed only in
/// that second case.
pub fn record_partition(
    status: Option<&CertStatus>,
    der: &[u8],
    map: &HashMap<String, String>,
) -> Option<String> {
    if let Some(f) = status.and_then(CertStatus::freshness)
        && f.basis == Basis::OwnPartition
        && crate::ids::partition_fits(&f.partition)
    {
        return Some(f.partition.to_string());
    }
    partition_candidates(der, map)
        .into_iter()
        .find(|p| crate::ids::partition_fits(p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use jpki::{Freshness, Reason};
    use revocation::{IndexBuilder, PartitionMeta};

    use super::*;

    const KEY: &[u8] = b"ca-key-id";
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

    /// `fresh` lists serial 5; `stale` (past nextUpdate) lists serial 7.
    fn set() -> SnapshotSet {
        let mut b = IndexBuilder::new(KEY).unwrap();
        let fresh = b.add_partition(meta("fresh", NOW - 600, NOW + 3600)).unwrap();
        let stale = b.add_partition(meta("stale", NOW - 7200, NOW - 60)).unwrap();
        b.push_serial(&serial(5), NOW - 900, Some(Reason::KeyCompromise), fresh)
            .unwrap();
        b.push_serial(&serial(7), NOW - 9000, None, stale).unwrap();
        SnapshotSet::new(vec![b.finish().unwrap()]).unwrap()
    }

    fn serial(n: u8) -> Serial {
        Serial::from_magnitude(&[n]).unwrap()
    }

    /// The dates an answer carries.
    fn dates(s: &CertStatus) -> Option<(i64, i64)> {
        s.freshness().map(|f| (f.this_update, f.next_update))
    }

    #[test]
    fn answers_use_the_freshness_of_their_own_partition() {
        let set = set();
        let fresh = (NOW - 600, NOW + 3600);
        let stale = (NOW - 7200, NOW - 60);
        let none = HashMap::new();
        let at = |serial: u8, parts: &[&str]| {
            let parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
            status(
                Some(&set),
                KEY,
                &super::tests::serial(serial),
                NOW,
                0,
                &parts,
                &none,
            )
        };
        // Listed: the partition that listed it, not the stalest.
        let r = at(5, &[]);
        assert!(matches!(
            r,
            CertStatus::Revoked {
                reason: Some(Reason::KeyCompromise),
                ..
            }
        ));
        assert_eq!(dates(&r), Some(fresh));
        assert_eq!(dates(&at(7, &["fresh"])), Some(stale));
        // Not listed, in the fresh partition: good with that CRL's dates.
        assert!(matches!(at(6, &["fresh"]), CertStatus::Good(_)));
        assert_eq!(dates(&at(6, &["fresh"])), Some(fresh));
        assert_eq!(at(6, &["no-such-partition", "fresh"]), at(6, &["fresh"]));
        // Not listed, partition unknown or stale: unknown (fail closed on the stalest).
        for parts in [&[][..], &["no-such-partition"][..], &["stale"][..]] {
            let s = at(6, parts);
            assert!(matches!(s, CertStatus::Unknown { .. }), "{parts:?}: {s:?}");
            assert_eq!(dates(&s), Some(stale));
        }
        assert_eq!(
            at(6, &[]).freshness().map(|f| f.basis),
            Some(Basis::StalestPartition)
        );
        // A cRLDistributionPoints name the map sends to a partition.
        let map = HashMap::from([("ldap-dn-of-fresh".to_owned(), "fresh".to_owned())]);
        let points = ["no-such-partition".to_owned(), "ldap-dn-of-fresh".to_owned()];
        let good = status(Some(&set), KEY, &serial(6), NOW, 0, &points, &map);
        assert!(matches!(good, CertStatus::Good(_)));
        // What a registration records: the partition that answered, when it was the own one.
        assert_eq!(record_partition(Some(&good), b"", &map).as_deref(), Some("fresh"));
        let fallback = status(Some(&set), KEY, &serial(6), NOW, 0, &[], &map);
        assert_eq!(record_partition(Some(&fallback), b"", &map), None);
        assert_eq!(record_partition(None, b"", &map), None);
    }

    #[test]
    fn views() {
        let f = Freshness {
            method: jpki::CheckMethod::Crl,
            partition: "p".into(),
            this_update: NOW,
            next_update: NOW + 60,
            basis: Basis::StalestPartition,
        };
        let v = RevocationView::of(&CertStatus::Unknown {
            reason: jpki::UnknownReason::Stale,
            freshness: Some(f),
        });
        assert_eq!(v.status, "unknown");
        assert_eq!(v.reason_code, Some("TRY_LATER"));
        assert_eq!(v.source_basis, Some("stalest_partition"));
        let v = RevocationView::of(&CertStatus::unknown(jpki::UnknownReason::NoIndex));
        assert_eq!(v.source_updated_at, None);
        assert_eq!(v.source_basis, None);
    }

    #[test]
    fn no_candidates_from_garbage() {
        assert!(partition_candidates(b"not a certificate", &Default::default()).is_empty());
        assert_eq!(
            record_partition(None, b"not a certificate", &Default::default()),
            None
        );
    }
}
