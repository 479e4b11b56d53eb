//! Operator commands behind the CLI, run against Redis without starting a server:
//!
//! - `sp-gateway webhooks dead-letters list --config FILE [--sp ID]`: the dead letters as JSON
//!   lines ([`crate::webhooks::dead_letters`]);
//! - `sp-gateway webhooks dead-letters replay --config FILE [--sp ID] [--id ENTRY_ID...]`: puts
//!   them back in the outbox with the same event id, one JSON line per dead letter;
//! - `sp-gateway consents reindex --config FILE`: rebuilds the consents' by-serial index
//!   ([`crate::consent_index`]) and prints what it did.
//!
//! Each change is audited as an `admin_action` by `operator-cli`. The records go to their own
//! hash-chained log, by default beside the configured one (`gateway-audit.jsonl` →
//! `gateway-audit.operator.jsonl`; `--audit-log` chooses another): a running gateway holds the
//! chain of its own log in memory, and a second writer appending to that file would break it.
//! `sp-gateway audit verify` checks either log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::audit::AuditLog;
use crate::config::{Config, ConfigError};
use crate::consent_index::BackfillReport;
use crate::store::{Store, StoreError};
use crate::webhooks::dead_letters;

/// Who the audit records name for a change made from the command line.
pub const OPERATOR_CLI: &str = "operator-cli";

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Redis could not be used; nothing more was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operator audit log could not be opened.
    #[error("audit log {path}: {source}")]
    Audit {
        /// The log.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A dead-letter id is not a stream entry id (`<ms>-<seq>`); nothing was replayed.
    #[error("{0:?} is not a dead-letter entry id (<ms>-<seq>, as `list` prints it)")]
    InvalidEntryId(String),
    /// Standard output could not be written.
    #[error("writing the output: {0}")]
    Output(#[source] std::io::Error),
}

impl AdminError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Config(_) => "CONFIG",
            AdminError::Store(_) => "STORE_UNAVAILABLE",
            AdminError::Audit { .. } => "AUDIT_LOG",
            AdminError::InvalidEntryId(_) => "INVALID_ENTRY_ID",
            AdminError::Output(_) => "OUTPUT",
        }
    }

    /// The process exit code: 2 bad configuration, 64 bad arguments, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            AdminError::Config(_) => 2,
            AdminError::InvalidEntryId(_) => 64,
            _ => 1,
        }
    }
}

/// The operator audit log beside `audit_log`: `x.jsonl` → `x.operator.jsonl`.
pub fn operator_audit_path(audit_log: &Path) -> PathBuf {
    let stem = audit_log
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audit".to_owned());
    let name = match audit_log.extension() {
        Some(ext) => format!("{stem}.operator.{}", ext.to_string_lossy()),
        None => format!("{stem}.operator"),
    };
    audit_log.with_file_name(name)
}

/// A store for one operator command: the configured Redis, with room for longer calls than a
/// request's.
fn store(cfg: &Config) -> Result<Store, AdminError> {
    let timeout = Duration::from_millis(cfg.redis.timeout_ms.max(5000));
    Ok(Store::connect(&cfg.redis.url, timeout, &cfg.redis.prefix)?)
}

fn open_audit(path: &Path) -> Result<AuditLog, AdminError> {
    AuditLog::open(path).map_err(|source| AdminError::Audit {
        path: path.to_owned(),
        source,
    })
}

fn line(out: &mut impl Write, v: &impl serde::Serialize) -> Result<(), AdminError> {
    let text = serde_json::to_string(v).map_err(|e| AdminError::Output(std::io::Error::other(e)))?;
    writeln!(out, "{text}").map_err(AdminError::Output)
}

/// `webhooks dead-letters list`: one JSON line per dead letter (of `sp` when given).
pub async fn list_dead_letters(
    cfg: &Config,
    sp: Option<&str>,
    out: &mut impl Write,
) -> Result<u64, AdminError> {
    let store = store(cfg)?;
    let mut written = Ok(());
    let n = dead_letters::list(&store, sp, |d| {
        if written.is_ok() {
            written = line(out, d);
        }
    })
    .await?;
    written?;
    Ok(n)
}

/// `webhooks dead-letters replay`: requeues the dead letters `ids` (all when empty; of `sp`
/// when given), one JSON line each, audited in `audit_log`. Returns how many were requeued.
pub async fn replay_dead_letters(
    cfg: &Config,
    sp: Option<&str>,
    ids: &[String],
    audit_log: &Path,
    out: &mut impl Write,
) -> Result<u64, AdminError> {
    if let Some(bad) = ids.iter().find(|i| !dead_letters::valid_entry_id(i)) {
        return Err(AdminError::InvalidEntryId(bad.clone()));
    }
    let store = store(cfg)?;
    let audit = open_audit(audit_log)?;
    let mut written = Ok(());
    let done = dead_letters::replay(&store, sp, ids, &audit, OPERATOR_CLI, |r| {
        if written.is_ok() {
            written = line(out, r);
        }
    })
    .await;
    // Whatever happened, the records of the replays made are on disk before the answer.
    audit.close();
    let n = done?;
    written?;
    Ok(n)
}

/// `consents reindex`: rebuilds the by-serial consent index, audited in `audit_log`.
pub async fn reindex_consents(
    cfg: &Config,
    audit_log: &Path,
    out: &mut impl Write,
) -> Result<BackfillReport, AdminError> {
    let store = store(cfg)?;
    let audit = open_audit(audit_log)?;
    let done = crate::consent_index::reindex(&store, crate::consent_index::DEFAULT_BATCH).await;
    if let Ok(r) = &done {
        audit.record(
            "admin_action",
            None,
            json!({
                "who": OPERATOR_CLI,
                "what": "consent_index_reindex",
                "version": crate::consent_index::FORMAT_VERSION,
                "report": r,
            }),
        );
    }
    audit.close();
    let report = done?;
    line(out, &report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_log_sits_beside_the_configured_one() {
        assert_eq!(
            operator_audit_path(Path::new("/var/log/jpki-pf/gateway-audit.jsonl")),
            PathBuf::from("/var/log/jpki-pf/gateway-audit.operator.jsonl")
        );
        assert_eq!(
            operator_audit_path(Path::new("audit")),
            PathBuf::from("audit.operator")
        );
    }
}
