//! The streamed ingest of one large DER CRL file: walked into the builder while it is hashed,
//! the index written while the hashing ends, published only once every check has passed.

use std::path::Path;
use std::time::Instant;

use openssl::x509::X509;

use super::{
    BuildOptions, BuildReport, Written, after_write, base_builder, ca_key_id, partition_meta,
    partition_summary, previous_mark, previous_meta, reject,
};
use crate::error::CrlError;
use crate::outcome::SyncError;
use crate::parse::parse_crl;
use crate::stream::{StreamError, StreamSource};
use crate::verify::{
    CrlMark, Progress, check_progress, check_times, claimed_issuer, select_issuer, tbs_digest_algorithm,
};

/// Why [`build_streamed`] gave the file back: read it whole and use [`build_snapshots`](super::build_snapshots).
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamFallback {
    /// The CRL is not one streaming handles alike (see [`build_streamed`]); the general path
    /// accepts it or reports precisely what is wrong with it.
    ReadWhole,
    /// Reading failed, or the file changed while it was read.
    Io(std::io::Error),
}

/// Ingests one large DER CRL file in one pass ([`crate::stream`]), never holding it whole: the
/// same checks, rules, snapshot and report as [`build_snapshots`](super::build_snapshots) with that file as its only
/// input. Entries are walked into the builder while the file is hashed on two other threads;
/// the signature is then checked against the TBS digest, and only a CRL that passes every check
/// is written.
///
/// Gives the file back ([`StreamFallback::ReadWhole`]) whenever the general path would reject
/// it or decide differently: a skeleton that does not parse, an unsupported algorithm, no
/// authorityKeyIdentifier naming a configured CA, a malformed entry, a signature that does not
/// verify with the named CA. The general path then reports it, with the same error and offsets
/// as for any other CRL; a bad CRL is read twice, a good one once.
pub fn build_streamed(
    out_dir: &Path,
    cas: &[X509],
    partition: &str,
    src: StreamSource,
    opts: &BuildOptions,
    progress: &indicatif::ProgressBar,
) -> Result<BuildReport, StreamFallback> {
    use StreamFallback::ReadWhole;
    let started = Instant::now();
    let mut report = BuildReport::default();
    let rejected = |source: CrlError| SyncError::Rejected {
        partition: partition.to_owned(),
        source,
    };
    let skeleton = src.skeleton().ok_or(ReadWhole)?;
    let header = parse_crl(&skeleton, opts.max_crl_bytes).map_err(|_| ReadWhole)?;
    let md = tbs_digest_algorithm(&header.signature_algorithm).map_err(|_| ReadWhole)?;
    let ca = claimed_issuer(&header, cas).ok_or(ReadWhole)?;
    let key_id = ca_key_id(ca);
    let prev = match revocation::Snapshot::open_latest(out_dir, &key_id) {
        Ok(p) => p,
        Err(e) => {
            report.errors.push(SyncError::Snapshot(e.to_string()));
            return Ok(report);
        }
    };
    let fail = |e: SyncError| {
        let mut r = BuildReport::default();
        r.errors.push(e);
        r
    };
    let mut builder = match base_builder(&key_id, prev.as_ref(), &[partition], src.revoked_len() / 16) {
        Ok(b) => b,
        Err(e) => return Ok(fail(e)),
    };
    let idx = match builder.add_partition(partition_meta(partition, &header, [0; 32])) {
        Ok(i) => i,
        Err(e) => return Ok(fail(SyncError::Snapshot(e.to_string()))),
    };
    // The index is written while the hashing threads finish (the walk ends first), to a
    // temporary file that becomes the snapshot only once the signature, the times and the
    // progress rules have passed; on any rejection it is removed.
    let mut sink = BuilderSink {
        builder,
        idx,
        n: 0,
        progress,
    };
    let keep = opts.keep;
    let (streamed, pending) = match src.stream_then(md, &mut sink, |sink| {
        let empty = revocation::IndexBuilder::new(&key_id);
        empty.and_then(|empty| std::mem::replace(&mut sink.builder, empty).write_pending(out_dir, keep))
    }) {
        Ok(s) => s,
        Err(StreamError::Io(e)) => return Err(StreamFallback::Io(e)),
        Err(StreamError::Crl(_)) => return Err(ReadWhole),
    };
    let n = sink.n;
    let mut header = header;
    header.tbs_digest = Some(&streamed.tbs_digest);
    match select_issuer(&header, cas) {
        Some(verified) if ca_key_id(verified) == key_id => {}
        _ => return Err(ReadWhole),
    }
    if let Err(e) = check_times(&header, opts.now, opts.max_skew_secs) {
        reject(&mut report, partition, rejected(e));
        return Ok(report);
    }
    let prev_meta = previous_meta(prev.as_ref(), partition);
    match check_progress(
        prev_meta.as_ref().map(previous_mark).as_ref(),
        &CrlMark::of(&header, streamed.sha256),
    ) {
        Ok(Progress::New) => {}
        Ok(Progress::Unchanged) => {
            report
                .partitions
                .push(partition_summary(partition, "unchanged", &header, None));
            return Ok(report);
        }
        Err(e) => {
            reject(&mut report, partition, rejected(e));
            return Ok(report);
        }
    }
    let snap_err = |e: revocation::Error| SyncError::Snapshot(e.to_string());
    let committed = pending.and_then(|mut p| {
        p.set_source_sha256(idx, streamed.sha256)?;
        p.commit()
    });
    let path = match committed {
        Ok(path) => path,
        Err(e) => return Ok(fail(snap_err(e))),
    };
    report
        .partitions
        .push(partition_summary(partition, "updated", &header, Some(n)));
    let written = Written {
        key_id,
        path,
        prev,
        crl_numbers: header.crl_number_hex().into_iter().collect(),
        started,
    };
    if let Err(e) = after_write(written, opts, &mut report) {
        report.errors.push(e);
    }
    Ok(report)
}

/// The visitor of a streamed ingest: owns the builder so that it can be written as soon as the
/// walk ends.
struct BuilderSink<'p> {
    builder: revocation::IndexBuilder,
    idx: u16,
    n: u64,
    progress: &'p indicatif::ProgressBar,
}

impl crate::parse::RevokedVisitor for BuilderSink<'_> {
    #[inline]
    fn entry(&mut self, serial: &[u8], revoked_at: i64, reason: Option<u8>) -> Result<(), CrlError> {
        self.n += 1;
        if self.n.is_multiple_of(1_000_000) {
            self.progress.inc(1_000_000);
        }
        self.builder
            .push(serial, revoked_at, reason, self.idx)
            .map_err(|e| CrlError::Visitor(Box::new(e)))
    }

    #[inline]
    fn narrow_entry(
        &mut self,
        serial: u64,
        _: &[u8],
        revoked_at: i64,
        reason: Option<u8>,
    ) -> Result<(), CrlError> {
        self.n += 1;
        if self.n.is_multiple_of(1_000_000) {
            self.progress.inc(1_000_000);
        }
        self.builder
            .push_u64(serial, revoked_at, reason, self.idx)
            .map_err(|e| CrlError::Visitor(Box::new(e)))
    }
}
