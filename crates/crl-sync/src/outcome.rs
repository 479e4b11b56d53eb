//! What a crl-sync run tells cron: the exit code contract and the JSON summary.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | every partition updated or unchanged |
//! | 2 | an input was rejected (signature, parse, rollback, stale, too large); the current snapshot keeps serving |
//! | 3 | an upstream was unreachable (after bounded retries) |
//! | 1 | anything else (configuration, disk, Redis) |

use serde::Serialize;

use crate::error::CrlError;
use crate::fetch::FetchError;

/// Why a run (or one partition of it) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The CRL was rejected.
    #[error("{partition}: {source}")]
    Rejected {
        /// Partition id (or the file name for `ingest`).
        partition: String,
        /// Why.
        source: CrlError,
    },
    /// No configured CA certificate matches the CRL (by key identifier, or by name and signature).
    #[error("{partition}: no configured CA certificate issued this CRL")]
    NoIssuer {
        /// Partition id.
        partition: String,
    },
    /// Fetch failed.
    #[error("{partition}: {source}")]
    Fetch {
        /// Partition id.
        partition: String,
        /// Why.
        source: FetchError,
    },
    /// Reading or writing snapshots failed.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// Another crl-sync holds the snapshot directory.
    #[error("snapshot: {0}")]
    Busy(String),
    /// Reading an input file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Publishing the delta failed (the snapshot itself is in place).
    #[error("delta publish: {0}")]
    Publish(String),
    /// Bad configuration or arguments.
    #[error("{0}")]
    Config(String),
}

impl SyncError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Rejected { source, .. } => source.code(),
            SyncError::NoIssuer { .. } => "CRL_NO_MATCHING_ISSUER",
            SyncError::Fetch { source, .. } => source.code(),
            SyncError::Snapshot(_) => "SNAPSHOT_IO",
            SyncError::Busy(_) => "SNAPSHOT_DIR_BUSY",
            SyncError::Io { .. } => "INPUT_IO",
            SyncError::Publish(_) => "DELTA_PUBLISH",
            SyncError::Config(_) => "CONFIG",
        }
    }

    /// The process exit code for this error (see the module table).
    pub fn exit_code(&self) -> i32 {
        match self {
            SyncError::Rejected { .. } | SyncError::NoIssuer { .. } => 2,
            SyncError::Fetch {
                source: FetchError::TooLarge { .. },
                ..
            } => 2,
            SyncError::Fetch {
                source: FetchError::Unreachable { .. } | FetchError::Status { .. },
                ..
            } => 3,
            _ => 1,
        }
    }
}

/// Per-partition result in the JSON summary.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionSummary {
    /// Partition id.
    pub partition: String,
    /// `updated`, `unchanged`, `not_modified` or `rejected` / `unreachable` / `failed`.
    pub status: &'static str,
    /// CRL number (hex) when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_number: Option<String>,
    /// Entries in this partition's CRL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// thisUpdate (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_update: Option<i64>,
    /// nextUpdate (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update: Option<i64>,
    /// Error code when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// Error message when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PartitionSummary {
    /// A partition that ended with `e`, reported with `status` (`rejected`, `unreachable` or
    /// `failed`) and nothing else known about its CRL.
    pub fn of_error(partition: &str, status: &'static str, e: &SyncError) -> PartitionSummary {
        PartitionSummary {
            partition: partition.to_owned(),
            status,
            crl_number: None,
            entries: None,
            this_update: None,
            next_update: None,
            error_code: Some(e.code()),
            error: Some(e.to_string()),
        }
    }
}

/// Per-CA-key result in the JSON summary.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotSummary {
    /// Issuer key identifier (hex).
    pub issuer_key_id: String,
    /// The snapshot file now current (None when nothing changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The snapshot file it replaced, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_snapshot: Option<String>,
    /// Entries in the snapshot.
    pub entries: u64,
    /// Newly revoked since the previous snapshot.
    pub added: u64,
    /// Left the list since the previous snapshot.
    pub removed: u64,
    /// `revoked` events appended to Redis (None when no Redis is configured or nothing changed;
    /// 0 for a CA key's first snapshot, which appends baseline markers instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_published: Option<u64>,
    /// Seconds spent building and writing (delta included).
    pub seconds: f64,
    /// Seconds spent computing the delta against the previous snapshot.
    pub delta_seconds: f64,
}

/// A partition published as a baseline (its first snapshot): one marker in the stream instead of
/// one event per entry (see [`crate::publish`]).
#[derive(Clone, Debug, Serialize)]
pub struct BaselineSummary {
    /// Issuer key identifier (hex).
    pub issuer_key_id: String,
    /// Partition id.
    pub partition: String,
    /// Its CRL number (hex), when the CRL has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_number: Option<String>,
    /// Entries its CRL listed, none of them published as events.
    pub entries: u64,
}

/// The whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    /// `ok`, `rejected`, `unreachable` or `failed`.
    pub status: &'static str,
    /// Exit code the process returns.
    pub exit_code: i32,
    /// Partitions.
    pub partitions: Vec<PartitionSummary>,
    /// Snapshots written or kept.
    pub snapshots: Vec<SnapshotSummary>,
    /// Baseline markers appended to Redis by this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<BaselineSummary>,
}

impl RunSummary {
    /// Folds an error into the run's status: the worst exit code wins (2 and 3 over 0; 1 over all).
    pub fn note_error(&mut self, err: &SyncError) {
        let code = err.exit_code();
        let rank = |c: i32| match c {
            0 => 0,
            3 => 1,
            2 => 2,
            _ => 3,
        };
        if rank(code) > rank(self.exit_code) {
            self.exit_code = code;
        }
        self.status = match self.exit_code {
            0 => "ok",
            2 => "rejected",
            3 => "unreachable",
            _ => "failed",
        };
    }
}

/// Takes the snapshot directory's writer lock (cleaning up interrupted writes), or says why not.
pub fn lock_snapshot_dir(dir: &std::path::Path) -> Result<revocation::WriterLock, SyncError> {
    match revocation::WriterLock::acquire(dir) {
        Ok(lock) => {
            if lock.removed_temp_files() > 0 {
                tracing::warn!(
                    removed = lock.removed_temp_files(),
                    "removed temporary files of an interrupted earlier run"
                );
            }
            Ok(lock)
        }
        Err(e @ revocation::Error::Busy { .. }) => Err(SyncError::Busy(e.to_string())),
        Err(e) => Err(SyncError::Snapshot(e.to_string())),
    }
}
