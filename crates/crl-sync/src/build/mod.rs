//! From verified CRLs to a snapshot: for one CA key, the entries of every partition are merged into
//! one index (a serial is unique per CA key). Partitions whose CRL did not change (HTTP 304, same
//! bytes) or was rejected keep their entries from the previous snapshot; a changed partition's
//! entries are walked straight from the DER into the builder, with no struct per entry.
//!
//! Nothing is written unless every check passed for the partitions that changed, and the snapshot
//! is replaced atomically (temporary file, fsync, rename, fsync of the directory).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use openssl::sha::sha256;
use openssl::x509::X509;

use crate::error::CrlError;
use crate::outcome::{PartitionSummary, SnapshotSummary, SyncError};
use crate::parse::{CrlHeader, parse_crl, pem_or_der};
mod streamed;
pub use streamed::{StreamFallback, build_streamed};

use crate::verify::{CrlMark, Progress, check_progress, check_times, select_issuer, verify_signature};

/// One CRL as fetched or read from disk (DER or PEM).
#[derive(Debug)]
pub struct CrlInput {
    /// Partition id (from the configuration, or the file name for `ingest`).
    pub partition: String,
    /// The bytes.
    pub bytes: CrlBytes,
}

/// The bytes of a CRL: a vector (an HTTP body), or a file read into private memory in huge pages
/// (a multi-hundred-megabyte CRL costs far fewer page faults that way).
pub struct CrlBytes(Storage);

enum Storage {
    Vec(Vec<u8>),
    Huge(memmap2::MmapMut, usize),
}

impl std::fmt::Debug for CrlBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrlBytes({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for CrlBytes {
    fn from(v: Vec<u8>) -> CrlBytes {
        CrlBytes(Storage::Vec(v))
    }
}

impl std::ops::Deref for CrlBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Vec(v) => v,
            Storage::Huge(m, len) => m.get(..*len).unwrap_or_default(),
        }
    }
}

impl CrlBytes {
    /// Reads a whole file (of at most `max` bytes: a longer one is an `InvalidData` error, whatever
    /// its length was when it was checked before).
    pub fn read_file(path: &Path, max: u64) -> std::io::Result<CrlBytes> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let too_long = || std::io::Error::new(std::io::ErrorKind::InvalidData, "file larger than the limit");
        if len > max {
            return Err(too_long());
        }
        let len = usize::try_from(len).map_err(|_| too_long())?;
        let mut map = memmap2::MmapMut::map_anon(len.max(1))?;
        // Advice only; THP may be disabled, which is fine.
        let _ = map.advise(memmap2::Advice::HugePage);
        let mut filled = 0usize;
        while let Some(dst) = map.get_mut(filled..len).filter(|d| !d.is_empty()) {
            match file.read(dst) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // The file grew since it was measured: refuse rather than read a moving target.
        if file.read(&mut [0u8; 1])? != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "file changed while it was read",
            ));
        }
        Ok(CrlBytes(Storage::Huge(map, filled)))
    }
}

/// Limits and clock for a build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Largest CRL accepted.
    pub max_crl_bytes: usize,
    /// How far thisUpdate may lie in the future.
    pub max_skew_secs: i64,
    /// Current time, unix seconds.
    pub now: i64,
    /// Snapshot generations kept per CA key.
    pub keep: usize,
    /// Whether to collect each CA key's delta for publishing ([`BuildReport::deltas`]); when
    /// false only its counts are reported (an offline ingest publishes nothing).
    pub collect_deltas: bool,
}

/// The result of building the snapshots for a set of CRLs.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// One line per input partition.
    pub partitions: Vec<PartitionSummary>,
    /// One line per CA key touched.
    pub snapshots: Vec<SnapshotSummary>,
    /// The delta per CA key (hex key id), for publishing.
    pub deltas: Vec<(String, String, revocation::Delta)>,
    /// Every error met; the partitions concerned kept their previous entries.
    pub errors: Vec<SyncError>,
}

struct Accepted<'a> {
    partition: String,
    header: CrlHeader<'a>,
    sha256: [u8; 32],
}

/// Verifies every input against `cas`, then builds and writes one snapshot per CA key whose
/// partitions changed, into `out_dir`.
pub fn build_snapshots(
    out_dir: &Path,
    cas: &[X509],
    inputs: Vec<CrlInput>,
    opts: &BuildOptions,
    progress: &indicatif::ProgressBar,
) -> BuildReport {
    let mut report = BuildReport::default();
    // Decode PEM up front; keep the DER alive for the borrowed headers.
    let mut ders: Vec<(String, Cow<'_, [u8]>)> = Vec::new();
    for input in &inputs {
        match pem_or_der(&input.bytes, opts.max_crl_bytes) {
            Ok(der) => ders.push((input.partition.clone(), der)),
            Err(e) => reject(
                &mut report,
                &input.partition,
                SyncError::Rejected {
                    partition: input.partition.clone(),
                    source: e,
                },
            ),
        }
    }
    let mut by_key: BTreeMap<Vec<u8>, (X509, Vec<Accepted<'_>>)> = BTreeMap::new();
    for (partition, der) in &ders {
        match accept(partition, der, cas, opts) {
            Ok((ca, acc)) => {
                let key_id = ca_key_id(&ca);
                by_key
                    .entry(key_id)
                    .or_insert_with(|| (ca, Vec::new()))
                    .1
                    .push(acc);
            }
            Err(e) => reject(&mut report, partition, e),
        }
    }
    // Walk every changed CRL into its builder, then let the CRL bytes go before the snapshots
    // are encoded: peak memory is the CRLs plus the builders, or the builders plus the snapshots.
    let mut pending = Vec::new();
    for (key_id, (_ca, accepted)) in by_key {
        match build_one(out_dir, &key_id, accepted, progress, &mut report) {
            Ok(Some(p)) => pending.push(p),
            Ok(None) => {}
            Err(e) => report.errors.push(e),
        }
    }
    drop(ders);
    drop(inputs);
    for p in pending {
        if let Err(e) = finish_one(out_dir, p, opts, &mut report) {
            report.errors.push(e);
        }
    }
    report
}

/// A CA key's index, filled and not yet written.
struct Pending {
    key_id: Vec<u8>,
    builder: revocation::IndexBuilder,
    prev: Option<revocation::Snapshot>,
    crl_numbers: Vec<String>,
    started: Instant,
}

/// Records a partition whose CRL was rejected (or failed) and why.
pub(crate) fn reject(report: &mut BuildReport, partition: &str, e: SyncError) {
    let status = if e.exit_code() == 2 { "rejected" } else { "failed" };
    report
        .partitions
        .push(PartitionSummary::of_error(partition, status, &e));
    report.errors.push(e);
}

fn accept<'a>(
    partition: &str,
    der: &'a [u8],
    cas: &[X509],
    opts: &BuildOptions,
) -> Result<(X509, Accepted<'a>), SyncError> {
    let rejected = |source: CrlError| SyncError::Rejected {
        partition: partition.to_owned(),
        source,
    };
    let header = parse_crl(der, opts.max_crl_bytes).map_err(rejected)?;
    // The SHA-256 of the whole file on a second core while the signature (over the TBS, nearly
    // the whole file too) is checked here.
    let (ca, sha) = std::thread::scope(|s| {
        let sha = s.spawn(|| sha256(der));
        // select_issuer returns a CA only once verify_signature accepted it (key id, issuer name
        // and signature), so the signature is not checked a second time.
        let ca = select_issuer(&header, cas);
        (ca, sha.join())
    });
    let Some(ca) = ca else {
        return Err(no_issuer(partition, &header, cas));
    };
    let sha = sha.map_err(|_| SyncError::Snapshot("the SHA-256 thread panicked".into()))?;
    check_times(&header, opts.now, opts.max_skew_secs).map_err(rejected)?;
    Ok((
        ca.clone(),
        Accepted {
            partition: partition.to_owned(),
            header,
            sha256: sha,
        },
    ))
}

/// Why no configured CA was selected: when a CA names the CRL's key (or, without key ids, its
/// issuer name), its own verdict (a bad signature, a weak algorithm), so that a forged or damaged
/// CRL is not reported as a configuration problem; otherwise no CA matches at all.
fn no_issuer(partition: &str, header: &CrlHeader<'_>, cas: &[X509]) -> SyncError {
    let aki = header.authority_key_id;
    let claimed = cas.iter().find(|c| match (aki, c.subject_key_id()) {
        (Some(a), Some(s)) => a == s.as_slice(),
        _ => c.subject_name().to_der().is_ok_and(|d| d == header.issuer_der),
    });
    match claimed.map(|c| verify_signature(header, c)) {
        Some(Err(source)) => SyncError::Rejected {
            partition: partition.to_owned(),
            source,
        },
        _ => SyncError::NoIssuer {
            partition: partition.to_owned(),
        },
    }
}

/// The CA key identifier: its subjectKeyIdentifier, or SHA-1 of its public key (RFC 5280 method 1).
pub fn ca_key_id(ca: &X509) -> Vec<u8> {
    if let Some(ski) = ca.subject_key_id() {
        return ski.as_slice().to_vec();
    }
    // Recompute: SHA-1 over the subjectPublicKey BIT STRING contents.
    let spki = ca
        .public_key()
        .and_then(|k| k.public_key_to_der())
        .unwrap_or_default();
    let bits = spki_bits(&spki).unwrap_or(&spki);
    openssl::sha::sha1(bits).to_vec()
}

fn spki_bits(spki: &[u8]) -> Option<&[u8]> {
    use der::{Decode, asn1::BitStringRef};
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki).ok()?;
    let bits: BitStringRef<'_> = info.subject_public_key;
    bits.as_bytes()
}

fn build_one(
    out_dir: &Path,
    key_id: &[u8],
    accepted: Vec<Accepted<'_>>,
    progress: &indicatif::ProgressBar,
    report: &mut BuildReport,
) -> Result<Option<Pending>, SyncError> {
    let started = Instant::now();
    let snap_err = |e: revocation::Error| SyncError::Snapshot(e.to_string());
    let prev = revocation::Snapshot::open_latest(out_dir, key_id).map_err(snap_err)?;

    // Decide per partition: new, unchanged, or rollback.
    let mut changed: Vec<Accepted<'_>> = Vec::new();
    for acc in accepted {
        let prev_meta = previous_meta(prev.as_ref(), &acc.partition);
        let prev_mark = prev_meta.as_ref().map(previous_mark);
        let mark = CrlMark::of(&acc.header, acc.sha256);
        match check_progress(prev_mark.as_ref(), &mark) {
            Ok(Progress::Unchanged) => {
                report
                    .partitions
                    .push(partition_summary(&acc.partition, "unchanged", &acc.header, None));
            }
            Ok(Progress::New) => changed.push(acc),
            Err(e) => reject(
                report,
                &acc.partition.clone(),
                SyncError::Rejected {
                    partition: acc.partition,
                    source: e,
                },
            ),
        }
    }
    if changed.is_empty() {
        return Ok(None);
    }

    // Room for every entry up front (a revoked entry is at least 16 octets of DER): no regrowth
    // copies, and capacity never touched costs no memory.
    let estimate: usize = changed.iter().map(|c| c.header.revoked.len() / 16).sum();
    let changed_ids: Vec<&str> = changed.iter().map(|c| c.partition.as_str()).collect();
    let mut builder = base_builder(key_id, prev.as_ref(), &changed_ids, estimate)?;
    for acc in &changed {
        let idx = builder
            .add_partition(partition_meta(&acc.partition, &acc.header, acc.sha256))
            .map_err(snap_err)?;
        let mut n = 0u64;
        acc.header
            .walk_revoked(&mut entry_sink(&mut builder, idx, &mut n, progress))
            .map_err(|source| SyncError::Rejected {
                partition: acc.partition.clone(),
                source,
            })?;
        report
            .partitions
            .push(partition_summary(&acc.partition, "updated", &acc.header, Some(n)));
    }
    let crl_numbers = changed.iter().filter_map(|c| c.header.crl_number_hex()).collect();
    Ok(Some(Pending {
        key_id: key_id.to_vec(),
        builder,
        prev,
        crl_numbers,
        started,
    }))
}

/// The partition's metadata in the previous snapshot, if it had one.
fn previous_meta(prev: Option<&revocation::Snapshot>, partition: &str) -> Option<revocation::PartitionMeta> {
    prev.and_then(|s| s.partitions().iter().find(|p| p.id == partition).cloned())
}

/// The rollback mark of a partition in the previous snapshot.
fn previous_mark(m: &revocation::PartitionMeta) -> CrlMark<'_> {
    CrlMark {
        crl_number: Some(m.crl_number.as_slice()),
        this_update: m.this_update,
        sha256: m.source_sha256,
    }
}

/// A builder for `key_id` holding the previous snapshot's entries of every partition not in
/// `changed` (unchanged or rejected partitions keep their entries), with room for `estimate`
/// more.
fn base_builder(
    key_id: &[u8],
    prev: Option<&revocation::Snapshot>,
    changed: &[&str],
    estimate: usize,
) -> Result<revocation::IndexBuilder, SyncError> {
    let snap_err = |e: revocation::Error| SyncError::Snapshot(e.to_string());
    let mut builder = revocation::IndexBuilder::new(key_id).map_err(snap_err)?;
    builder.reserve(estimate.saturating_add(prev.map_or(0, |p| p.len())));
    if let Some(prev) = prev {
        let mut remap = BTreeMap::new();
        for (i, meta) in prev.partitions().iter().enumerate() {
            if !changed.contains(&meta.id.as_str()) {
                remap.insert(i, builder.add_partition(meta.clone()).map_err(snap_err)?);
            }
        }
        // Only the entries of the partitions kept from the previous snapshot (none when every
        // partition of this CA key is replaced, the usual single-partition case).
        if !remap.is_empty() {
            for e in prev.entries() {
                if let Some(&to) = remap.get(&usize::from(e.partition)) {
                    builder.push_entry(&e, to).map_err(snap_err)?;
                }
            }
        }
    }
    Ok(builder)
}

/// A partition's snapshot metadata from its CRL.
fn partition_meta(partition: &str, header: &CrlHeader<'_>, sha256: [u8; 32]) -> revocation::PartitionMeta {
    revocation::PartitionMeta {
        id: partition.to_owned(),
        // The name certificates give in cRLDistributionPoints: the index finds the partition by it.
        dp_name: header
            .issuing_distribution_point
            .and_then(|idp| jpki::dp_name::idp_names(idp).into_iter().next()),
        crl_number: header.crl_number.map(<[u8]>::to_vec).unwrap_or_default(),
        this_update: header.this_update,
        next_update: header.next_update,
        source_sha256: sha256,
        entries: 0,
    }
}

/// The report line of an accepted partition.
fn partition_summary(
    partition: &str,
    status: &'static str,
    header: &CrlHeader<'_>,
    entries: Option<u64>,
) -> PartitionSummary {
    PartitionSummary {
        partition: partition.to_owned(),
        status,
        crl_number: header.crl_number_hex(),
        entries,
        this_update: Some(header.this_update),
        next_update: Some(header.next_update),
        error_code: None,
        error: None,
    }
}

/// The visitor that pushes a CRL's entries into `builder` under partition `idx`, counting them
/// in `n` and ticking `progress` every million.
fn entry_sink<'b>(
    builder: &'b mut revocation::IndexBuilder,
    idx: u16,
    n: &'b mut u64,
    progress: &'b indicatif::ProgressBar,
) -> impl FnMut(&[u8], i64, Option<u8>) -> Result<(), CrlError> + 'b {
    move |serial: &[u8], at: i64, reason: Option<u8>| {
        *n += 1;
        if n.is_multiple_of(1_000_000) {
            progress.inc(1_000_000);
        }
        builder
            .push(serial, at, reason, idx)
            .map_err(|e| CrlError::Visitor(Box::new(e)))
    }
}

fn finish_one(
    out_dir: &Path,
    pending: Pending,
    opts: &BuildOptions,
    report: &mut BuildReport,
) -> Result<(), SyncError> {
    let snap_err = |e: revocation::Error| SyncError::Snapshot(e.to_string());
    let Pending {
        key_id,
        builder,
        prev,
        crl_numbers,
        started,
    } = pending;
    let path: PathBuf = builder.write_atomically(out_dir, opts.keep).map_err(snap_err)?;
    let written = Written {
        key_id,
        path,
        prev,
        crl_numbers,
        started,
    };
    after_write(written, opts, report)
}

/// A CA key's snapshot, just written.
struct Written {
    key_id: Vec<u8>,
    path: PathBuf,
    prev: Option<revocation::Snapshot>,
    crl_numbers: Vec<String>,
    started: Instant,
}

/// The delta against the previous generation, and the summary.
fn after_write(written: Written, opts: &BuildOptions, report: &mut BuildReport) -> Result<(), SyncError> {
    let snap_err = |e: revocation::Error| SyncError::Snapshot(e.to_string());
    let Written {
        key_id,
        path,
        prev,
        crl_numbers,
        started,
    } = written;
    let key_hex = hex::encode(&key_id);
    let new = revocation::Snapshot::open_written(&path).map_err(snap_err)?;
    let delta_started = Instant::now();
    let (delta, added, removed) = match (&prev, opts.collect_deltas) {
        (Some(p), true) => {
            let d = revocation::delta(p, &new);
            let (a, r) = (d.added.len() as u64, d.removed.len() as u64);
            (Some(d), a, r)
        }
        (None, true) => {
            let d = revocation::delta_from_empty(&new);
            (Some(d), new.len() as u64, 0)
        }
        // Counts only: the same merge walk, nothing collected.
        (Some(p), false) => {
            let (mut a, mut r) = (0u64, 0u64);
            for c in revocation::changes(Some(p), &new) {
                match c {
                    revocation::Change::Added(_) => a += 1,
                    revocation::Change::Removed(_) => r += 1,
                    revocation::Change::Changed { .. } => {}
                }
            }
            (None, a, r)
        }
        (None, false) => (None, new.len() as u64, 0),
    };
    let delta_seconds = delta_started.elapsed().as_secs_f64();
    report.snapshots.push(SnapshotSummary {
        issuer_key_id: key_hex.clone(),
        snapshot: Some(path.display().to_string()),
        previous_snapshot: prev
            .as_ref()
            .and_then(|p| p.path())
            .map(|p| p.display().to_string()),
        entries: new.len() as u64,
        added,
        removed,
        events_published: None,
        seconds: started.elapsed().as_secs_f64(),
        delta_seconds,
    });
    if let Some(delta) = delta {
        report.deltas.push((key_hex, crl_numbers.join("+"), delta));
    }
    Ok(())
}
