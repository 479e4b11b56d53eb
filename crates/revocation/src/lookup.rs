//! Lookups: the directory narrows a narrow serial to one small block (a cache line or two for
//! near-sequential serials), which is then scanned; wide serials use a binary search (they are rare).

use jpki::Serial;

use crate::entry::Revoked;
use crate::format::WIDE_SERIAL_LEN;
use crate::snapshot::Snapshot;

/// Blocks up to this length are scanned without branches; longer ones (skewed serials) are
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
fn position_in(block: &[[u8; 8]], x: u64) -> usize {
    if block.len() <= SCAN_LIMIT {
        block.iter().filter(|s| u64::from_le_bytes(**s) < x).count()
    } else {
        block.partition_point(|s| u64::from_le_bytes(*s) < x)
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
        self.lookup_narrow(serial)
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
    /// in groups whose directory and block reads are issued before any of them is searched, so
    /// their cache misses overlap instead of queueing.
    pub fn lookup_batch(&self, serials: &[Serial], out: &mut Vec<Option<Revoked>>) {
        out.reserve(serials.len());
        let dir = self.directory();
        let keys = self.narrow_serials();
        let times = self.section(crate::format::Section::NarrowTimes);
        let reasons = self.section(crate::format::Section::NarrowReasons);
        let min = self.header.dir_min;
        let shift = self.header.dir_shift;
        let buckets = u64::from(self.header.dir_buckets);
        for group in serials.chunks(BATCH) {
            // Stage 1: directory reads (independent of one another).
            let mut bounds = [(0usize, 0usize); BATCH];
            for (slot, s) in bounds.iter_mut().zip(group) {
                if let Some(b) = s
                    .as_u64()
                    .and_then(|x| x.checked_sub(min))
                    .map(|d| d >> shift)
                    .filter(|b| *b < buckets)
                    && let (Some(lo), Some(hi)) = (dir.get(b as usize), dir.get(b as usize + 1))
                {
                    *slot = (u32::from_le_bytes(*lo) as usize, u32::from_le_bytes(*hi) as usize);
                }
            }
            // Stage 2: touch each block's first key and payload so all the misses overlap, then
            // search.
            let mut touch = 0u64;
            for &(lo, hi) in &bounds {
                if lo < hi {
                    touch ^= keys.get(lo).map_or(0, |k| u64::from_le_bytes(*k))
                        ^ u64::from(times.get(lo * 4).copied().unwrap_or(0))
                        ^ u64::from(reasons.get(lo).copied().unwrap_or(0));
                }
            }
            std::hint::black_box(touch);
            let mut found = [None::<usize>; BATCH];
            for ((slot, &(lo, hi)), s) in found.iter_mut().zip(&bounds).zip(group) {
                *slot = match s.as_u64() {
                    Some(x) => keys.get(lo..hi).and_then(|block| {
                        let pos = position_in(block, x);
                        (block.get(pos).map(|k| u64::from_le_bytes(*k)) == Some(x)).then_some(lo + pos)
                    }),
                    None => None,
                };
            }
            // Stage 3: payloads.
            for (i, s) in found.iter().zip(group) {
                out.push(match (i, s.as_u64()) {
                    (Some(i), _) => self.payload(false, *i),
                    (None, Some(_)) => None,
                    (None, None) => self.lookup(s),
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

    /// Index of a narrow serial in the narrow arrays.
    #[inline]
    pub(crate) fn find_narrow(&self, x: u64) -> Option<usize> {
        let (lo, hi) = self.bucket(x)?;
        let block = self.narrow_serials().get(lo..hi)?;
        let pos = position_in(block, x);
        (block.get(pos).map(|k| u64::from_le_bytes(*k)) == Some(x)).then_some(lo + pos)
    }

    /// [`Snapshot::lookup_u64`]. Before searching the bucket it touches the payload of the
    /// bucket's first entry: those cache lines usually hold the payload of the entry found too, so
    /// reading it no longer waits for the search (two dependent memory reads per hit, not three).
    #[inline]
    fn lookup_narrow(&self, x: u64) -> Option<Revoked> {
        let (lo, hi) = self.bucket(x)?;
        let times = self.section(crate::format::Section::NarrowTimes);
        let reasons = self.section(crate::format::Section::NarrowReasons);
        let warm = times.get(lo * 4).copied().unwrap_or(0) ^ reasons.get(lo).copied().unwrap_or(0);
        std::hint::black_box(warm);
        let block = self.narrow_serials().get(lo..hi)?;
        let pos = position_in(block, x);
        if block.get(pos).map(|k| u64::from_le_bytes(*k)) == Some(x) {
            self.payload(false, lo + pos)
        } else {
            None
        }
    }

    /// Index of a wide serial in the wide arrays.
    pub(crate) fn find_wide(&self, key: &[u8; WIDE_SERIAL_LEN]) -> Option<usize> {
        self.wide_serials().binary_search(key).ok()
    }
}
