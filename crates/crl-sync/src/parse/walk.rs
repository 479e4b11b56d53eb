//! The walk over `revokedCertificates`: each entry to a [`RevokedVisitor`], whole or fed in the
//! pieces a file is read in ([`EntryStream`]).

use super::fast::{common_entry, utc_time};
use super::tlv::*;
use super::{entry_extensions, skeleton};
use crate::error::CrlError;

/// Receives the revoked entries of a CRL, in CRL order.
///
/// The index builder implements this; so does any `FnMut(&[u8], i64, Option<u8>) -> Result<(), CrlError>`.
pub trait RevokedVisitor {
    /// One entry.
    ///
    /// - `serial_der_content`: the content octets of the serial's DER INTEGER in minimal form
    ///   (non-negative, at most 20 octets of magnitude, so 21 with a sign octet); it is accepted by
    ///   `jpki::Serial::from_der_content`. It borrows the CRL.
    /// - `revoked_at_unix`: revocationDate in Unix seconds.
    /// - `reason`: the CRLReason code (0..=10, never 7) if the entry has a reasonCode extension.
    fn entry(
        &mut self,
        serial_der_content: &[u8],
        revoked_at_unix: i64,
        reason: Option<u8>,
    ) -> Result<(), CrlError>;

    /// An entry whose serial has at most 8 octets of magnitude, also given as its value (what
    /// nearly every entry of a JPKI CRL is): a visitor that indexes serials as integers takes it
    /// from here instead of decoding the DER content again. By default, [`RevokedVisitor::entry`].
    #[inline]
    fn narrow_entry(
        &mut self,
        serial: u64,
        serial_der_content: &[u8],
        revoked_at_unix: i64,
        reason: Option<u8>,
    ) -> Result<(), CrlError> {
        let _ = serial;
        self.entry(serial_der_content, revoked_at_unix, reason)
    }
}

impl<F> RevokedVisitor for F
where
    F: FnMut(&[u8], i64, Option<u8>) -> Result<(), CrlError>,
{
    fn entry(&mut self, serial: &[u8], revoked_at: i64, reason: Option<u8>) -> Result<(), CrlError> {
        self(serial, revoked_at, reason)
    }
}

/// What a walk over `revokedCertificates` saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WalkStats {
    /// Entries handed to the visitor.
    pub entries: u64,
    /// Entries with a reasonCode extension.
    pub with_reason: u64,
    /// Serials longer than 8 octets of magnitude (the index's wide path).
    pub wide_serials: u64,
    /// Serials whose INTEGER had redundant leading zero octets (accepted; see the module doc).
    pub non_minimal_serials: u64,
    /// The longest serial magnitude seen, in octets.
    pub max_serial_octets: u8,
}

/// Walks the content of `revokedCertificates` (the concatenated entry SEQUENCEs) and hands each
/// entry to `visitor`. Offsets in errors are relative to the start of `revoked`; use
/// [`CrlHeader::walk_revoked`](super::CrlHeader::walk_revoked) for offsets into the whole CRL.
///
/// Stops at the first malformed entry or the first error from the visitor.
pub fn walk_revoked<V: RevokedVisitor + ?Sized>(
    revoked: &[u8],
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    walk_revoked_at(revoked, 0, visitor)
}

pub(super) fn walk_revoked_at<V: RevokedVisitor + ?Sized>(
    revoked: &[u8],
    base: usize,
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    walk_entries::<V, true>(revoked, base, visitor)
}

/// The walk; `FAST` enables the common-shape path (off only in tests, as the reference).
pub(super) fn walk_entries<V: RevokedVisitor + ?Sized, const FAST: bool>(
    revoked: &[u8],
    base: usize,
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    walk_from::<V, FAST, false>(revoked, base, visitor).map(|(stats, _)| stats)
}

/// The walk, and how many bytes of `revoked` it consumed. With `WHOLE_ONLY`, it stops before
/// the first entry that does not lie wholly in `revoked` (or whose length cannot be read), for
/// the caller to complete from the next piece; otherwise such an entry is an error.
#[inline(always)]
fn walk_from<V: RevokedVisitor + ?Sized, const FAST: bool, const WHOLE_ONLY: bool>(
    revoked: &[u8],
    base: usize,
    visitor: &mut V,
) -> Result<(WalkStats, usize), CrlError> {
    let mut stats = WalkStats::default();
    let mut list = Reader::new(revoked, base);
    while !list.is_empty() {
        // The shape nearly every entry has; anything else takes the general path below, which
        // accepts and rejects exactly what it always did.
        if FAST
            && let Some(fast) = list.rest().and_then(common_entry)
            && let Some(revoked_at) = utc_time(fast.time)
        {
            let magnitude = match fast.serial {
                [0, rest @ ..] => rest,
                all => all,
            };
            let octets = magnitude.len();
            if octets <= 8 {
                let value = magnitude.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
                visitor.narrow_entry(value, fast.serial, revoked_at, fast.reason)?;
            } else {
                visitor.entry(fast.serial, revoked_at, fast.reason)?;
            }
            list.skip(fast.len);
            stats.entries += 1;
            stats.with_reason += u64::from(fast.reason.is_some());
            stats.wide_serials += u64::from(octets > 8);
            stats.max_serial_octets = stats.max_serial_octets.max(octets as u8);
            continue;
        }
        if WHOLE_ONLY {
            let rest = list.rest().unwrap_or_default();
            if skeleton::tlv_len(rest).is_none_or(|n| n > rest.len()) {
                break;
            }
        }
        let offset = list.offset();
        let bad = |what: &'static str| CrlError::BadEntry { offset, what };
        let entry = list.read().map_err(|p| bad(p.what))?;
        if entry.tag != TAG_SEQUENCE {
            return Err(bad("entry is not a SEQUENCE"));
        }
        let mut fields = Reader::of(&entry);
        let serial = fields
            .expect(TAG_INTEGER, "userCertificate is not an INTEGER")
            .map_err(|p| bad(p.what))?;
        let (serial, minimal) = unsigned_integer(serial.content).map_err(bad)?;
        let time = fields.read().map_err(|p| bad(p.what))?;
        let revoked_at = parse_time(time.tag, time.content).map_err(bad)?;
        let reason = if fields.is_empty() {
            None
        } else {
            let extensions = fields
                .expect(TAG_SEQUENCE, "crlEntryExtensions is not a SEQUENCE")
                .map_err(|p| bad(p.what))?;
            fields
                .finish("unexpected element after crlEntryExtensions")
                .map_err(|p| bad(p.what))?;
            entry_extensions(&extensions, offset)?
        };
        visitor.entry(serial, revoked_at, reason)?;

        stats.entries += 1;
        stats.with_reason += u64::from(reason.is_some());
        stats.non_minimal_serials += u64::from(!minimal);
        let octets = match serial {
            [0, rest @ ..] => rest.len(),
            _ => serial.len(),
        };
        stats.wide_serials += u64::from(octets > 8);
        stats.max_serial_octets = stats.max_serial_octets.max(octets as u8);
    }
    Ok((stats, list.offset() - base))
}

impl WalkStats {
    fn merge(&mut self, o: WalkStats) {
        self.entries += o.entries;
        self.with_reason += o.with_reason;
        self.wide_serials += o.wide_serials;
        self.non_minimal_serials += o.non_minimal_serials;
        self.max_serial_octets = self.max_serial_octets.max(o.max_serial_octets);
    }
}

/// The revoked entries of a CRL fed in consecutive pieces (as a file is read): whole entries
/// are walked as they arrive, one that straddles two pieces once it is complete. Offsets in
/// errors are the same as a walk over the whole list would give.
#[derive(Default)]
pub(crate) struct EntryStream {
    carry: Vec<u8>,
    carry_at: usize,
    stats: WalkStats,
}

impl EntryStream {
    /// Feeds `data`, the entry bytes at offset `at` (right after the previous piece).
    pub(crate) fn feed<V: RevokedVisitor + ?Sized>(
        &mut self,
        mut data: &[u8],
        mut at: usize,
        visitor: &mut V,
    ) -> Result<(), CrlError> {
        if !self.carry.is_empty() {
            // Complete the entry the last piece ended in.
            let need = loop {
                match skeleton::tlv_len(&self.carry) {
                    Some(n) => break n,
                    None if self.carry.len() >= 6 || data.is_empty() => {
                        if self.carry.len() >= 6 {
                            // Not a definite DER length: the reader says why.
                            self.stats
                                .merge(walk_revoked_at(&self.carry, self.carry_at, visitor)?);
                            self.carry.clear();
                        }
                        return Ok(());
                    }
                    None => {
                        let (first, rest) = data.split_at(1);
                        self.carry.extend_from_slice(first);
                        data = rest;
                        at += 1;
                    }
                }
            };
            let take = need.saturating_sub(self.carry.len()).min(data.len());
            let (first, rest) = data.split_at(take);
            self.carry.extend_from_slice(first);
            data = rest;
            at += take;
            if self.carry.len() < need {
                return Ok(());
            }
            self.stats
                .merge(walk_revoked_at(&self.carry, self.carry_at, visitor)?);
            self.carry.clear();
        }
        // The whole entries in one pass; the rest waits for the next piece.
        let (stats, whole) = walk_from::<V, true, true>(data, at, visitor)?;
        self.stats.merge(stats);
        self.carry
            .extend_from_slice(data.get(whole..).unwrap_or_default());
        self.carry_at = at + whole;
        Ok(())
    }

    /// After the last piece: what was seen (a partial entry left over is reported as the
    /// reader reports a truncated one).
    pub(crate) fn finish<V: RevokedVisitor + ?Sized>(
        mut self,
        visitor: &mut V,
    ) -> Result<WalkStats, CrlError> {
        if !self.carry.is_empty() {
            self.stats
                .merge(walk_revoked_at(&self.carry, self.carry_at, visitor)?);
        }
        Ok(self.stats)
    }
}

/// The streaming reader's view of a CRL held whole (for tests and fuzzing): its skeleton, the
/// CRL without entries that [`parse_crl`](super::parse_crl) reads when a file is streamed (`skeleton`); `None`
/// when the CRL does not have the shape streaming handles.
pub fn skeleton_of(der: &[u8]) -> Option<Vec<u8>> {
    let l = skeleton::layout(der, der.len())?;
    skeleton::skeleton(&l, der.get(..l.revoked_start)?, der.get(l.revoked_end..)?)
}

/// Walks `revoked` fed in pieces of `piece` bytes, as the streaming reader feeds a file's
/// chunks (for tests and fuzzing); the result must equal [`walk_revoked`]'s.
pub fn walk_revoked_in_pieces<V: RevokedVisitor + ?Sized>(
    revoked: &[u8],
    piece: usize,
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    let mut stream = EntryStream::default();
    let mut at = 0;
    for chunk in revoked.chunks(piece.max(1)) {
        stream.feed(chunk, at, visitor)?;
        at += chunk.len();
    }
    stream.finish(visitor)
}
