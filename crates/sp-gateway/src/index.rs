//! The live revocation index: the snapshot set crl-sync writes, held in a
//! [`revocation::SnapshotHolder`] and swapped in (lock-free for readers) when a newer file
//! appears, and the answers built from it.
//!
//! Answer rules (the same for KYC verifications and status checks):
//! - **revoked** when the serial is listed under its CA key, whatever the freshness (J-LIS never
//!   un-revokes);
//! - **good** when it is not listed and the freshness that applies is still valid: `now` before
//!   nextUpdate + `grace_secs`;
//! - **unknown** (`TRY_LATER`) otherwise: no set loaded, no snapshot for the CA key, or stale.
//!
//! Freshness is per CRL partition (J-LIS splits CRLs per municipality):
//! - a **listed** certificate is answered with the thisUpdate/nextUpdate of the partition whose
//!   CRL listed it;
//! - a **not listed** certificate uses the partition that covers it, when that is known and the
//!   loaded snapshot of its CA key has it:
//!   - at KYC and login the certificate is at hand, and its cRLDistributionPoints name the
//!     partition: a partition whose id is the distribution point itself (a URI, or a DirName
//!     written as `C=JP, O=JPKI, …, CN=…`), or the one `index.crl_dp_partitions` maps it to;
//!   - later status checks (by verification id, user id or serial) use the partition recorded
//!     when the certificate was registered ([`own_partition`], kept in the sealed id and in
//!     Redis beside the certificate, see [`crate::ids::CertRef`]);
//! - otherwise (no partition recorded, as for certificates registered before partitions were
//!   recorded or whose partition id is too long to record; no mapping; or a partition the
//!   snapshot does not have) the CA key's **stalest** partition: one stale municipality CRL
//!   makes every such answer unknown (fail closed).
//!
//! So when one partition's CRL fails to refresh, only the certificates of that partition (and
//! those whose partition is not known) answer `unknown`; the others of the same CA key stay
//! `good`, with their own partition's thisUpdate/nextUpdate.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use jpki::{Reason, Serial};
use revocation::{SnapshotHolder, SnapshotSet};
use serde::Serialize;
use verifier::{RevocationSource, RevocationStatus};

/// The CRL facts an answer was based on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// CRL thisUpdate, unix seconds.
    pub this_update: i64,
    /// CRL nextUpdate, unix seconds.
    pub next_update: i64,
}

/// The status of one certificate, as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not revoked, from a fresh CRL.
    Good(Freshness),
    /// Revoked.
    Revoked {
        /// revocationDate, unix seconds.
        revoked_at: i64,
        /// reasonCode.
        reason: Option<Reason>,
        /// The CRL it was read from.
        freshness: Option<Freshness>,
    },
    /// Cannot tell: answer `TRY_LATER`.
    Unknown {
        /// Why (operator-facing).
        why: &'static str,
        /// The stale CRL, when there is one.
        freshness: Option<Freshness>,
    },
}

/// The `revocation` object of responses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevocationView {
    /// `good`, `revoked` or `unknown`.
    pub status: &'static str,
    /// `crl` (the index), always: this gateway does not relay to OCSP.
    pub check_method: &'static str,
    /// The CRL's thisUpdate, RFC 3339.
    pub source_updated_at: Option<String>,
    /// The CRL's nextUpdate, RFC 3339.
    pub source_next_update: Option<String>,
    /// Revocation time, RFC 3339 (revoked only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// RFC 5280 reason name (revoked only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// `TRY_LATER` when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<&'static str>,
}

impl Status {
    /// The response form.
    pub fn view(&self) -> RevocationView {
        let fresh = |f: &Option<Freshness>| {
            (
                f.map(|f| rfc3339(f.this_update)),
                f.map(|f| rfc3339(f.next_update)),
            )
        };
        match self {
            Status::Good(f) => RevocationView {
                status: "good",
                check_method: "crl",
                source_updated_at: Some(rfc3339(f.this_update)),
                source_next_update: Some(rfc3339(f.next_update)),
                revoked_at: None,
                reason: None,
                reason_code: None,
            },
            Status::Revoked {
                revoked_at,
                reason,
                freshness,
            } => {
                let (u, n) = fresh(freshness);
                RevocationView {
                    status: "revoked",
                    check_method: "crl",
                    source_updated_at: u,
                    source_next_update: n,
                    revoked_at: Some(rfc3339(*revoked_at)),
                    reason: reason.map(Reason::rfc_name),
                    reason_code: None,
                }
            }
            Status::Unknown { freshness, .. } => {
                let (u, n) = fresh(freshness);
                RevocationView {
                    status: "unknown",
                    check_method: "crl",
                    source_updated_at: u,
                    source_next_update: n,
                    revoked_at: None,
                    reason: None,
                    reason_code: Some("TRY_LATER"),
                }
            }
        }
    }

    /// `good`, `revoked` or `unknown`.
    pub fn label(&self) -> &'static str {
        match self {
            Status::Good(_) => "good",
            Status::Revoked { .. } => "revoked",
            Status::Unknown { .. } => "unknown",
        }
    }
}

/// Looks a certificate up in one snapshot set at `now`, with no partition known for it.
pub fn status_in(set: Option<&SnapshotSet>, key_id: &[u8], serial: &Serial, now: i64, grace: i64) -> Status {
    status_in_partition(set, key_id, serial, now, grace, &[])
}

/// Looks a certificate up in one snapshot set at `now`; `partitions` are the partition ids the
/// certificate may belong to (from [`partition_candidates`]), the first one the snapshot has wins.
pub fn status_in_partition(
    set: Option<&SnapshotSet>,
    key_id: &[u8],
    serial: &Serial,
    now: i64,
    grace: i64,
    partitions: &[&str],
) -> Status {
    let Some(set) = set else {
        return Status::Unknown {
            why: "no revocation index is loaded",
            freshness: None,
        };
    };
    let Some(snap) = set.get(key_id) else {
        return Status::Unknown {
            why: "no CRL snapshot for the CA key",
            freshness: None,
        };
    };
    let of = |p: &revocation::PartitionMeta| Freshness {
        this_update: p.this_update,
        next_update: p.next_update,
    };
    if let Some(r) = snap.lookup(serial) {
        // The CRL that listed it (J-LIS never un-revokes, so its freshness does not change the answer).
        return Status::Revoked {
            revoked_at: r.revoked_at,
            reason: r.reason,
            freshness: snap.freshness_for(Some(r.partition)).map(of),
        };
    }
    let own = partitions.iter().find_map(|p| snap.partition_index(p));
    let freshness = snap.freshness_for(own).map(of);
    match freshness {
        Some(f) if now < f.next_update.saturating_add(grace.max(0)) && f.this_update <= now => {
            Status::Good(f)
        }
        Some(f) => Status::Unknown {
            why: "the CRL is past its nextUpdate (or not yet valid)",
            freshness: Some(f),
        },
        None => Status::Unknown {
            why: "the CRL snapshot has no partition",
            freshness: None,
        },
    }
}

/// A [`RevocationSource`] over one loaded set that remembers the last answer, so the response
/// can carry `check_method` and `source_updated_at` whatever the verdict.
#[derive(Debug)]
pub struct IndexSource<'a> {
    set: Option<&'a SnapshotSet>,
    grace: i64,
    partitions: Vec<String>,
    point_map: Option<&'a HashMap<String, String>>,
    last: Cell<Option<Freshness>>,
    looked_up: Cell<bool>,
    /// The partition ids the last lookup tried for the certificate (see [`IndexSource::points`]).
    points: RefCell<Vec<String>>,
}

impl<'a> IndexSource<'a> {
    /// A source over `set`.
    pub fn new(set: Option<&'a SnapshotSet>, grace: i64) -> IndexSource<'a> {
        IndexSource {
            set,
            grace,
            partitions: Vec::new(),
            point_map: None,
            last: Cell::new(None),
            looked_up: Cell::new(false),
            points: RefCell::new(Vec::new()),
        }
    }

    /// Partition ids the certificate being verified belongs to, tried before the ones its
    /// cRLDistributionPoints name.
    pub fn with_partitions(mut self, partitions: Vec<String>) -> IndexSource<'a> {
        self.partitions = partitions;
        self
    }

    /// How cRLDistributionPoints names map to crl-sync partition ids (`[index]
    /// crl_dp_partitions`); a name without an entry is tried as a partition id as is.
    pub fn with_point_map(mut self, map: &'a HashMap<String, String>) -> IndexSource<'a> {
        self.point_map = Some(map);
        self
    }

    /// The freshness of the CRL the verifier's lookup used, if it made one.
    pub fn freshness(&self) -> Option<Freshness> {
        self.last.get()
    }

    /// Whether the verifier got as far as the revocation check.
    pub fn was_consulted(&self) -> bool {
        self.looked_up.get()
    }

    /// The partition ids the verifier's lookup tried for the certificate, in order (those given
    /// with [`IndexSource::with_partitions`], then its cRLDistributionPoints, mapped): the
    /// [`partition_candidates`] of the verified certificate, without parsing it again.
    pub fn points(&self) -> Vec<String> {
        self.points.borrow().clone()
    }
}

impl RevocationSource for IndexSource<'_> {
    fn status(&self, issuer_key_id: &[u8], serial: &Serial, at_unix: i64) -> RevocationStatus {
        self.status_at_points(issuer_key_id, serial, &[], at_unix)
    }

    fn status_at_points(
        &self,
        issuer_key_id: &[u8],
        serial: &Serial,
        crl_points: &[String],
        at_unix: i64,
    ) -> RevocationStatus {
        self.looked_up.set(true);
        let mapped = crl_points.iter().map(|p| match self.point_map {
            Some(map) => map.get(p).unwrap_or(p).as_str(),
            None => p.as_str(),
        });
        let candidates: Vec<&str> = self.partitions.iter().map(String::as_str).chain(mapped).collect();
        *self.points.borrow_mut() = candidates.iter().map(|p| (*p).to_owned()).collect();
        match status_in_partition(self.set, issuer_key_id, serial, at_unix, self.grace, &candidates) {
            Status::Good(f) => {
                self.last.set(Some(f));
                RevocationStatus::Good {
                    source_updated_at: f.this_update,
                    check_method: "crl".to_owned(),
                }
            }
            Status::Revoked {
                revoked_at,
                reason,
                freshness,
            } => {
                self.last.set(freshness);
                RevocationStatus::Revoked { revoked_at, reason }
            }
            Status::Unknown { why, freshness } => {
                self.last.set(freshness);
                RevocationStatus::Unknown { why: why.to_owned() }
            }
        }
    }
}

/// The index a server answers from, with its directory.
#[derive(Debug)]
pub struct Index {
    holder: SnapshotHolder,
    dir: PathBuf,
    grace: i64,
}

impl Index {
    /// An index over `dir`, loaded at once if possible (an empty or missing directory leaves it
    /// unloaded: not ready, every answer unknown).
    pub fn open(dir: PathBuf, grace: i64) -> Index {
        let idx = Index {
            holder: SnapshotHolder::with_private_copies(),
            dir,
            grace,
        };
        if let Err(e) = idx.reload() {
            tracing::warn!(dir = %idx.dir.display(), error = %e, "revocation index not loaded yet");
        }
        idx
    }

    /// Loads the directory again if a newer snapshot appeared; `Ok(true)` when it swapped.
    pub fn reload(&self) -> revocation::Result<bool> {
        self.holder.reload_if_changed(&self.dir)
    }

    /// The current set, for one request.
    pub fn load(&self) -> Option<Arc<SnapshotSet>> {
        self.holder.load_full()
    }

    /// Grace past nextUpdate.
    pub fn grace(&self) -> i64 {
        self.grace
    }

    /// Ready: a non-empty set is loaded and every partition is fresh.
    pub fn is_ready(&self, now: i64) -> bool {
        self.holder.is_fresh(now, self.grace)
    }

    /// The stalest partition's thisUpdate and nextUpdate (metrics).
    pub fn stalest(&self) -> Option<Freshness> {
        self.holder.stalest_partition().map(|p| Freshness {
            this_update: p.this_update,
            next_update: p.next_update,
        })
    }
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

/// The partition to record for a certificate (DER) registered under `key_id`, so that its later
/// status checks use it: among its [`partition_candidates`] that fit in an id
/// ([`crate::ids::partition_fits`]), the first one the loaded snapshot of the key has, else the
/// first one (a snapshot may add it later; until then checks fail closed on the stalest
/// partition), else `None`.
pub fn own_partition(
    set: Option<&SnapshotSet>,
    key_id: Option<&[u8]>,
    der: &[u8],
    map: &HashMap<String, String>,
) -> Option<String> {
    choose_partition(set, key_id, &partition_candidates(der, map))
}

/// [`own_partition`] from the certificate's [`partition_candidates`] already at hand (e.g.
/// [`IndexSource::points`] after a verification).
pub fn choose_partition(
    set: Option<&SnapshotSet>,
    key_id: Option<&[u8]>,
    candidates: &[String],
) -> Option<String> {
    let fitting = || candidates.iter().filter(|p| crate::ids::partition_fits(p));
    let snap = set.zip(key_id).and_then(|(set, key)| set.get(key));
    snap.and_then(|snap| fitting().find(|p| snap.partition_index(p).is_some()))
        .or_else(|| fitting().next())
        .cloned()
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    verifier::report::rfc3339(unix)
}

/// Now, unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use revocation::{IndexBuilder, PartitionMeta};

    use super::*;

    const KEY: &[u8] = b"ca-key-id";
    const NOW: i64 = 1_800_000_000;

    fn meta(id: &str, this_update: i64, next_update: i64) -> PartitionMeta {
        PartitionMeta {
            id: id.to_owned(),
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

    fn serial_of(n: u64) -> Serial {
        serial(u8::try_from(n).unwrap())
    }

    fn freshness(s: &Status) -> Option<Freshness> {
        match s {
            Status::Good(f) => Some(*f),
            Status::Revoked { freshness, .. } | Status::Unknown { freshness, .. } => *freshness,
        }
    }

    #[test]
    fn answers_use_the_freshness_of_their_own_partition() {
        let set = set();
        let fresh = Freshness {
            this_update: NOW - 600,
            next_update: NOW + 3600,
        };
        let stale = Freshness {
            this_update: NOW - 7200,
            next_update: NOW - 60,
        };
        let at = |serial: u64, parts: &[&str]| {
            status_in_partition(Some(&set), KEY, &serial_of(serial), NOW, 0, parts)
        };
        // Listed: the partition that listed it, not the stalest.
        let r = at(5, &[]);
        assert!(matches!(
            r,
            Status::Revoked {
                reason: Some(Reason::KeyCompromise),
                ..
            }
        ));
        assert_eq!(freshness(&r), Some(fresh));
        assert_eq!(freshness(&at(7, &["fresh"])), Some(stale));
        // Not listed, in the fresh partition: good with that CRL's dates.
        assert_eq!(at(6, &["fresh"]), Status::Good(fresh));
        assert_eq!(at(6, &["no-such-partition", "fresh"]), Status::Good(fresh));
        // Not listed, partition unknown or stale: unknown (fail closed on the stalest).
        for parts in [&[][..], &["no-such-partition"][..], &["stale"][..]] {
            let s = at(6, parts);
            assert!(matches!(s, Status::Unknown { .. }), "{parts:?}: {s:?}");
            assert_eq!(freshness(&s), Some(stale));
        }
        assert_eq!(status_in(Some(&set), KEY, &serial(6), NOW, 0), at(6, &[]));
        // The verifier's source carries the partitions too.
        let src = IndexSource::new(Some(&set), 0).with_partitions(vec!["fresh".into()]);
        assert!(matches!(
            src.status(KEY, &serial(6), NOW),
            RevocationStatus::Good { source_updated_at, .. } if source_updated_at == NOW - 600
        ));
        let src = IndexSource::new(Some(&set), 0);
        assert!(matches!(
            src.status(KEY, &serial(6), NOW),
            RevocationStatus::Unknown { .. }
        ));
        assert!(src.points().is_empty());
        // The partitions the lookup tried, mapped, are what a registration records.
        let map = HashMap::from([("ldap-dn-of-fresh".to_owned(), "fresh".to_owned())]);
        let src = IndexSource::new(Some(&set), 0).with_point_map(&map);
        let points = ["no-such-partition".to_owned(), "ldap-dn-of-fresh".to_owned()];
        assert!(matches!(
            src.status_at_points(KEY, &serial(6), &points, NOW),
            RevocationStatus::Good { .. }
        ));
        assert_eq!(src.points(), vec!["no-such-partition", "fresh"]);
        assert_eq!(
            choose_partition(Some(&set), Some(KEY), &src.points()).as_deref(),
            Some("fresh")
        );
        assert_eq!(
            choose_partition(Some(&set), Some(KEY), &["no-such-partition".to_owned()]).as_deref(),
            Some("no-such-partition")
        );
        assert_eq!(choose_partition(Some(&set), Some(KEY), &[]), None);
    }

    #[test]
    fn no_candidates_from_garbage() {
        assert!(partition_candidates(b"not a certificate", &Default::default()).is_empty());
        let set = set();
        assert_eq!(
            own_partition(Some(&set), Some(KEY), b"not a certificate", &Default::default()),
            None
        );
        assert_eq!(own_partition(None, None, b"", &Default::default()), None);
    }
}
