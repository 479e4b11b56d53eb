//! The delta outbox: deltas whose events could not be appended to Redis (Redis down, a transaction
//! refused), kept in the snapshot directory until a later run publishes them.
//!
//! The snapshot is written before its delta is published, and the next run sees the same CRL as
//! unchanged (or gets a 304), so without the outbox the events of a failed publish would never be
//! sent and the 4-info relay would miss those revocations. A pending delta is recorded by the two
//! snapshot files it lies between, not by its events, so the file stays small; the next run
//! recomputes the delta (or, for a CA key's first snapshot, only its baseline markers) and
//! publishes it under the same (CA key, CRL numbers) marker, before anything newer, so a retry
//! adds nothing twice and the stream keeps its order. A pending delta whose snapshot files were
//! pruned meanwhile (more failed runs than `keep_snapshots`) cannot be rebuilt: it is dropped
//! with an error.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::outcome::SyncError;
use crate::publish::Publication;

/// The outbox file in the snapshot directory.
pub const OUTBOX_FILE: &str = "delta-outbox.json";

/// One delta not yet published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDelta {
    /// CA key id, hex.
    pub issuer_key_id: String,
    /// The marker's CRL numbers (hex, joined with `+`), as the first attempt used.
    pub crl_numbers: String,
    /// The previous snapshot's file name; `None` when the delta starts from nothing.
    pub from: Option<String>,
    /// The new snapshot's file name.
    pub to: String,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SyncError {
    SyncError::Publish(format!("{}: {e}", path.display()))
}

/// The pending deltas in `dir`, oldest first (none when there is no outbox file).
pub fn read(dir: &Path) -> Result<Vec<PendingDelta>, SyncError> {
    let path = dir.join(OUTBOX_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io_err(&path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(&path, e)),
    }
}

/// Replaces the outbox of `dir` with `pending` (atomically), or removes it when empty.
pub fn write(dir: &Path, pending: &[PendingDelta]) -> Result<(), SyncError> {
    let path = dir.join(OUTBOX_FILE);
    if pending.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&path, e)),
            _ => Ok(()),
        };
    }
    let bytes = serde_json::to_vec_pretty(pending).map_err(|e| io_err(&path, e))?;
    crate::metrics::write_file_atomically(&path, &bytes).map_err(|e| io_err(&path, e))
}

/// Recomputes what a pending delta publishes from its snapshot files in `dir`: from nothing
/// (`from` is `None`), only the baseline markers of the new snapshot's partitions, never a delta
/// of every entry (see [`crate::publish`]).
pub fn load_publication(dir: &Path, pending: &PendingDelta) -> Result<Publication, SyncError> {
    let lost = |e: &dyn std::fmt::Display| {
        SyncError::Publish(format!(
            "the delta for CRL {} of key {} cannot be rebuilt and is lost: {e}",
            pending.crl_numbers, pending.issuer_key_id
        ))
    };
    let path_of = |name: &str| {
        // Only plain snapshot file names, never a path out of the directory.
        if revocation::parse_file_name(name).is_none() {
            return Err(SyncError::Publish(format!(
                "outbox: {name:?} is not a snapshot file name"
            )));
        }
        Ok(dir.join(name))
    };
    let to = path_of(&pending.to)?;
    let delta = match &pending.from {
        Some(from) => {
            let open = |p: &Path| revocation::Snapshot::open(p).map_err(|e| lost(&e));
            let old = open(&path_of(from)?)?;
            Some(revocation::delta(&old, &open(&to)?))
        }
        None => None,
    };
    crate::publish::publication(delta.as_ref(), &to).map_err(|e| lost(&e))
}

/// The file name of a snapshot path as the summary reports it.
pub fn file_name_of(path: &str) -> Option<String> {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_empty_removes_the_file() {
        let dir = std::env::temp_dir().join(format!("crl-sync-outbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read(&dir).unwrap().is_empty());
        let p = PendingDelta {
            issuer_key_id: "aa".into(),
            crl_numbers: "05".into(),
            from: None,
            to: revocation::file_name(&[0xAA], 1),
        };
        write(&dir, std::slice::from_ref(&p)).unwrap();
        assert_eq!(read(&dir).unwrap(), vec![p.clone()]);
        assert!(matches!(load_publication(&dir, &p), Err(SyncError::Publish(_))));
        let escape = PendingDelta {
            to: "../x".into(),
            ..p
        };
        assert!(load_publication(&dir, &escape).is_err());
        write(&dir, &[]).unwrap();
        assert!(!dir.join(OUTBOX_FILE).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
