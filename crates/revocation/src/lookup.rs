//! Lookups: the directory narrows a narrow serial to one small bucket (4 to 8 records on average:
//! about a cache line), which is then scanned without branches; wide serials use a binary search
//! (they are rare).
//!
//! A compact record holds the serial's key bits, the reason and the time in one `u64`, so a hit
//! costs two dependent memory reads (directory, then record) plus the partition byte when the
//! snapshot has several partitions.

use jpki::Serial;

use crate::entry::Revoked;
use crate::format::{COMPACT_KEY_MASK, COMPACT_RECORD, FULL_RECORD, WIDE_SERIAL_LEN, compact_key};
use crate::snapshot::Snapshot;

/// Buckets up to this length are scanned without branches; longer ones (skewed serials) are
/// binary-searched.
const SCAN_LIMIT: usize = 32;

/// Probes handled together by [`Snapshot::lookup_batch`], so their cache misses overlap.
const BATCH: usize = 16;

/// The fixed-width key of a serial wider than 8 octets.
pub(crate) fn wide_key(serial: &Serial) -> Option<[u8; WIDE_SERIAL_LEN]> {
    let mag = serial.magnitude();
    let mut key = [0u8; WIDE_SERIAL_LEN];
    key.get_mut(WIDE_SERIAL_LEN.checked_sub(mag.len())?..)?
        .copy_from_slice(&mag);
    Some(key)
}

#[inline]
fn compact_rec(r: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*r)
}

#[inline]
fn full_key(r: &[u8; FULL_RECORD as usize]) -> u64 {
    let (k, _) = r.split_first_chunk::<8>().unwrap_or((&[0xFF; 8], &[]));
    u64::from_le_bytes(*k)
}

/// Index of the first record of `block` whose key is not below `x`.
#[inline]
fn position_in<R>(block: &[R], x: u64, key: impl Fn(&R) -> u64) -> usize {
    if block.len() <= SCAN_LIMIT {
        block.iter().filter(|r| key(r) < x).count()
    } else {
        block.partition_point(|r| key(r) < x)
    }
}

impl Snapshot {
    /// Whether `serial` is listed, and if so when, why and by which partition.
    #[inline]
    pub fn lookup(&self, serial: &Serial) -> Option<Revoked> {
        match serial.as_u64() {
            Some(x) => self.lookup_u64(x),
            None => {
                let key = wide_key(serial)?;
                let i = self.find_wide(&key)?;
                self.payload(true, i)
            }
        }
    }

    /// [`Snapshot::lookup`] for a serial that fits in 8 octets.
    #[inline]
    pub fn lookup_u64(&self, serial: u64) -> Option<Revoked> {
        let i = self.find_narrow(serial)?;
        self.payload(false, i)
    }

    /// Whether `serial` is listed.
    pub fn contains(&self, serial: &Serial) -> bool {
        match serial.as_u64() {
            Some(x) => self.find_narrow(x).is_some(),
            None => wide_key(serial).and_then(|k| self.find_wide(&k)).is_some(),
        }
    }

    /// Looks up many serials at once, appending one answer per serial to `out`, in order.
    ///
    /// Same answers as [`Snapshot::lookup`], faster for bulk status checks: the probes are taken
    /// in groups whose directory and record reads are issued before any of them is searched, so
    /// their cache misses overlap instead of queueing.
    pub fn lookup_batch(&self, serials: &[Serial], out: &mut Vec<Option<Revoked>>) {
        out.reserve(serials.len());
        let compact = self.compact_records();
        let full = self.full_records();
        let is_compact = self.header.record_width == COMPACT_RECORD;
        for group in serials.chunks(BATCH) {
            // Stage 1: directory reads (independent of one another).
            let mut bounds = [(0usize, 0usize); BATCH];
            for (slot, s) in bounds.iter_mut().zip(group) {
                if let Some(b) = s.as_u64().and_then(|x| self.bucket(x)) {
                    *slot = b;
                }
            }
            // Stage 2: touch each bucket's first record so all the misses overlap.
            let mut touch = 0u64;
            for &(lo, hi) in &bounds {
                if lo < hi {
                    touch ^= if is_compact {
                        compact.get(lo).map_or(0, compact_rec)
                    } else {
                        full.get(lo).map_or(0, full_key)
                    };
                }
            }
            std::hint::black_box(touch);
            // Stage 3: search and read the payloads.
            for (&(lo, hi), s) in bounds.iter().zip(group) {
                out.push(match s.as_u64() {
                    Some(x) => self.search(lo, hi, x).and_then(|i| self.payload(false, i)),
                    None => self.lookup(s),
                });
            }
        }
    }

    /// The directory bucket of `x`: the range of narrow indexes that may hold it.
    #[inline]
    fn bucket(&self, x: u64) -> Option<(usize, usize)> {
        let d = x.checked_sub(self.header.dir_min)?;
        let b = d >> self.header.dir_shift;
        if b >= u64::from(self.header.dir_buckets) {
            return None;
        }
        let b = b as usize;
        let dir = self.directory();
        let lo = u32::from_le_bytes(*dir.get(b)?) as usize;
        let hi = u32::from_le_bytes(*dir.get(b + 1)?) as usize;
        Some((lo, hi))
    }

    /// The index of `x` among the narrow records `lo..hi` (its bucket), if listed.
    #[inline]
    fn search(&self, lo: usize, hi: usize, x: u64) -> Option<usize> {
        if self.header.record_width == COMPACT_RECORD {
            let key = x.wrapping_sub(self.header.dir_min) & COMPACT_KEY_MASK;
            let recs = self.compact_records();
            let block = recs.get(lo..hi)?;
            let pos = position_in(block, key, |r| compact_key(compact_rec(r)));
            (block.get(pos).map(|r| compact_key(compact_rec(r))) == Some(key)).then_some(lo + pos)
        } else {
            let block = self.full_records().get(lo..hi)?;
            let pos = position_in(block, x, full_key);
            (block.get(pos).map(full_key) == Some(x)).then_some(lo + pos)
        }
    }

    /// Index of a narrow serial in the narrow records.
    #[inline]
    pub(crate) fn find_narrow(&self, x: u64) -> Option<usize> {
        let (lo, hi) = self.bucket(x)?;
        self.search(lo, hi, x)
    }

    /// Index of a wide serial in the wide arrays.
    pub(crate) fn find_wide(&self, key: &[u8; WIDE_SERIAL_LEN]) -> Option<usize> {
        self.wide_serials().binary_search(key).ok()
    }
}
