//! The structural checks a snapshot passes before it is used, beyond the header and checksum.

use super::Snapshot;
use crate::entry::{decode_nibble, decode_reason};
use crate::error::{Error, Result};
use crate::format::{
    COMPACT_KEY_MASK, COMPACT_RECORD, Section, WIDE_SERIAL_LEN, compact_key, compact_nibble,
};

impl Snapshot {
    /// The O(entries) checks of [`Snapshot::open`]: both serial arrays strictly increasing, the
    /// directory exactly the one the serials imply (with the parameters they imply), every compact
    /// key, reason and partition index valid.
    pub(super) fn check_arrays(&self) -> Result<()> {
        let at = |s: Section| self.range(s).start;
        // Narrow records: strictly increasing serials, and the directory is exactly the one they
        // imply; compact records also keep the key bits their bucket implies and a valid reason.
        let n = self.header.narrow_count as usize;
        let dir = self.directory();
        let buckets = self.header.dir_buckets as usize;
        let dir_at = |b: usize| dir.get(b).map(|d| u32::from_le_bytes(*d) as usize);
        let bad_dir = || Error::corrupt("directory", at(Section::Directory), "does not match the serials");
        if dir_at(0) != Some(0) || dir_at(buckets) != Some(n) {
            return Err(bad_dir());
        }
        if dir
            .windows(2)
            .any(|w| matches!(w, [a, b] if u32::from_le_bytes(*a) > u32::from_le_bytes(*b)))
        {
            return Err(bad_dir());
        }
        let compact = self.header.record_width == COMPACT_RECORD;
        if n == 0 {
            if buckets != 0 || !compact {
                return Err(Error::corrupt("directory", at(Section::Directory), "not empty"));
            }
        } else {
            let first = self.narrow_serial_at(0, &mut 0).unwrap_or(0);
            let last = self.narrow_serial_at(n - 1, &mut 0).unwrap_or(0);
            let density = crate::builder::bucket_density(self.header.version);
            let expected = crate::builder::directory_params(n, first, last, density);
            let found = (self.header.record_width, self.header.dir_shift, buckets);
            if self.header.dir_min != first || found != expected {
                return Err(Error::corrupt(
                    "directory",
                    96,
                    "parameters do not match the serials",
                ));
            }
        }
        let rec_at = |i: usize| at(Section::NarrowRecords) + usize::from(self.header.record_width) * i;
        let mut prev: Option<u64> = None;
        let mut hint = 0usize;
        for i in 0..n {
            let b = self.bucket_of(i, &mut hint).ok_or_else(bad_dir)?;
            let v = self.narrow_serial_at(i, &mut hint).ok_or_else(bad_dir)?;
            if prev.is_some_and(|p| p >= v) {
                return Err(Error::corrupt(
                    "narrow records",
                    rec_at(i),
                    "not strictly increasing",
                ));
            }
            prev = Some(v);
            if v.checked_sub(self.header.dir_min)
                .map(|d| (d >> self.header.dir_shift) as usize)
                != Some(b)
            {
                return Err(bad_dir());
            }
            let reason_ok = if compact {
                let r = self.compact_record(i).unwrap_or(0);
                let key_ok = compact_key(r) == (v - self.header.dir_min) & COMPACT_KEY_MASK;
                if !key_ok {
                    return Err(Error::corrupt(
                        "narrow records",
                        rec_at(i),
                        "key bits do not match the bucket",
                    ));
                }
                decode_nibble(compact_nibble(r)).is_ok()
            } else {
                self.full_record(i).is_some_and(|r| decode_reason(r[12]).is_ok())
            };
            if !reason_ok {
                return Err(Error::corrupt("narrow records", rec_at(i), "not a CRLReason"));
            }
        }
        // Wide serials: strictly increasing and really wider than 8 octets.
        let wide = self.wide_serials();
        for (i, s) in wide.iter().enumerate() {
            if s.get(..WIDE_SERIAL_LEN - 8)
                .is_none_or(|hi| hi.iter().all(|b| *b == 0))
            {
                return Err(Error::corrupt(
                    "wide serials",
                    at(Section::WideSerials) + 20 * i,
                    "fits in 8 octets",
                ));
            }
            if i > 0 && wide.get(i - 1).is_some_and(|p| p >= s) {
                return Err(Error::corrupt(
                    "wide serials",
                    at(Section::WideSerials) + 20 * i,
                    "not strictly increasing",
                ));
            }
        }
        if let Some(i) = self
            .section(Section::WideReasons)
            .iter()
            .position(|r| decode_reason(*r).is_err())
        {
            return Err(Error::corrupt(
                "wide reasons",
                at(Section::WideReasons) + i,
                "not a CRLReason",
            ));
        }
        let count = self.partitions.len();
        for (s, field) in [
            (Section::NarrowPartitions, "narrow partitions"),
            (Section::WidePartitions, "wide partitions"),
        ] {
            let bytes = self.section(s);
            let bad = match self.header.partition_width {
                1 => bytes.iter().position(|p| usize::from(*p) >= count),
                2 => bytes
                    .as_chunks::<2>()
                    .0
                    .iter()
                    .position(|p| usize::from(u16::from_le_bytes(*p)) >= count),
                _ => None,
            };
            if let Some(i) = bad {
                return Err(Error::corrupt(field, at(s) + i, "partition index out of range"));
            }
        }
        if count == 0 && !self.is_empty() {
            return Err(Error::corrupt(
                "partition table",
                at(Section::PartitionTable),
                "entries but no partition",
            ));
        }
        Ok(())
    }
}
