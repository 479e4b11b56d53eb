//! `crl-sync run`: every configured partition, fetched with conditional GET, verified, indexed per CA
//! key, written atomically; the delta goes to Redis (or to the [`crate::outbox`] until Redis takes
//! it) and the metrics to a Prometheus textfile.
//!
//! A partition's first snapshot is a baseline ([`crate::publish`]): one marker in the stream, no
//! event per entry. A CA key with no snapshot yet is built without collecting its delta at all
//! (a first 20-million-entry delta would cost gigabytes only to be thrown away).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openssl::x509::X509;

use crate::build::{BuildOptions, CrlInput, build_snapshots, ca_key_id};
use crate::config::{Config, RedisConfig};
use crate::fetch::{FetchOutcome, Validators, client, fetch};
use crate::outbox::{self, PendingDelta};
use crate::outcome::{BaselineSummary, PartitionSummary, RunSummary, SnapshotSummary, SyncError};
use crate::publish::{Publication, Published, publication};

const FETCH_STATE: &str = "fetch-state.json";

/// Loads every CA certificate of the configuration (PEM bundle or DER).
pub fn load_cas(cfg: &Config) -> Result<BTreeMap<String, Vec<X509>>, SyncError> {
    let mut out = BTreeMap::new();
    for ca in &cfg.ca {
        out.insert(ca.id.clone(), read_certs(&ca.cert)?);
    }
    Ok(out)
}

/// Reads one or more certificates from a PEM bundle or a single DER file.
pub fn read_certs(path: &Path) -> Result<Vec<X509>, SyncError> {
    let bytes = std::fs::read(path).map_err(|source| SyncError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let certs = if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        X509::stack_from_pem(&bytes).unwrap_or_default()
    } else {
        X509::from_der(&bytes).map(|c| vec![c]).unwrap_or_default()
    };
    if certs.is_empty() {
        return Err(SyncError::Config(format!(
            "{}: no certificate could be read",
            path.display()
        )));
    }
    Ok(certs)
}

/// Runs the whole job once.
pub async fn run(cfg: &Config, now: i64, progress: &indicatif::ProgressBar) -> RunSummary {
    let mut summary = RunSummary {
        status: "ok",
        ..RunSummary::default()
    };
    let fail = |summary: &mut RunSummary, e: SyncError| {
        summary.note_error(&e);
        summary
            .partitions
            .push(PartitionSummary::of_error("-", "failed", &e));
    };
    if let Err(e) = std::fs::create_dir_all(&cfg.snapshot_dir) {
        fail(
            &mut summary,
            SyncError::Snapshot(format!("{}: {e}", cfg.snapshot_dir.display())),
        );
        return summary;
    }
    // One writer at a time; held until the run ends.
    let _lock = match crate::outcome::lock_snapshot_dir(&cfg.snapshot_dir) {
        Ok(l) => l,
        Err(e) => {
            fail(&mut summary, e);
            return summary;
        }
    };
    let cas = match load_cas(cfg) {
        Ok(c) => c,
        Err(e) => {
            fail(&mut summary, e);
            return summary;
        }
    };
    let policy = cfg.fetch_policy();
    let http = match client(&policy) {
        Ok(c) => c,
        Err(e) => {
            fail(&mut summary, SyncError::Config(e.to_string()));
            return summary;
        }
    };
    let state_path = cfg.snapshot_dir.join(FETCH_STATE);
    let mut validators = read_state(&state_path);
    let mut fresh_validators = BTreeMap::new();

    // Fetch every partition, grouped by CA.
    let mut inputs_by_ca: BTreeMap<String, Vec<CrlInput>> = BTreeMap::new();
    progress.set_message("fetching CRLs");
    for p in &cfg.partition {
        let prev = validators.get(&p.id).cloned().unwrap_or_default();
        match fetch(&http, &p.url, &prev, &policy).await {
            Ok(FetchOutcome::NotModified) => summary.partitions.push(PartitionSummary {
                partition: p.id.clone(),
                status: "not_modified",
                crl_number: None,
                entries: None,
                this_update: None,
                next_update: None,
                error_code: None,
                error: None,
            }),
            Ok(FetchOutcome::Fetched { body, validators: v }) => {
                fresh_validators.insert(p.id.clone(), v);
                inputs_by_ca.entry(p.ca.clone()).or_default().push(CrlInput {
                    partition: p.id.clone(),
                    bytes: body.into(),
                });
            }
            Err(source) => {
                let e = SyncError::Fetch {
                    partition: p.id.clone(),
                    source,
                };
                summary.note_error(&e);
                let status = if e.exit_code() == 3 {
                    "unreachable"
                } else {
                    "rejected"
                };
                summary
                    .partitions
                    .push(PartitionSummary::of_error(&p.id, status, &e));
            }
        }
    }

    let opts = BuildOptions {
        max_crl_bytes: usize::try_from(cfg.max_crl_bytes).unwrap_or(usize::MAX),
        max_skew_secs: i64::try_from(cfg.max_clock_skew_secs).unwrap_or(i64::MAX),
        now,
        keep: cfg.keep_snapshots,
        collect_deltas: cfg.redis.is_some(),
    };
    // Deltas a previous run could not publish go first, in order; while one is still pending,
    // newer deltas queue behind it.
    let mut redis_conn = None;
    let mut pending = Vec::new();
    if let Some(r) = &cfg.redis {
        let queued = outbox::read(&cfg.snapshot_dir).unwrap_or_else(|e| {
            summary.note_error(&e);
            Vec::new()
        });
        for p in queued {
            if pending.is_empty() {
                let published = match outbox::load_publication(&cfg.snapshot_dir, &p) {
                    Ok(pb) => {
                        let numbers = match (&p.from, p.crl_numbers.is_empty()) {
                            (None, true) => baseline_crl_numbers(&pb),
                            _ => p.crl_numbers.clone(),
                        };
                        publish(&mut redis_conn, r, &p.issuer_key_id, &numbers, &pb)
                            .await
                            .map(|done| (done, pb))
                    }
                    Err(e) => {
                        summary.note_error(&e);
                        continue;
                    }
                };
                match published {
                    Ok((done, pb)) => {
                        note_baselines(&mut summary, &p.issuer_key_id, done, &pb);
                        continue;
                    }
                    Err(e) => summary.note_error(&e),
                }
            }
            pending.push(p);
        }
    }

    // CA keys that have a snapshot already: only their deltas are worth collecting.
    let known_keys: Option<Vec<Vec<u8>>> = revocation::latest_stamps(&cfg.snapshot_dir)
        .ok()
        .map(|stamps| stamps.into_iter().map(|s| s.issuer_key_id).collect());
    progress.set_message("verifying and indexing");
    for (ca_id, inputs) in inputs_by_ca {
        let Some(certs) = cas.get(&ca_id) else { continue };
        let opts = BuildOptions {
            // A CA none of whose keys has a snapshot yet publishes baselines only; when the
            // directory cannot be listed, collect (correct, only costlier).
            collect_deltas: opts.collect_deltas
                && known_keys
                    .as_ref()
                    .is_none_or(|known| certs.iter().any(|c| known.contains(&ca_key_id(c)))),
            ..opts.clone()
        };
        let report = build_snapshots(&cfg.snapshot_dir, certs, inputs, &opts, progress);
        for e in &report.errors {
            summary.note_error(e);
        }
        // Validators are kept only for CRLs that were accepted, so a rejected one is fetched again.
        for p in &report.partitions {
            if matches!(p.status, "updated" | "unchanged")
                && let Some(v) = fresh_validators.remove(&p.partition)
            {
                validators.insert(p.partition.clone(), v);
            }
        }
        summary.partitions.extend(report.partitions);
        let mut snapshots = report.snapshots;
        if let Some(r) = &cfg.redis {
            for s in &mut snapshots {
                let Some(path) = s.snapshot.clone() else { continue };
                let delta = report.deltas.iter().find(|(k, _, _)| *k == s.issuer_key_id);
                if delta.is_none() && s.previous_snapshot.is_some() {
                    // Not collected although there was a previous snapshot: cannot happen
                    // with Redis configured (deltas are collected for every known key).
                    continue;
                }
                // A CA key's first snapshot names its CRL numbers in its baseline markers (an
                // outbox entry without them is given them when it is replayed).
                let mut crl_numbers = delta.map(|(_, n, _)| n.clone()).unwrap_or_default();
                let queue = |s: &SnapshotSummary, crl_numbers: &str| {
                    Some(PendingDelta {
                        issuer_key_id: s.issuer_key_id.clone(),
                        crl_numbers: crl_numbers.to_owned(),
                        from: s.previous_snapshot.as_deref().and_then(outbox::file_name_of),
                        to: outbox::file_name_of(s.snapshot.as_deref()?)?,
                    })
                };
                if !pending.is_empty() {
                    pending.extend(queue(s, &crl_numbers));
                    continue;
                }
                let pb = match publication(delta.map(|(_, _, d)| d), Path::new(&path)) {
                    Ok(pb) => pb,
                    Err(e) => {
                        summary.note_error(&SyncError::Publish(e.to_string()));
                        pending.extend(queue(s, &crl_numbers));
                        continue;
                    }
                };
                if delta.is_none() {
                    crl_numbers = baseline_crl_numbers(&pb);
                }
                match publish(&mut redis_conn, r, &s.issuer_key_id, &crl_numbers, &pb).await {
                    Ok(done) => {
                        s.events_published = Some(match done {
                            Published::Appended { events, .. } => events as u64,
                            Published::AlreadyPublished => 0,
                        });
                        note_baselines(&mut summary, &s.issuer_key_id, done, &pb);
                    }
                    Err(e) => {
                        summary.note_error(&e);
                        pending.extend(queue(s, &crl_numbers));
                    }
                }
            }
        }
        summary.snapshots.extend(snapshots);
    }
    if cfg.redis.is_some()
        && let Err(e) = outbox::write(&cfg.snapshot_dir, &pending)
    {
        summary.note_error(&e);
    }
    if let Err(e) = write_state(&state_path, &validators) {
        summary.note_error(&e);
    }
    if let Some(path) = &cfg.metrics_textfile
        && let Err(e) = crate::metrics::write_textfile(path, &summary, now)
    {
        tracing::warn!(error = %e, "could not write the metrics textfile");
    }
    summary
}

/// Appends a snapshot's publication to the stream, connecting first if needed.
async fn publish(
    conn: &mut Option<redis::aio::MultiplexedConnection>,
    r: &RedisConfig,
    key_hex: &str,
    crl_numbers: &str,
    pb: &Publication,
) -> Result<Published, SyncError> {
    if conn.is_none() {
        *conn = match redis::Client::open(r.url.as_str()) {
            Ok(c) => c.get_multiplexed_async_connection().await.ok(),
            Err(_) => None,
        };
    }
    let Some(c) = conn.as_mut() else {
        return Err(SyncError::Publish(format!("cannot connect to {}", r.url)));
    };
    let result = crate::publish::publish(c, &r.stream, key_hex, crl_numbers, pb).await;
    result.map_err(|e| {
        // A broken connection is not reused.
        *conn = None;
        SyncError::Publish(e.to_string())
    })
}

/// The CRL numbers of a CA key's first snapshot, as `build` joins them (its partitions in order),
/// for the publish marker.
fn baseline_crl_numbers(pb: &Publication) -> String {
    let numbers: Vec<&str> = pb
        .baselines
        .iter()
        .map(|b| b.crl_number_hex.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    numbers.join("+")
}

/// Records the baseline markers a publish appended, in the summary and the log.
fn note_baselines(summary: &mut RunSummary, key_hex: &str, done: Published, pb: &Publication) {
    if !matches!(done, Published::Appended { baselines, .. } if baselines > 0) {
        return;
    }
    for b in &pb.baselines {
        tracing::info!(
            issuer_key_id = key_hex,
            partition = %b.partition,
            entries = b.entries,
            "first snapshot of the partition: baseline marker published, no per-entry events"
        );
        summary.baselines.push(BaselineSummary {
            issuer_key_id: key_hex.to_owned(),
            partition: b.partition.clone(),
            crl_number: Some(b.crl_number_hex.clone()).filter(|n| !n.is_empty()),
            entries: b.entries,
        });
    }
}

fn read_state(path: &Path) -> BTreeMap<String, Validators> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write_state(path: &Path, state: &BTreeMap<String, Validators>) -> Result<(), SyncError> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| SyncError::Snapshot(e.to_string()))?;
    crate::metrics::write_file_atomically(path, &bytes).map_err(|e| SyncError::Snapshot(e.to_string()))
}

/// Where the fetch state of a configuration lives.
pub fn fetch_state_path(cfg: &Config) -> PathBuf {
    cfg.snapshot_dir.join(FETCH_STATE)
}
