//! [`SnapshotSource`]: revocation answered from a directory of `revocation` snapshots (what
//! `crl-sync` writes), through the platform's one answer rule ([`revocation::status`]): the same
//! answer the gateway and the OCSP responder give for the same certificate, snapshot, instant
//! and grace. An unreadable or empty directory answers "unknown", never "good".

use std::path::Path;

use jpki::{CertStatus, Serial, UnknownReason};
use revocation::{Policy, SnapshotSet};
use verifier::RevocationSource;

/// A revocation source over a snapshot directory, or the reason it could not be opened.
#[derive(Debug)]
pub struct SnapshotSource {
    set: Result<SnapshotSet, String>,
    policy: Policy,
}

impl SnapshotSource {
    /// Opens the newest snapshot of every CA key in `dir`. An unreadable directory is not an
    /// error here: every answer is then "unknown" with the reason, so the verdict is
    /// indeterminate, never valid.
    pub fn open(dir: &Path, policy: Policy) -> SnapshotSource {
        let set = SnapshotSet::open_dir(dir)
            .map_err(|e| format!("the CRL snapshot {} could not be read: {e}", dir.display()))
            .and_then(|s| {
                if s.is_empty() {
                    Err(format!("the CRL snapshot {} holds no snapshot", dir.display()))
                } else {
                    Ok(s)
                }
            });
        SnapshotSource { set, policy }
    }

    /// Why the snapshot could not be used, if it could not.
    pub fn error(&self) -> Option<&str> {
        self.set.as_ref().err().map(String::as_str)
    }
}

impl RevocationSource for SnapshotSource {
    fn status(
        &self,
        issuer_key_id: &[u8],
        serial: &Serial,
        crl_points: &[String],
        at_unix: i64,
    ) -> CertStatus {
        match &self.set {
            Ok(set) => set.status(issuer_key_id, serial, at_unix, crl_points, self.policy),
            Err(why) => CertStatus::unknown(UnknownReason::Unavailable(why.clone())),
        }
    }
}
