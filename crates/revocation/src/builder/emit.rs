//! Writing a prepared snapshot: the whole file at once, or its body first and its header and
//! partition table later ([`PendingSnapshot`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{IndexBuilder, Narrow, Prepared, narrow_partition, narrow_reason, narrow_serial, narrow_time};
use crate::entry::{PartitionMeta, reason_nibble};
use crate::error::{Error, Result};
use crate::format::{
    COMPACT_RECORD, Checksum, FULL_RECORD, Header, Section, TRAILER_LEN, compact_pack, encode_partitions,
};
use crate::store;

/// Writes through a buffer while checksumming; pads sections to 8 bytes.
struct Emitter<'w, W: Write> {
    out: &'w mut W,
    sum: Checksum,
    /// Whether the bytes written count towards `sum` (the head does not: it comes last).
    summing: bool,
    buf: Vec<u8>,
    written: u64,
}

/// As large as the file writer's buffer, so a full block goes straight to the file uncopied.
const EMIT_BUF: usize = 1 << 20;

impl<W: Write> Emitter<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= EMIT_BUF {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.summing {
            self.sum.update(&self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn align(&mut self) -> std::io::Result<()> {
        let at = self.written + self.buf.len() as u64;
        let pad = (8 - (at % 8) as usize) % 8;
        let zeros = [0u8; 8];
        self.put(zeros.get(..pad).unwrap_or_default())
    }

    fn at(&self) -> u64 {
        self.written + self.buf.len() as u64
    }
}

/// Sets partition `partition`'s source SHA-256.
pub(super) fn set_source_sha256(
    partitions: &mut [PartitionMeta],
    partition: u16,
    sha256: [u8; 32],
) -> Result<()> {
    let count = partitions.len();
    let meta = partitions
        .get_mut(usize::from(partition))
        .ok_or(Error::UnknownPartition {
            index: partition,
            count,
        })?;
    meta.source_sha256 = sha256;
    Ok(())
}

/// The header and the partition table, padded: the first [`Header::checksum_split`] bytes.
fn head_bytes(header: &Header, partitions: &[PartitionMeta]) -> Vec<u8> {
    let mut head = header.encode().to_vec();
    head.extend_from_slice(&encode_partitions(partitions));
    head.resize(header.checksum_split(), 0);
    head
}

/// A snapshot written but for its header and partition table, in a temporary file of its
/// directory ([`IndexBuilder::write_pending`]). [`PendingSnapshot::commit`] completes it and
/// renames it into place; dropping it instead removes the temporary file.
#[derive(Debug)]
pub struct PendingSnapshot {
    header: Header,
    partitions: Vec<PartitionMeta>,
    sum: Checksum,
    temp: store::TempFile,
    dir: PathBuf,
    path: PathBuf,
    key_id: Vec<u8>,
    keep: usize,
}

impl PendingSnapshot {
    /// Sets the source CRL's SHA-256 of partition `partition`.
    pub fn set_source_sha256(&mut self, partition: u16, sha256: [u8; 32]) -> Result<()> {
        set_source_sha256(&mut self.partitions, partition, sha256)
    }

    /// Narrow and wide entries the snapshot holds (duplicates merged).
    pub fn len(&self) -> u64 {
        self.header.narrow_count + self.header.wide_count
    }

    /// Whether the snapshot holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the header, the partition table and the checksum, then fsyncs, renames the file
    /// into place, fsyncs the directory and prunes generations beyond `keep`. Returns the path.
    pub fn commit(mut self) -> Result<PathBuf> {
        use std::os::unix::fs::FileExt;
        let head = head_bytes(&self.header, &self.partitions);
        let mut sum = self.sum.clone();
        sum.update(&head);
        let trailer_at = self.header.file_len - TRAILER_LEN as u64;
        let file = self.temp.file()?;
        file.write_all_at(&head, 0)
            .and_then(|()| file.write_all_at(&sum.finish().to_le_bytes(), trailer_at))
            .map_err(|e| Error::io("write", &self.temp.tmp, e))?;
        self.temp.publish()?;
        store::prune(&self.dir, &self.key_id, self.keep)?;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Prepared {
    /// The header and the partition table, padded: the first [`Header::checksum_split`] bytes.
    fn head(&self) -> Vec<u8> {
        head_bytes(&self.header, &self.partitions)
    }

    /// Writes the whole file.
    pub(super) fn emit<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        let head = self.head();
        let mut sum = self.emit_body(out, Some(&head))?;
        sum.update(&head);
        out.write_all(&sum.finish().to_le_bytes())
    }

    /// Writes the file without its trailer, the head as given or as zeros (to be written later),
    /// and returns the checksum of the bytes after the head.
    fn emit_body<W: Write>(&self, out: &mut W, head: Option<&[u8]>) -> std::io::Result<Checksum> {
        let h = &self.header;
        let split = h.checksum_split();
        let mut e = Emitter {
            out,
            sum: Checksum::default(),
            summing: false,
            buf: Vec::with_capacity(EMIT_BUF + 64),
            written: 0,
        };
        match head {
            Some(bytes) => e.put(bytes)?,
            None => e.put(&vec![0u8; split])?,
        }
        debug_assert_eq!(e.at(), split as u64);
        e.flush()?;
        e.summing = true;
        let width = h.partition_width;
        let base = h.base_time;
        let offset = |t: i64| (t - base) as u32;
        let section = |e: &mut Emitter<'_, W>, s: Section| -> std::io::Result<()> {
            e.align()?;
            debug_assert_eq!(Some(e.at()), h.sections.get(s as usize).map(|x| x.0));
            Ok(())
        };
        section(&mut e, Section::Directory)?;
        for chunk in self.dir.chunks(1024) {
            let mut block = [0u8; 4 * 1024];
            for (dst, d) in block.chunks_exact_mut(4).zip(chunk) {
                dst.copy_from_slice(&d.to_le_bytes());
            }
            e.put(block.get(..4 * chunk.len()).unwrap_or_default())?;
        }
        match &self.narrow {
            Narrow::Packed(v) => emit_narrow(&mut e, h, v.iter().copied())?,
            Narrow::Lean(l) => emit_narrow(&mut e, h, l.packed())?,
        }
        section(&mut e, Section::WideSerials)?;
        for w in &self.wide {
            e.put(&w.serial)?;
        }
        section(&mut e, Section::WideTimes)?;
        for w in &self.wide {
            e.put(&offset(w.time).to_le_bytes())?;
        }
        section(&mut e, Section::WideReasons)?;
        for w in &self.wide {
            e.put(&[w.reason])?;
        }
        section(&mut e, Section::WidePartitions)?;
        for w in &self.wide {
            e.put(
                w.partition
                    .to_le_bytes()
                    .get(..usize::from(width))
                    .unwrap_or_default(),
            )?;
        }
        e.align()?;
        e.flush()?;
        debug_assert_eq!(e.at() + TRAILER_LEN as u64, h.file_len);
        Ok(e.sum)
    }
}

/// The narrow records and the narrow partitions sections, from the packed entries in order.
fn emit_narrow<W: Write>(
    e: &mut Emitter<'_, W>,
    h: &Header,
    narrow: impl Iterator<Item = u128> + Clone,
) -> std::io::Result<()> {
    let offset = |t: i64| (t - h.base_time) as u32;
    let section = |e: &mut Emitter<'_, W>, s: Section| -> std::io::Result<()> {
        e.align()?;
        debug_assert_eq!(Some(e.at()), h.sections.get(s as usize).map(|x| x.0));
        Ok(())
    };
    section(e, Section::NarrowRecords)?;
    if h.record_width == COMPACT_RECORD {
        // Packed a block at a time: one buffer append per block rather than per record.
        let mut block = [0u8; 8 * 1024];
        let mut used = 0;
        for v in narrow.clone() {
            let key = narrow_serial(v).wrapping_sub(h.dir_min);
            let rec = compact_pack(key, reason_nibble(narrow_reason(v)), offset(narrow_time(v)));
            if let Some(dst) = block.get_mut(used..used + 8) {
                dst.copy_from_slice(&rec.to_le_bytes());
            }
            used += 8;
            if used == block.len() {
                e.put(&block)?;
                used = 0;
            }
        }
        e.put(block.get(..used).unwrap_or_default())?;
    } else {
        let mut rec = [0u8; FULL_RECORD as usize];
        for v in narrow.clone() {
            let (serial, rest) = rec.split_at_mut(8);
            serial.copy_from_slice(&narrow_serial(v).to_le_bytes());
            let (time, reason) = rest.split_at_mut(4);
            time.copy_from_slice(&offset(narrow_time(v)).to_le_bytes());
            reason.fill(narrow_reason(v));
            e.put(&rec)?;
        }
    }
    section(e, Section::NarrowPartitions)?;
    let width = usize::from(h.partition_width);
    if width > 0 {
        for v in narrow {
            let p = narrow_partition(v).to_le_bytes();
            e.put(p.get(..width).unwrap_or_default())?;
        }
    }
    Ok(())
}

impl IndexBuilder {
    /// Sorts, merges duplicates and writes everything but the header and the partition table to
    /// a temporary file in `dir`, as the next generation for this CA key. The caller then sets
    /// what it learnt meanwhile (the source CRL's SHA-256) and commits, or drops the result, which
    /// removes the temporary file. This lets a streamed ingest write the index while the source
    /// is still being hashed.
    pub fn write_pending(self, dir: &Path, keep: usize) -> Result<PendingSnapshot> {
        let generation = store::next_generation(dir, &self.key_id)?;
        let path = dir.join(store::file_name(&self.key_id, generation));
        let key_id = self.key_id.clone();
        let prepared = self.prepare()?;
        let temp = store::TempFile::create(&path)?;
        let (header, partitions, sum) = store::with_writeback(temp.file()?, &temp.tmp, |file| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let sum = prepared
                .emit_body(&mut w, None)
                .and_then(|sum| w.flush().map(|()| sum))?;
            drop(w);
            // The arrays are freed while the last of the data is written back.
            let Prepared {
                header, partitions, ..
            } = prepared;
            Ok((header, partitions, sum))
        })?;
        Ok(PendingSnapshot {
            header,
            partitions,
            sum,
            temp,
            dir: dir.to_path_buf(),
            path,
            key_id,
            keep: keep.max(1),
        })
    }
}
