//! [`SnapshotSource`]: revocation answered from a directory of `revocation` snapshots (what
//! `crl-sync` writes), for the `jpki-verify --crl-snapshot DIR` operator command.
//!
//! Answers: **revoked** when the serial is listed under the issuing CA key (whatever the
//! freshness: J-LIS never un-revokes); **good** when it is not listed and the CA key's stalest
//! CRL partition is still before its nextUpdate at the verification instant; **unknown** (so
//! `TRY_LATER`) when the directory could not be read, the CA key has no snapshot, or the CRL is
//! past nextUpdate. Never "good" from missing or stale data.

use std::path::Path;

use jpki::Serial;
use revocation::SnapshotSet;

use crate::revocation::{RevocationSource, RevocationStatus};

/// A revocation source over a snapshot directory, or the reason it could not be opened.
#[derive(Debug)]
pub struct SnapshotSource {
    set: Result<SnapshotSet, String>,
}

impl SnapshotSource {
    /// Opens the newest snapshot of every CA key in `dir`. An unreadable directory is not an
    /// error here: every answer is then "unknown" with the reason, so the verdict is
    /// indeterminate, never valid.
    pub fn open(dir: &Path) -> SnapshotSource {
        let set = SnapshotSet::open_dir(dir)
            .map_err(|e| format!("the CRL snapshot {} could not be read: {e}", dir.display()))
            .and_then(|s| {
                if s.is_empty() {
                    Err(format!("the CRL snapshot {} holds no snapshot", dir.display()))
                } else {
                    Ok(s)
                }
            });
        SnapshotSource { set }
    }

    /// Why the snapshot could not be used, if it could not.
    pub fn error(&self) -> Option<&str> {
        self.set.as_ref().err().map(String::as_str)
    }
}

impl RevocationSource for SnapshotSource {
    fn status(&self, issuer_key_id: &[u8], serial: &Serial, at_unix: i64) -> RevocationStatus {
        let set = match &self.set {
            Ok(s) => s,
            Err(why) => return RevocationStatus::Unknown { why: why.clone() },
        };
        let Some(snapshot) = set.get(issuer_key_id) else {
            return RevocationStatus::Unknown {
                why: format!("no CRL snapshot for CA key {}", hex::encode(issuer_key_id)),
            };
        };
        if let Some(rev) = snapshot.lookup(serial) {
            return RevocationStatus::Revoked {
                revoked_at: rev.revoked_at,
                reason: rev.reason,
            };
        }
        match snapshot.stalest_partition() {
            Some(p) if p.is_fresh(at_unix, 0) && p.this_update <= at_unix => RevocationStatus::Good {
                source_updated_at: p.this_update,
                check_method: "crl".to_owned(),
            },
            Some(p) => RevocationStatus::Unknown {
                why: format!(
                    "CRL partition {} (thisUpdate {}, nextUpdate {}) does not cover {}",
                    p.id,
                    crate::report::rfc3339(p.this_update),
                    crate::report::rfc3339(p.next_update),
                    crate::report::rfc3339(at_unix)
                ),
            },
            None => RevocationStatus::Unknown {
                why: "the CRL snapshot has no partition".to_owned(),
            },
        }
    }
}
