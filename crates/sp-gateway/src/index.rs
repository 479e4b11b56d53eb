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
//! The freshness is the CA key's stalest partition. Certificates name their partition only as a
//! DirName in cRLDistributionPoints, which crl-sync does not record against partition ids, so
//! the conservative choice is taken: one stale municipality CRL makes the whole CA key unknown.

use std::cell::Cell;
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

/// Looks a certificate up in one snapshot set at `now`.
pub fn status_in(set: Option<&SnapshotSet>, key_id: &[u8], serial: &Serial, now: i64, grace: i64) -> Status {
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
    let freshness = snap.stalest_partition().map(|p| Freshness {
        this_update: p.this_update,
        next_update: p.next_update,
    });
    if let Some(r) = snap.lookup(serial) {
        return Status::Revoked {
            revoked_at: r.revoked_at,
            reason: r.reason,
            freshness,
        };
    }
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
    last: Cell<Option<Freshness>>,
    looked_up: Cell<bool>,
}

impl<'a> IndexSource<'a> {
    /// A source over `set`.
    pub fn new(set: Option<&'a SnapshotSet>, grace: i64) -> IndexSource<'a> {
        IndexSource {
            set,
            grace,
            last: Cell::new(None),
            looked_up: Cell::new(false),
        }
    }

    /// The freshness of the CRL the verifier's lookup used, if it made one.
    pub fn freshness(&self) -> Option<Freshness> {
        self.last.get()
    }

    /// Whether the verifier got as far as the revocation check.
    pub fn was_consulted(&self) -> bool {
        self.looked_up.get()
    }
}

impl RevocationSource for IndexSource<'_> {
    fn status(&self, issuer_key_id: &[u8], serial: &Serial, at_unix: i64) -> RevocationStatus {
        self.looked_up.set(true);
        match status_in(self.set, issuer_key_id, serial, at_unix, self.grace) {
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
            holder: SnapshotHolder::new(),
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

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    verifier::report::rfc3339(unix)
}

/// Now, unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
