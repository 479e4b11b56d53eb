//! The `crl-sync` command line (contract in docs/ARCHITECTURE.md).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::build::{BuildOptions, CrlInput, build_snapshots};
use crate::outcome::{RunSummary, SyncError};

/// Fetches, verifies and indexes the J-LIS CRLs.
#[derive(Debug, Parser)]
#[command(name = "crl-sync", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every configured partition: fetch (conditional GET), verify, index, write, publish the delta.
    Run {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
        /// Pretend the current time is this (RFC 3339), for tests and replays.
        #[arg(long, value_parser = parse_time)]
        now: Option<i64>,
    },
    /// One CRL file, offline, into a snapshot directory (same rollback rules as `run`).
    Ingest {
        /// The CRL, DER or PEM.
        #[arg(long)]
        crl: PathBuf,
        /// The issuing CA certificate(s), PEM bundle or DER; several generations may share one DN.
        #[arg(long)]
        issuer: PathBuf,
        /// The snapshot directory.
        #[arg(long)]
        out: PathBuf,
        /// Partition id (default: from the CRL's issuingDistributionPoint, else `default`).
        #[arg(long)]
        partition: Option<String>,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
        /// Pretend the current time is this (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        now: Option<i64>,
        /// Largest CRL accepted, in bytes.
        #[arg(long, default_value_t = 2u64 << 30)]
        max_bytes: u64,
        /// Snapshot generations kept.
        #[arg(long, default_value_t = 3)]
        keep: usize,
    },
    /// The status of one serial in a snapshot directory.
    Lookup {
        /// The snapshot directory.
        #[arg(long)]
        snapshot: PathBuf,
        /// Serial in hex, as OpenSSL prints it (colons allowed).
        serial: String,
        /// Restrict to one CA key (hex key identifier).
        #[arg(long)]
        issuer_key_id: Option<String>,
        /// Pretend the current time is this (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        now: Option<i64>,
    },
}

fn parse_time(s: &str) -> Result<i64, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("not RFC 3339: {e}"))
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn progress_bar() -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} entries ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Runs the CLI and returns the process exit code.
pub fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Run { config, json, now } => {
            let cfg = match crate::config::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("crl-sync: {e}");
                    return 1;
                }
            };
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("crl-sync: cannot start the runtime: {e}");
                    return 1;
                }
            };
            let pb = progress_bar();
            let summary = rt.block_on(crate::run::run(&cfg, now.unwrap_or_else(now_unix), &pb));
            pb.finish_and_clear();
            report(&summary, json)
        }
        Command::Ingest {
            crl,
            issuer,
            out,
            partition,
            json,
            now,
            max_bytes,
            keep,
        } => {
            let summary = RunSummary {
                status: "ok",
                ..RunSummary::default()
            };
            let cas = match crate::run::read_certs(&issuer) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("crl-sync: {e}");
                    return 64;
                }
            };
            // Refuse an oversize file before reading it (room left for PEM armour and base64).
            let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
            let file_len = match std::fs::metadata(&crl) {
                Ok(m) => usize::try_from(m.len()).unwrap_or(usize::MAX),
                Err(e) => {
                    eprintln!("crl-sync: {}: {e}", crl.display());
                    return 64;
                }
            };
            if file_len > max.saturating_mul(3) / 2 + 4096 {
                let partition = partition.unwrap_or_else(|| "default".into());
                let mut built = crate::build::BuildReport::default();
                let e = SyncError::Rejected {
                    partition: partition.clone(),
                    source: crate::error::CrlError::TooLarge { size: file_len, max },
                };
                crate::build::reject(&mut built, &partition, e);
                return finish_ingest(summary, built, json);
            }
            if let Err(e) = std::fs::create_dir_all(&out) {
                eprintln!("crl-sync: {}: {e}", out.display());
                return 1;
            }
            let _lock = match crate::outcome::lock_snapshot_dir(&out) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("crl-sync: {e}");
                    return e.exit_code();
                }
            };
            let opts = BuildOptions {
                max_crl_bytes: max,
                max_skew_secs: 300,
                now: now.unwrap_or_else(now_unix),
                keep: keep.max(1),
                collect_deltas: false,
            };
            let pb = progress_bar();
            pb.set_message("indexing");
            // A large DER file is read once and never held whole; anything streaming does not
            // handle alike comes back to be read whole below.
            match crate::stream::StreamSource::open(&crl, max) {
                Ok(Some(src)) => {
                    let partition = partition
                        .clone()
                        .unwrap_or_else(|| default_partition(&src.skeleton().unwrap_or_default(), max));
                    match crate::build::build_streamed(&out, &cas, &partition, src, &opts, &pb) {
                        Ok(built) => {
                            pb.finish_and_clear();
                            return finish_ingest(summary, built, json);
                        }
                        Err(crate::build::StreamFallback::ReadWhole) => {}
                        Err(crate::build::StreamFallback::Io(e)) => {
                            eprintln!("crl-sync: {}: {e}", crl.display());
                            return 64;
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("crl-sync: {}: {e}", crl.display());
                    return 64;
                }
            }
            let limit = (max.saturating_mul(3) / 2 + 4096) as u64;
            let bytes = match crate::build::CrlBytes::read_file(&crl, limit) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("crl-sync: {}: {e}", crl.display());
                    return 64;
                }
            };
            let partition = partition.unwrap_or_else(|| default_partition(&bytes, max));
            let report_ = build_snapshots(&out, &cas, vec![CrlInput { partition, bytes }], &opts, &pb);
            pb.finish_and_clear();
            finish_ingest(summary, report_, json)
        }
        Command::Lookup {
            snapshot,
            serial,
            issuer_key_id,
            now,
        } => {
            let serial = match jpki::Serial::from_hex(&serial) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("crl-sync: bad serial: {e}");
                    return 64;
                }
            };
            let key = match issuer_key_id.as_deref().map(hex::decode).transpose() {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("crl-sync: bad --issuer-key-id: {e}");
                    return 64;
                }
            };
            match lookup(&snapshot, &serial, key.as_deref(), now.unwrap_or_else(now_unix)) {
                Ok(v) => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    0
                }
                Err(e) => {
                    eprintln!("crl-sync: {e}");
                    e.exit_code()
                }
            }
        }
    }
}

/// The partition an offline ingest files a CRL under when `--partition` is not given: named by
/// the CRL's issuingDistributionPoint (a per-municipality CRL names its own) as
/// `idp-<first 16 hex digits of its SHA-256>`, else `default`. Never by the file name: yesterday's
/// CRL saved under another name must still meet the rollback check.
pub fn default_partition(bytes: &[u8], max: usize) -> String {
    crate::parse::pem_or_der(bytes, max)
        .ok()
        .and_then(|der| {
            crate::parse::parse_crl(&der, max)
                .ok()
                .and_then(|h| h.issuing_distribution_point.map(openssl::sha::sha256))
        })
        .map(|h| format!("idp-{}", hex::encode(h.get(..8).unwrap_or_default())))
        .unwrap_or_else(|| "default".into())
}

fn finish_ingest(mut summary: RunSummary, built: crate::build::BuildReport, json: bool) -> i32 {
    for e in &built.errors {
        summary.note_error(e);
    }
    summary.partitions = built.partitions;
    summary.snapshots = built.snapshots;
    report(&summary, json)
}

fn report(summary: &RunSummary, json: bool) -> i32 {
    if json {
        println!("{}", serde_json::to_string_pretty(summary).unwrap_or_default());
    } else {
        for p in &summary.partitions {
            match &p.error {
                Some(e) => eprintln!("{}: {} ({})", p.partition, p.status, e),
                None => eprintln!("{}: {}", p.partition, p.status),
            }
        }
        for s in &summary.snapshots {
            eprintln!(
                "snapshot {}: {} entries (+{} -{}) in {:.2}s",
                s.issuer_key_id, s.entries, s.added, s.removed, s.seconds
            );
        }
    }
    summary.exit_code
}

/// The lookup answer: revoked in some CA key's snapshot; otherwise good only while every
/// considered partition is fresh, and unknown (fail closed) when one is past its nextUpdate.
pub fn lookup(
    dir: &std::path::Path,
    serial: &jpki::Serial,
    issuer_key_id: Option<&[u8]>,
    now: i64,
) -> Result<serde_json::Value, SyncError> {
    let set = revocation::SnapshotSet::open_dir(dir).map_err(|e| SyncError::Snapshot(e.to_string()))?;
    let snaps: Vec<&revocation::Snapshot> = set
        .snapshots()
        .filter(|s| issuer_key_id.is_none_or(|k| s.issuer_key_id() == k))
        .collect();
    if snaps.is_empty() {
        return Ok(
            json!({"serial": serial.to_hex(), "status": "unknown", "why": "no snapshot for this issuer"}),
        );
    }
    for s in &snaps {
        if let Some(r) = s.lookup(serial) {
            let part = s.partitions().get(usize::from(r.partition));
            return Ok(json!({
                "serial": serial.to_hex(),
                "status": "revoked",
                "reason": r.reason.map(|x| x.rfc_name()),
                "revoked_at": rfc3339(r.revoked_at),
                "issuer_key_id": hex::encode(s.issuer_key_id()),
                "partition": part.map(|p| p.id.clone()),
                "this_update": part.map(|p| rfc3339(p.this_update)),
                "next_update": part.map(|p| rfc3339(p.next_update)),
            }));
        }
    }
    // Not listed: as fresh as the stalest partition considered.
    let stalest = snaps
        .iter()
        .flat_map(|s| s.partitions().iter())
        .min_by_key(|p| p.next_update);
    let (this_update, next_update) = stalest.map(|p| (p.this_update, p.next_update)).unwrap_or((0, 0));
    let status = if next_update > now { "good" } else { "unknown" };
    let mut v = json!({
        "serial": serial.to_hex(),
        "status": status,
        "this_update": rfc3339(this_update),
        "next_update": rfc3339(next_update),
    });
    if status == "unknown"
        && let Some(m) = v.as_object_mut()
    {
        m.insert(
            "why".into(),
            json!("the CRL is past its nextUpdate (stale): fail closed"),
        );
    }
    Ok(v)
}
