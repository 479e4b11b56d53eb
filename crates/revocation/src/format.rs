//! The snapshot file layout: header fields, section order, the partition table record and the
//! trailing checksum. The table is in the crate documentation; this module is its single source.

use crate::entry::{MAX_CRL_NUMBER_OCTETS, MAX_PARTITION_ID_BYTES, PartitionMeta};
use crate::error::{Error, Result};

/// First eight bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"JPKIREV\0";
/// The format version this build writes. It also reads version 3, which has no distribution
/// point names in its partition table (the bytes that hold their length were reserved and zero),
/// and version 2, which also differs in the order the checksum covers the bytes (see
/// `Header::checksum_split`).
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format version this build reads.
pub const OLDEST_READ_VERSION: u32 = 2;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 240;
/// Size of the trailing checksum.
pub const TRAILER_LEN: usize = 8;
/// Width of a stored wide serial: big-endian magnitude, right-aligned, zero-filled on the left.
pub const WIDE_SERIAL_LEN: usize = 20;
/// Maximum issuer key identifier length.
pub const MAX_KEY_ID_LEN: usize = 32;

/// Sections in file order. Every section starts at a multiple of 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Section {
    PartitionTable = 0,
    Directory = 1,
    NarrowRecords = 2,
    NarrowPartitions = 3,
    WideSerials = 4,
    WideTimes = 5,
    WideReasons = 6,
    WidePartitions = 7,
}

/// Number of sections.
pub const SECTIONS: usize = 8;

/// Width of a compact narrow record: one little-endian `u64` holding the low [`COMPACT_KEY_BITS`]
/// bits of `serial - min` (bits 0 to 27), the reason nibble (bits 28 to 31) and the time offset
/// (bits 32 to 63). The key in the low 32 bits lets a bucket scan compare 32-bit lanes.
pub const COMPACT_RECORD: u8 = 8;
/// Width of a full narrow record: serial `u64`, time offset `u32`, reason byte (unaligned).
pub const FULL_RECORD: u8 = 13;
/// Serial bits a compact record keeps; the directory shift is at most this, so a bucket's serials
/// agree on every higher bit.
pub const COMPACT_KEY_BITS: u32 = 28;
/// Mask of the key bits of a compact record.
pub const COMPACT_KEY_MASK: u64 = (1 << COMPACT_KEY_BITS) - 1;
/// A compact record from its key bits, reason nibble and time offset.
#[inline]
pub fn compact_pack(key: u64, nibble: u8, time: u32) -> u64 {
    (key & COMPACT_KEY_MASK) | (u64::from(nibble & 0xF) << COMPACT_KEY_BITS) | (u64::from(time) << 32)
}

/// The key bits of a compact record.
#[inline]
pub fn compact_key(rec: u64) -> u64 {
    rec & COMPACT_KEY_MASK
}

/// The reason nibble of a compact record.
#[inline]
pub fn compact_nibble(rec: u64) -> u8 {
    ((rec >> COMPACT_KEY_BITS) & 0xF) as u8
}

/// The time offset of a compact record.
#[inline]
pub fn compact_time(rec: u64) -> u32 {
    (rec >> 32) as u32
}

/// The reason nibble of a compact record that stands for "no reasonCode".
pub const COMPACT_NO_REASON: u8 = 0xF;
const SECTION_TABLE_AT: usize = 112;

/// The decoded fixed header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version: [`FORMAT_VERSION`] when written, 2 or 3 when read.
    pub version: u32,
    pub file_len: u64,
    pub base_time: i64,
    pub narrow_count: u64,
    pub wide_count: u64,
    pub duplicates: u64,
    pub partition_count: u32,
    pub partition_width: u8,
    /// Narrow record width: [`COMPACT_RECORD`] or [`FULL_RECORD`].
    pub record_width: u8,
    pub key_id: Vec<u8>,
    pub dir_min: u64,
    pub dir_shift: u32,
    pub dir_buckets: u32,
    /// (offset, length) per section.
    pub sections: [(u64, u64); SECTIONS],
}

/// Rounds up to a multiple of 8.
pub fn pad8(n: u64) -> Option<u64> {
    n.checked_add(7).map(|v| v & !7)
}

impl Header {
    /// The section table implied by the counts and the partition table length, and the file length.
    pub fn layout(
        narrow: u64,
        wide: u64,
        width: u8,
        record_width: u8,
        dir_buckets: u32,
        table_len: u64,
    ) -> Option<([(u64, u64); SECTIONS], u64)> {
        let w = u64::from(width);
        let lens = [
            table_len,
            (u64::from(dir_buckets) + 1).checked_mul(4)?,
            narrow.checked_mul(u64::from(record_width))?,
            narrow.checked_mul(w)?,
            wide.checked_mul(WIDE_SERIAL_LEN as u64)?,
            wide.checked_mul(4)?,
            wide,
            wide.checked_mul(w)?,
        ];
        let mut out = [(0u64, 0u64); SECTIONS];
        let mut at = HEADER_LEN as u64;
        for (slot, len) in out.iter_mut().zip(lens) {
            *slot = (at, len);
            at = pad8(at.checked_add(len)?)?;
        }
        Some((out, at.checked_add(TRAILER_LEN as u64)?))
    }

    /// Encodes the fixed header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let mut w = Cursor { buf: &mut h, at: 0 };
        w.put(&MAGIC);
        w.put(&self.version.to_le_bytes());
        w.put(&(HEADER_LEN as u32).to_le_bytes());
        w.put(&self.file_len.to_le_bytes());
        w.put(&self.base_time.to_le_bytes());
        w.put(&self.narrow_count.to_le_bytes());
        w.put(&self.wide_count.to_le_bytes());
        w.put(&self.duplicates.to_le_bytes());
        w.put(&self.partition_count.to_le_bytes());
        w.put(&[
            self.partition_width,
            self.key_id.len() as u8,
            self.record_width,
            0,
        ]);
        let mut key = [0u8; MAX_KEY_ID_LEN];
        for (d, s) in key.iter_mut().zip(&self.key_id) {
            *d = *s;
        }
        w.put(&key);
        w.put(&self.dir_min.to_le_bytes());
        w.put(&self.dir_shift.to_le_bytes());
        w.put(&self.dir_buckets.to_le_bytes());
        for (off, len) in self.sections {
            w.put(&off.to_le_bytes());
            w.put(&len.to_le_bytes());
        }
        h
    }

    /// Decodes and checks the fixed header against the actual file length.
    pub fn decode(bytes: &[u8]) -> Result<Header> {
        let actual = bytes.len() as u64;
        let h = bytes.get(..HEADER_LEN).ok_or(Error::Truncated {
            field: "header",
            needed: HEADER_LEN as u64,
            actual,
        })?;
        if h.get(..8) != Some(&MAGIC[..]) {
            return Err(Error::BadMagic);
        }
        let version = le_u32(h, 8);
        if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if le_u32(h, 12) as usize != HEADER_LEN {
            return Err(Error::corrupt("header length", 12, "unexpected value"));
        }
        let key_len = usize::from(h.get(61).copied().unwrap_or(0));
        if key_len == 0 || key_len > MAX_KEY_ID_LEN {
            return Err(Error::corrupt("issuer key id length", 61, format!("{key_len}")));
        }
        let mut sections = [(0u64, 0u64); SECTIONS];
        for (i, s) in sections.iter_mut().enumerate() {
            let at = SECTION_TABLE_AT + 16 * i;
            *s = (le_u64(h, at), le_u64(h, at + 8));
        }
        let header = Header {
            version,
            file_len: le_u64(h, 16),
            base_time: le_u64(h, 24) as i64,
            narrow_count: le_u64(h, 32),
            wide_count: le_u64(h, 40),
            duplicates: le_u64(h, 48),
            partition_count: le_u32(h, 56),
            partition_width: h.get(60).copied().unwrap_or(0xFF),
            record_width: h.get(62).copied().unwrap_or(0),
            key_id: h.get(64..64 + key_len).unwrap_or_default().to_vec(),
            dir_min: le_u64(h, 96),
            dir_shift: le_u32(h, 104),
            dir_buckets: le_u32(h, 108),
            sections,
        };
        if header.file_len != actual {
            return Err(Error::Truncated {
                field: "file",
                needed: header.file_len,
                actual,
            });
        }
        let expected_width = match header.partition_count {
            0 | 1 => 0,
            2..=256 => 1,
            257..=65536 => 2,
            _ => return Err(Error::corrupt("partition count", 56, "above 65536")),
        };
        if header.partition_width != expected_width {
            return Err(Error::corrupt(
                "partition index width",
                60,
                "does not match the count",
            ));
        }
        if header.dir_shift >= 64 {
            return Err(Error::corrupt("directory shift", 104, "64 or more"));
        }
        match header.record_width {
            COMPACT_RECORD if header.dir_shift > COMPACT_KEY_BITS => {
                return Err(Error::corrupt(
                    "directory shift",
                    104,
                    "above the compact key width",
                ));
            }
            COMPACT_RECORD | FULL_RECORD => {}
            _ => return Err(Error::corrupt("record width", 62, "neither 8 nor 13")),
        }
        if h.get(63) != Some(&0) {
            return Err(Error::corrupt("reserved", 63, "not zero"));
        }
        if header.base_time.checked_add(i64::from(u32::MAX)).is_none() {
            return Err(Error::corrupt("base time", 24, "too large"));
        }
        let (expected, file_len) = Header::layout(
            header.narrow_count,
            header.wide_count,
            header.partition_width,
            header.record_width,
            header.dir_buckets,
            header.sections.first().map_or(0, |s| s.1),
        )
        .ok_or_else(|| Error::corrupt("counts", 32, "overflow"))?;
        if expected != header.sections || file_len != header.file_len {
            return Err(Error::corrupt(
                "section table",
                SECTION_TABLE_AT,
                "inconsistent with the counts",
            ));
        }
        Ok(header)
    }
}

impl Header {
    /// Where the checksum's two parts meet: version 3 checksums the bytes from here to the
    /// trailer first, then the header and partition table before it, so that a writer can emit
    /// the body before it knows everything the header and table hold (the source CRL's SHA-256
    /// is known only when the whole CRL has been read). Version 2 checksums the bytes in file
    /// order, which is a split at 0.
    pub fn checksum_split(&self) -> usize {
        if self.version >= 3 {
            self.sections
                .get(Section::Directory as usize)
                .map_or(HEADER_LEN, |s| s.0 as usize)
        } else {
            0
        }
    }
}

/// The checksum a file's trailer holds, over `body` (the file without its trailer), read the way
/// `header`'s version says.
pub fn body_checksum(header: &Header, body: &[u8]) -> u64 {
    let split = header.checksum_split().min(body.len());
    let (head, rest) = body.split_at(split);
    let mut sum = Checksum::default();
    sum.update(rest);
    sum.update(head);
    sum.finish()
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, src: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + src.len()) {
            dst.copy_from_slice(src);
        }
        self.at += src.len();
    }
}

pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

/// Fixed part of a partition record, before the id bytes.
const PARTITION_FIXED: usize = 8 + 8 + 8 + 8 + 32 + MAX_CRL_NUMBER_OCTETS;

/// Checks that a partition's metadata fits the format.
pub fn check_partition(meta: &PartitionMeta) -> Result<()> {
    let bad = |detail: String| Error::PartitionMeta {
        id: meta.id.chars().take(64).collect(),
        detail,
    };
    if meta.id.len() > MAX_PARTITION_ID_BYTES {
        return Err(bad(format!(
            "id has {} bytes; at most {MAX_PARTITION_ID_BYTES}",
            meta.id.len()
        )));
    }
    if let Some(name) = &meta.dp_name
        && name.len() > MAX_PARTITION_ID_BYTES
    {
        return Err(bad(format!(
            "distribution point name has {} bytes; at most {MAX_PARTITION_ID_BYTES}",
            name.len()
        )));
    }
    let start = meta
        .crl_number
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(meta.crl_number.len());
    if meta.crl_number.len() - start > MAX_CRL_NUMBER_OCTETS {
        return Err(bad("CRL number longer than 20 octets".into()));
    }
    Ok(())
}

/// Encodes the partition table: one 8-aligned record per partition.
///
/// Record: id length u16, CRL number length u8, distribution point name length u16 (0: none;
/// reserved and zero before version 4), 3 reserved bytes, thisUpdate i64, nextUpdate i64, entries
/// u64, source SHA-256 \[32\], CRL number \[20\] (right-aligned), id (UTF-8), distribution point
/// name (UTF-8), zero padding.
pub fn encode_partitions(parts: &[PartitionMeta]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let start = p
            .crl_number
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(p.crl_number.len());
        let num = p.crl_number.get(start..).unwrap_or_default();
        let id = p.id.as_bytes();
        let name = p.dp_name.as_deref().unwrap_or_default().as_bytes();
        out.extend_from_slice(&(id.len() as u16).to_le_bytes());
        out.push(num.len() as u8);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&p.this_update.to_le_bytes());
        out.extend_from_slice(&p.next_update.to_le_bytes());
        out.extend_from_slice(&p.entries.to_le_bytes());
        out.extend_from_slice(&p.source_sha256);
        let mut n = [0u8; MAX_CRL_NUMBER_OCTETS];
        let off = MAX_CRL_NUMBER_OCTETS.saturating_sub(num.len());
        if let Some(d) = n.get_mut(off..) {
            d.copy_from_slice(num);
        }
        out.extend_from_slice(&n);
        out.extend_from_slice(id);
        out.extend_from_slice(name);
        out.resize(out.len().div_ceil(8) * 8, 0);
    }
    out
}

/// Decodes the partition table; `base` is its file offset, for error messages.
pub fn decode_partitions(table: &[u8], count: u32, base: usize) -> Result<Vec<PartitionMeta>> {
    let mut out = Vec::with_capacity(count.min(65536) as usize);
    let mut at = 0usize;
    for _ in 0..count {
        let fixed = table
            .get(at..at + PARTITION_FIXED)
            .ok_or_else(|| Error::corrupt("partition table", base + at, "record past the end"))?;
        let id_len = usize::from(u16::from_le_bytes([
            fixed.first().copied().unwrap_or(0),
            fixed.get(1).copied().unwrap_or(0),
        ]));
        let num_len = usize::from(fixed.get(2).copied().unwrap_or(0xFF));
        let name_len = usize::from(u16::from_le_bytes([
            fixed.get(3).copied().unwrap_or(0),
            fixed.get(4).copied().unwrap_or(0),
        ]));
        if num_len > MAX_CRL_NUMBER_OCTETS
            || id_len > MAX_PARTITION_ID_BYTES
            || name_len > MAX_PARTITION_ID_BYTES
        {
            return Err(Error::corrupt(
                "partition record",
                base + at,
                "length out of range",
            ));
        }
        let mut sha = [0u8; 32];
        sha.copy_from_slice(fixed.get(32..64).unwrap_or(&[0; 32]));
        let num = fixed
            .get(64 + MAX_CRL_NUMBER_OCTETS - num_len..64 + MAX_CRL_NUMBER_OCTETS)
            .unwrap_or_default();
        let id_at = at + PARTITION_FIXED;
        let id = table
            .get(id_at..id_at + id_len)
            .ok_or_else(|| Error::corrupt("partition id", base + id_at, "past the end"))?;
        let id =
            std::str::from_utf8(id).map_err(|_| Error::corrupt("partition id", base + id_at, "not UTF-8"))?;
        let name_at = id_at + id_len;
        let name = table
            .get(name_at..name_at + name_len)
            .ok_or_else(|| Error::corrupt("distribution point name", base + name_at, "past the end"))?;
        let name = std::str::from_utf8(name)
            .map_err(|_| Error::corrupt("distribution point name", base + name_at, "not UTF-8"))?;
        out.push(PartitionMeta {
            id: id.to_owned(),
            dp_name: (!name.is_empty()).then(|| name.to_owned()),
            crl_number: num.to_vec(),
            this_update: le_u64(fixed, 8) as i64,
            next_update: le_u64(fixed, 16) as i64,
            entries: le_u64(fixed, 24),
            source_sha256: sha,
        });
        at = (name_at + name_len).div_ceil(8) * 8;
    }
    if at != table.len() {
        return Err(Error::corrupt(
            "partition table",
            base + at,
            "length does not match the records",
        ));
    }
    Ok(out)
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// A 64-bit checksum over 32-byte blocks in four independent lanes (for speed on long arrays).
///
/// Each step `lane = rotl((lane ^ word) * K1, 29)` is a bijection of the lane for a fixed word and
/// of the word for a fixed lane, and the final combination is too, so any change confined to one
/// 8-byte word always changes the result; other damage goes undetected with probability about
/// 2^-64. It guards against torn and damaged files, not against an adversary (the source CRL's
/// signature and SHA-256 are checked before a snapshot is built).
#[derive(Clone, Debug)]
pub struct Checksum {
    lanes: [u64; 4],
    buf: [u8; 32],
    buf_len: usize,
    total: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            lanes: [K1, K2, K1 ^ K2, K1.rotate_left(17)],
            buf: [0; 32],
            buf_len: 0,
            total: 0,
        }
    }
}

#[inline]
fn step(lane: u64, word: u64) -> u64 {
    (lane ^ word).wrapping_mul(K1).rotate_left(29)
}

impl Checksum {
    /// Feeds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (32 - self.buf_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(d) = self.buf.get_mut(self.buf_len..self.buf_len + take) {
                d.copy_from_slice(head);
            }
            self.buf_len += take;
            data = rest;
            if self.buf_len < 32 {
                return;
            }
            let block = self.buf;
            self.block(&block);
            self.buf_len = 0;
        }
        let (blocks, tail) = data.as_chunks::<32>();
        for b in blocks {
            self.block(b);
        }
        if let Some(d) = self.buf.get_mut(..tail.len()) {
            d.copy_from_slice(tail);
        }
        self.buf_len = tail.len();
    }

    #[inline]
    fn block(&mut self, b: &[u8; 32]) {
        let (words, _) = b.as_chunks::<8>();
        for (lane, w) in self.lanes.iter_mut().zip(words) {
            *lane = step(*lane, u64::from_le_bytes(*w));
        }
    }

    /// The checksum of everything fed.
    pub fn finish(mut self) -> u64 {
        if self.buf_len > 0 {
            let mut block = [0u8; 32];
            if let (Some(d), Some(s)) = (block.get_mut(..self.buf_len), self.buf.get(..self.buf_len)) {
                d.copy_from_slice(s);
            }
            self.block(&block);
        }
        let mut h = self.total ^ K2;
        for lane in self.lanes {
            h = step(h, lane);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(K2);
        h ^ (h >> 29)
    }
}

/// The checksum of a byte string.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut c = Checksum::default();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests;
