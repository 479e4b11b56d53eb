//! Reading a snapshot: open (mmap) or take bytes, validate everything once, then serve typed
//! accessors. After [`Snapshot::open`] returns, every array is known to be in bounds, sorted and
//! consistent with the directory, so lookups only do bounds-checked reads that cannot fail.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jpki::Serial;
use memmap2::Mmap;

use crate::entry::{Entry, PartitionMeta, decode_nibble, decode_reason};
use crate::error::{Error, Result};
use crate::format::{
    COMPACT_RECORD, FULL_RECORD, HEADER_LEN, Header, SECTIONS, Section, TRAILER_LEN, WIDE_SERIAL_LEN,
    body_checksum, compact_key, compact_nibble, compact_time, decode_partitions, le_u64,
};
use crate::store::{self, FileStamp};

mod validate;

fn stamp_of(path: &Path, meta: &std::fs::Metadata) -> Option<FileStamp> {
    let (issuer_key_id, generation) = path.file_name()?.to_str().and_then(store::parse_file_name)?;
    Some(FileStamp {
        issuer_key_id,
        generation,
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

enum Backing {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// The revocation index of one CA key: a validated snapshot file, mapped read-only (or held in
/// memory when it comes straight from [`crate::IndexBuilder::finish`]).
pub struct Snapshot {
    data: Backing,
    pub(crate) header: Header,
    partitions: Vec<PartitionMeta>,
    /// Partition index by id (J-LIS has some 1,700 partitions per hierarchy: a status check must
    /// not search them one by one).
    partition_ids: std::collections::HashMap<String, u16>,
    /// The partition with the earliest nextUpdate (the first of them).
    stalest: Option<u16>,
    /// Each partition's id, shared with the answers that name it ([`crate::answer`]).
    partition_arcs: Vec<std::sync::Arc<str>>,
    ranges: [Range<usize>; SECTIONS],
    path: Option<PathBuf>,
    stamp: Option<FileStamp>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("issuer_key_id", &self.header.key_id)
            .field("narrow", &self.header.narrow_count)
            .field("wide", &self.header.wide_count)
            .field("partitions", &self.partitions.len())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where a walk in order over the narrow records is ([`Snapshot::narrow_serial_seq`]): the
/// current directory bucket and the record range it holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NarrowCursor {
    bucket: usize,
    start: usize,
    end: usize,
}

/// Opens a snapshot file and checks it can hold a header and a trailer.
fn open_snapshot_file(path: &Path) -> Result<(File, std::fs::Metadata)> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
    if meta.len() < (HEADER_LEN + TRAILER_LEN) as u64 {
        return Err(Error::Truncated {
            field: "header",
            needed: (HEADER_LEN + TRAILER_LEN) as u64,
            actual: meta.len(),
        });
    }
    Ok((file, meta))
}

impl Snapshot {
    /// Maps the file read-only and validates it (magic, version, bounds, checksum, order).
    pub fn open(path: &Path) -> Result<Snapshot> {
        let (file, meta) = open_snapshot_file(path)?;
        let map = crate::mmap::map_read_only(&file).map_err(|e| Error::io("map", path, e))?;
        let len = map.len();
        let mut snap = Snapshot::validate(Backing::Mapped(map), len)?;
        snap.path = Some(path.to_path_buf());
        snap.stamp = stamp_of(path, &meta).filter(|s| s.issuer_key_id == snap.header.key_id);
        Ok(snap)
    }

    /// Opens a snapshot file this process has just written with [`crate::IndexBuilder`] (the
    /// writer's own read-back, e.g. for the delta against the previous generation): the header
    /// and partition table are decoded and checked as by [`Snapshot::open`], but the checksum and
    /// the O(entries) array checks are skipped in release builds, since the bytes are the
    /// builder's own output (debug builds, and so the tests, still run them). The pages are not
    /// pre-faulted either. Servers must use [`Snapshot::open`] or [`Snapshot::load`].
    pub fn open_written(path: &Path) -> Result<Snapshot> {
        let (file, meta) = open_snapshot_file(path)?;
        let map = crate::mmap::map_lazily(&file).map_err(|e| Error::io("map", path, e))?;
        let len = map.len();
        let full = cfg!(debug_assertions);
        let mut snap = Snapshot::check(Backing::Mapped(map), len, full)?;
        snap.path = Some(path.to_path_buf());
        snap.stamp = stamp_of(path, &meta).filter(|s| s.issuer_key_id == snap.header.key_id);
        Ok(snap)
    }

    /// Reads the file into private memory (transparent huge pages where the kernel allows) and
    /// validates it. Lookups are faster than through [`Snapshot::open`]'s shared page-cache mapping
    /// (fewer TLB misses), at the cost of a private copy per process.
    pub fn load(path: &Path) -> Result<Snapshot> {
        let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
        let len = usize::try_from(meta.len()).map_err(|_| Error::TooManyEntries { count: usize::MAX })?;
        let mut map = crate::mmap::anon_huge(len).map_err(|e| Error::io("map", path, e))?;
        let buf = map.get_mut(..len).unwrap_or_default();
        std::io::Read::read_exact(&mut file, buf).map_err(|e| Error::io("read", path, e))?;
        let map = map.make_read_only().map_err(|e| Error::io("map", path, e))?;
        let mut snap = Snapshot::validate(Backing::Mapped(map), len)?;
        snap.path = Some(path.to_path_buf());
        snap.stamp = stamp_of(path, &meta).filter(|s| s.issuer_key_id == snap.header.key_id);
        Ok(snap)
    }

    pub(crate) fn from_anon(map: memmap2::MmapMut, len: usize) -> Result<Snapshot> {
        let map = map
            .make_read_only()
            .map_err(|e| Error::io("map", "<memory>", e))?;
        Snapshot::validate(Backing::Mapped(map), len)
    }

    /// Validates a snapshot held in memory (the bytes of a snapshot file).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Snapshot> {
        let len = bytes.len();
        Snapshot::validate(Backing::Owned(bytes), len)
    }

    /// Opens the newest generation for `issuer_key_id` in `dir`, if there is one.
    pub fn open_latest(dir: &Path, issuer_key_id: &[u8]) -> Result<Option<Snapshot>> {
        if !dir.exists() {
            return Ok(None);
        }
        let files = store::list(dir)?;
        match files.get(issuer_key_id).and_then(|f| f.last()) {
            Some((_, path)) => Snapshot::open(path).map(Some),
            None => Ok(None),
        }
    }

    /// Validates the first `len` bytes of `data` (an anonymous mapping may be longer).
    fn validate(data: Backing, len: usize) -> Result<Snapshot> {
        Snapshot::check(data, len, true)
    }

    /// [`Snapshot::validate`]; without `full`, only the header and the partition table.
    fn check(data: Backing, len: usize, full: bool) -> Result<Snapshot> {
        let bytes = data.bytes().get(..len).unwrap_or_default();
        let header = Header::decode(bytes)?;
        if full {
            let body_len = bytes.len() - TRAILER_LEN;
            let stored = le_u64(bytes, body_len);
            let computed = body_checksum(&header, bytes.get(..body_len).unwrap_or_default());
            if stored != computed {
                return Err(Error::ChecksumMismatch { stored, computed });
            }
        }
        let ranges = header
            .sections
            .map(|(off, len)| off as usize..off.saturating_add(len) as usize);
        let mut snap = Snapshot {
            data,
            header,
            partitions: Vec::new(),
            partition_ids: std::collections::HashMap::new(),
            stalest: None,
            partition_arcs: Vec::new(),
            ranges,
            path: None,
            stamp: None,
        };
        let table_at = snap.range(Section::PartitionTable).start;
        snap.partitions = decode_partitions(
            snap.section(Section::PartitionTable),
            snap.header.partition_count,
            table_at,
        )?;
        // Ids first, then distribution point names by their matching key; the first of equals
        // wins, as a search from the start would find.
        let mut names = std::collections::HashMap::new();
        let indexed = snap
            .partitions
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((p, u16::try_from(i).ok()?)));
        for (p, i) in indexed.clone() {
            names.entry(p.id.clone()).or_insert(i);
        }
        for (p, i) in indexed {
            if let Some(name) = &p.dp_name {
                names.entry(jpki::dp_name::partition_key(name)).or_insert(i);
            }
        }
        snap.partition_ids = names;
        snap.partition_arcs = snap
            .partitions
            .iter()
            .map(|p| std::sync::Arc::from(p.id.as_str()))
            .collect();
        snap.stalest = snap
            .partitions
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.next_update)
            .and_then(|(i, _)| u16::try_from(i).ok());
        if full {
            snap.check_arrays()?;
        }
        Ok(snap)
    }

    #[inline]
    fn range(&self, s: Section) -> Range<usize> {
        self.ranges.get(s as usize).cloned().unwrap_or(0..0)
    }

    #[inline]
    pub(crate) fn section(&self, s: Section) -> &[u8] {
        self.data.bytes().get(self.range(s)).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn directory(&self) -> &[[u8; 4]] {
        self.section(Section::Directory).as_chunks::<4>().0
    }

    /// Narrow record `i` of a compact snapshot, as its `u64`.
    #[inline]
    pub(crate) fn compact_record(&self, i: usize) -> Option<u64> {
        self.compact_records().get(i).map(|r| u64::from_le_bytes(*r))
    }

    #[inline]
    pub(crate) fn compact_records(&self) -> &[[u8; 8]] {
        self.section(Section::NarrowRecords).as_chunks::<8>().0
    }

    #[inline]
    pub(crate) fn full_records(&self) -> &[[u8; FULL_RECORD as usize]] {
        self.section(Section::NarrowRecords)
            .as_chunks::<{ FULL_RECORD as usize }>()
            .0
    }

    #[inline]
    pub(crate) fn full_record(&self, i: usize) -> Option<&[u8; FULL_RECORD as usize]> {
        self.full_records().get(i)
    }

    /// The directory bucket holding narrow entry `i`. `hint` is a bucket to start from (the
    /// previous answer when walking in order, so a walk costs O(1) per entry); it is updated.
    #[inline]
    pub(crate) fn bucket_of(&self, i: usize, hint: &mut usize) -> Option<usize> {
        let dir = self.directory();
        let start = |b: usize| dir.get(b).map(|d| u32::from_le_bytes(*d) as usize);
        let buckets = self.header.dir_buckets as usize;
        let mut b = *hint;
        // A few steps forward from the hint (a walk in order, which also crosses runs of empty
        // buckets), else a binary search.
        if b < buckets && start(b)? <= i {
            for _ in 0..64 {
                if start(b + 1)? > i {
                    *hint = b;
                    return Some(b);
                }
                b += 1;
                if b >= buckets {
                    break;
                }
            }
        }
        b = dir
            .partition_point(|d| u32::from_le_bytes(*d) as usize <= i)
            .checked_sub(1)?;
        if b >= buckets {
            return None;
        }
        *hint = b;
        Some(b)
    }

    /// [`Snapshot::narrow_serial_at`] for a walk in order (each `i` at or after the previous
    /// one): the cursor remembers the current bucket and where the next one starts, so most
    /// entries cost one comparison; empty buckets are stepped over.
    #[inline]
    pub(crate) fn narrow_serial_seq(&self, i: usize, c: &mut NarrowCursor) -> Option<u64> {
        if self.header.record_width != COMPACT_RECORD {
            return self.narrow_serial_at(i, &mut c.bucket);
        }
        if i < c.start || i >= c.end {
            let dir = self.directory();
            let start = |b: usize| dir.get(b).map(|d| u32::from_le_bytes(*d) as usize);
            let buckets = self.header.dir_buckets as usize;
            let mut b = if i >= c.start {
                c.bucket
            } else {
                let mut hint = 0;
                self.bucket_of(i, &mut hint)?
            };
            loop {
                let end = start(b + 1)?;
                if end > i {
                    c.end = end;
                    break;
                }
                b += 1;
                if b >= buckets {
                    return None;
                }
            }
            c.bucket = b;
            c.start = start(b)?;
        }
        let shift = self.header.dir_shift;
        let low = compact_key(self.compact_record(i)?) & ((1u64 << shift) - 1);
        Some(
            self.header
                .dir_min
                .wrapping_add((c.bucket as u64) << shift)
                .wrapping_add(low),
        )
    }

    /// The serial of narrow entry `i`; `hint` as for [`Snapshot::bucket_of`].
    #[inline]
    pub(crate) fn narrow_serial_at(&self, i: usize, hint: &mut usize) -> Option<u64> {
        if self.header.record_width == COMPACT_RECORD {
            let b = self.bucket_of(i, hint)? as u64;
            let shift = self.header.dir_shift;
            let low = compact_key(self.compact_record(i)?) & ((1u64 << shift) - 1);
            Some(self.header.dir_min.wrapping_add(b << shift).wrapping_add(low))
        } else {
            let r = self.full_record(i)?;
            let mut s = [0u8; 8];
            s.copy_from_slice(r.get(..8)?);
            Some(u64::from_le_bytes(s))
        }
    }

    #[inline]
    pub(crate) fn wide_serials(&self) -> &[[u8; WIDE_SERIAL_LEN]] {
        self.section(Section::WideSerials)
            .as_chunks::<WIDE_SERIAL_LEN>()
            .0
    }

    #[inline]
    fn partition_at(&self, wide: bool, i: usize) -> Option<u16> {
        let parts = if wide {
            Section::WidePartitions
        } else {
            Section::NarrowPartitions
        };
        Some(match self.header.partition_width {
            1 => u16::from(*self.section(parts).get(i)?),
            2 => u16::from_le_bytes(*self.section(parts).as_chunks::<2>().0.get(i)?),
            _ => 0,
        })
    }

    /// Time, reason and partition of entry `i` of the narrow (`wide == false`) or wide array.
    #[inline]
    pub(crate) fn payload(&self, wide: bool, i: usize) -> Option<crate::Revoked> {
        let (offset, reason) = if wide {
            let t = self.section(Section::WideTimes).as_chunks::<4>().0.get(i)?;
            let reason = decode_reason(*self.section(Section::WideReasons).get(i)?).ok()?;
            (u32::from_le_bytes(*t), reason)
        } else if self.header.record_width == COMPACT_RECORD {
            let r = self.compact_record(i)?;
            (compact_time(r), decode_nibble(compact_nibble(r)).ok()?)
        } else {
            let r = self.full_record(i)?;
            let mut t = [0u8; 4];
            t.copy_from_slice(r.get(8..12)?);
            (u32::from_le_bytes(t), decode_reason(r[12]).ok()?)
        };
        Some(crate::Revoked {
            revoked_at: self.header.base_time + i64::from(offset),
            reason,
            partition: self.partition_at(wide, i)?,
        })
    }

    /// The issuer key identifier (the CA certificate's subjectKeyIdentifier) this snapshot covers.
    pub fn issuer_key_id(&self) -> &[u8] {
        &self.header.key_id
    }

    /// The partitions merged into this snapshot; [`crate::Revoked::partition`] indexes this slice.
    pub fn partitions(&self) -> &[PartitionMeta] {
        &self.partitions
    }

    /// One partition's metadata.
    pub fn partition(&self, index: u16) -> Option<&PartitionMeta> {
        self.partitions.get(usize::from(index))
    }

    /// The index of the partition with this id, or whose CRL names itself so in its
    /// issuingDistributionPoint (a certificate's cRLDistributionPoints name, matched by
    /// [`jpki::dp_name::partition_key`]).
    pub fn partition_index(&self, id: &str) -> Option<u16> {
        self.partition_ids
            .get(id)
            .or_else(|| self.partition_ids.get(&jpki::dp_name::partition_key(id)))
            .copied()
    }

    /// The index of the partition with the earliest nextUpdate.
    pub(crate) fn stalest_index(&self) -> Option<u16> {
        self.stalest
    }

    /// A partition's id, shared.
    pub(crate) fn partition_id_arc(&self, index: u16) -> Option<std::sync::Arc<str>> {
        self.partition_arcs.get(usize::from(index)).cloned()
    }

    /// The partition with the earliest nextUpdate.
    pub fn stalest_partition(&self) -> Option<&PartitionMeta> {
        self.stalest.and_then(|i| self.partition(i))
    }

    /// The freshness that applies to an answer: the certificate's own partition when it is known,
    /// otherwise the stalest partition of this CA key.
    pub fn freshness_for(&self, partition: Option<u16>) -> Option<&PartitionMeta> {
        partition
            .and_then(|p| self.partition(p))
            .or_else(|| self.stalest_partition())
    }

    /// Whether the snapshot has partitions and every one is fresh at `now` (see
    /// [`PartitionMeta::is_fresh`]).
    pub fn is_fresh(&self, now: i64, grace: i64) -> bool {
        !self.partitions.is_empty() && self.partitions.iter().all(|p| p.is_fresh(now, grace))
    }

    /// Number of entries (after merging duplicates).
    pub fn len(&self) -> usize {
        (self.header.narrow_count + self.header.wide_count) as usize
    }

    /// Whether no serial is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Width in bytes of a narrow record: 8 (compact: serials of at most 8 octets that lie close
    /// enough together, as JPKI's do) or 13 (full).
    pub fn record_width(&self) -> u8 {
        self.header.record_width
    }

    /// Entries with serials wider than 8 octets.
    pub fn wide_len(&self) -> usize {
        self.header.wide_count as usize
    }

    /// Entries pushed to the builder that were merged into another entry of the same serial.
    pub fn duplicates(&self) -> u64 {
        self.header.duplicates
    }

    /// Size of the snapshot file in bytes.
    pub fn file_len(&self) -> u64 {
        self.header.file_len
    }

    /// The file this snapshot was opened from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Key id, generation, length and mtime of the file, when opened under a snapshot file name.
    pub fn stamp(&self) -> Option<&FileStamp> {
        self.stamp.as_ref()
    }

    /// The generation from the file name, when opened from a snapshot directory.
    pub fn generation(&self) -> Option<u64> {
        self.stamp.as_ref().map(|s| s.generation)
    }

    /// Every entry in serial order.
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            snapshot: self,
            next: 0,
            hint: 0,
        }
    }

    /// Entry `i` in serial order (`0..len()`).
    pub fn entry(&self, i: usize) -> Option<Entry> {
        self.entry_with_hint(i, &mut 0)
    }

    /// [`Snapshot::entry`], with a directory hint for walks in order.
    pub(crate) fn entry_with_hint(&self, i: usize, hint: &mut usize) -> Option<Entry> {
        let narrow = self.header.narrow_count as usize;
        let (serial, wide, j) = if i < narrow {
            let s = self.narrow_serial_at(i, hint)?;
            (Serial::from_u64(s), false, i)
        } else {
            let j = i - narrow;
            let s = Serial::from_magnitude(self.wide_serials().get(j)?).ok()?;
            (s, true, j)
        };
        let p = self.payload(wide, j)?;
        Some(Entry {
            serial,
            revoked_at: p.revoked_at,
            reason: p.reason,
            partition: p.partition,
        })
    }

    /// The raw bytes (the file content).
    pub fn as_bytes(&self) -> &[u8] {
        self.data
            .bytes()
            .get(..self.header.file_len as usize)
            .unwrap_or_default()
    }
}

/// Iterator over a snapshot's entries in serial order.
#[derive(Debug)]
pub struct Entries<'a> {
    snapshot: &'a Snapshot,
    next: usize,
    hint: usize,
}

impl Iterator for Entries<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        while self.next < self.snapshot.len() {
            let i = self.next;
            self.next += 1;
            if let Some(e) = self.snapshot.entry_with_hint(i, &mut self.hint) {
                return Some(e);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.snapshot.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Entries<'_> {}
