//! Prometheus node-exporter textfile output, written atomically after each run.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::outcome::RunSummary;

/// Writes the run's metrics to `path` (temp file + rename, so the exporter never reads half a file).
pub fn write_textfile(path: &Path, summary: &RunSummary, now: i64) -> std::io::Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# HELP crl_sync_last_run_timestamp_seconds When crl-sync last ran."
    );
    let _ = writeln!(s, "# TYPE crl_sync_last_run_timestamp_seconds gauge");
    let _ = writeln!(s, "crl_sync_last_run_timestamp_seconds {now}");
    let _ = writeln!(
        s,
        "# HELP crl_sync_last_run_exit_code Exit code of the last run (0 ok, 2 rejected, 3 unreachable, 1 other)."
    );
    let _ = writeln!(s, "# TYPE crl_sync_last_run_exit_code gauge");
    let _ = writeln!(s, "crl_sync_last_run_exit_code {}", summary.exit_code);
    let _ = writeln!(
        s,
        "# HELP crl_sync_partition_status Partition outcome of the last run (1 for the current status)."
    );
    let _ = writeln!(s, "# TYPE crl_sync_partition_status gauge");
    for p in &summary.partitions {
        let _ = writeln!(
            s,
            "crl_sync_partition_status{{partition=\"{}\",status=\"{}\"}} 1",
            escape(&p.partition),
            p.status
        );
    }
    let _ = writeln!(
        s,
        "# HELP crl_sync_partition_next_update_timestamp_seconds nextUpdate of the partition's CRL."
    );
    let _ = writeln!(s, "# TYPE crl_sync_partition_next_update_timestamp_seconds gauge");
    for p in &summary.partitions {
        if let Some(n) = p.next_update {
            let _ = writeln!(
                s,
                "crl_sync_partition_next_update_timestamp_seconds{{partition=\"{}\"}} {n}",
                escape(&p.partition)
            );
        }
    }
    let _ = writeln!(
        s,
        "# HELP crl_sync_snapshot_entries Entries in the snapshot of a CA key."
    );
    let _ = writeln!(s, "# TYPE crl_sync_snapshot_entries gauge");
    for sn in &summary.snapshots {
        let _ = writeln!(
            s,
            "crl_sync_snapshot_entries{{issuer_key_id=\"{}\"}} {}",
            sn.issuer_key_id, sn.entries
        );
        let _ = writeln!(
            s,
            "crl_sync_snapshot_delta_added{{issuer_key_id=\"{}\"}} {}",
            sn.issuer_key_id, sn.added
        );
        let _ = writeln!(
            s,
            "crl_sync_snapshot_build_seconds{{issuer_key_id=\"{}\"}} {:.3}",
            sn.issuer_key_id, sn.seconds
        );
    }
    write_file_atomically(path, s.as_bytes())
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsync and rename.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
