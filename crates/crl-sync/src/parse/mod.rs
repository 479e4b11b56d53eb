//! A zero-copy, streaming CRL reader (RFC 5280 §5).
//!
//! ```text
//! CertificateList  ::=  SEQUENCE  {
//!      tbsCertList          TBSCertList,
//!      signatureAlgorithm   AlgorithmIdentifier,
//!      signatureValue       BIT STRING  }
//!
//! TBSCertList  ::=  SEQUENCE  {
//!      version                 Version OPTIONAL,   -- if present, MUST be v2
//!      signature               AlgorithmIdentifier,
//!      issuer                  Name,
//!      thisUpdate              Time,
//!      nextUpdate              Time OPTIONAL,
//!      revokedCertificates     SEQUENCE OF SEQUENCE  {
//!           userCertificate         CertificateSerialNumber,
//!           revocationDate          Time,
//!           crlEntryExtensions      Extensions OPTIONAL  -- if present, version MUST be v2
//!                                }  OPTIONAL,
//!      crlExtensions           [0]  EXPLICIT Extensions OPTIONAL  -- if present, version MUST be v2
//!                                }
//! ```
//!
//! [`parse_crl`] reads everything except the revoked entries into a [`CrlHeader`] that borrows the
//! input: the signed bytes (`tbs`), the signature, the issuer, the times and the CRL extensions.
//! [`walk_revoked`] then scans `revokedCertificates` once and hands each entry's serial (a sub-slice
//! of the input), revocation time and reason to a [`RevokedVisitor`]; nothing is allocated per
//! entry, so a 20 M-entry, 800 MB CRL costs no memory beyond the input and what the visitor keeps.
//!
//! What this module does not do: verify the signature or the issuer (see [`crate::verify`]), decide
//! whether a CRL is fresh, or accept delta and indirect CRLs, which J-LIS does not publish.
//!
//! Leniency, chosen on purpose: long-form lengths need not be minimal, an explicit
//! `critical FALSE` is accepted, and a serial INTEGER with redundant leading zero octets is accepted
//! (its minimal form is handed on, counted in [`WalkStats::non_minimal_serials`]). None of these is
//! ambiguous. Indefinite lengths, negative or empty serials and serials longer than 20 octets are
//! rejected.

use std::fmt;

use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::name::Name;

use crate::error::CrlError;

mod pem;
pub(crate) mod skeleton;
#[cfg(test)]
mod tests;
mod tlv;

pub use pem::pem_or_der;
pub use tlv::MAX_INTEGER_OCTETS;
use tlv::*;
pub(crate) use tlv::{HASH_CHUNK, Reader, Tlv, parse_time};

// ---------------------------------------------------------------------------------------------
// Revoked entries

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
/// [`CrlHeader::walk_revoked`] for offsets into the whole CRL.
///
/// Stops at the first malformed entry or the first error from the visitor.
pub fn walk_revoked<V: RevokedVisitor + ?Sized>(
    revoked: &[u8],
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    walk_revoked_at(revoked, 0, visitor)
}

fn walk_revoked_at<V: RevokedVisitor + ?Sized>(
    revoked: &[u8],
    base: usize,
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    walk_entries::<V, true>(revoked, base, visitor)
}

/// The walk; `FAST` enables the common-shape path (off only in tests, as the reference).
fn walk_entries<V: RevokedVisitor + ?Sized, const FAST: bool>(
    revoked: &[u8],
    base: usize,
    visitor: &mut V,
) -> Result<WalkStats, CrlError> {
    let mut stats = WalkStats::default();
    let mut days = DayCache::default();
    let mut list = Reader::new(revoked, base);
    while !list.is_empty() {
        // The shape nearly every entry has; anything else takes the general path below, which
        // accepts and rejects exactly what it always did.
        if FAST
            && let Some(fast) = list.rest().and_then(common_entry)
            && let Some(revoked_at) = days.utc_time(fast.time)
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
    Ok(stats)
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
        let mut whole = 0usize;
        while let Some(n) = data.get(whole..).and_then(skeleton::tlv_len) {
            match whole.checked_add(n).filter(|end| *end <= data.len()) {
                Some(end) => whole = end,
                None => break,
            }
        }
        let (entries, rest) = data.split_at(whole);
        self.stats.merge(walk_revoked_at(entries, at, visitor)?);
        self.carry.extend_from_slice(rest);
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
/// CRL without entries that [`parse_crl`] reads when a file is streamed ([`skeleton`]); `None`
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

/// An entry of the common shape, read without the general TLV reader.
struct CommonEntry<'a> {
    /// Whole entry length (tag, length and content).
    len: usize,
    /// The serial INTEGER's content, already known to be minimal and non-negative.
    serial: &'a [u8],
    /// The UTCTime's 13 content octets.
    time: &'a [u8; 13],
    reason: Option<u8>,
}

/// The crlEntryExtensions that carry only a reasonCode (not critical), up to the code octet:
/// `SEQUENCE { SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED code } } }`.
const REASON_ONLY: [u8; 13] = [
    0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01,
];

/// `SEQUENCE { INTEGER serial (1..=9 octets, minimal, non-negative), UTCTime (13 octets),
/// [reasonCode-only extensions] }` with short-form lengths: what J-LIS and `openssl ca` write
/// for every entry of a narrow serial. `None` sends the entry to the general path.
#[inline(always)]
fn common_entry(data: &[u8]) -> Option<CommonEntry<'_>> {
    let (&[0x30, content_len, 0x02, serial_len], _) = data.split_first_chunk::<4>()? else {
        return None;
    };
    if content_len >= 0x80 || !(1..=9).contains(&serial_len) {
        return None;
    }
    let len = 2 + usize::from(content_len);
    let content = data.get(4..len)?;
    let (serial, rest_of_entry) = content.split_at_checked(usize::from(serial_len))?;
    // Minimal and non-negative, as unsigned_integer would accept with minimal = true.
    match serial {
        [first, ..] if first & 0x80 != 0 => return None,
        [0, second, ..] if second & 0x80 == 0 => return None,
        _ => {}
    }
    let (&[0x17, 0x0d], after_tag) = rest_of_entry.split_first_chunk::<2>()? else {
        return None;
    };
    let (time, extensions) = after_tag.split_first_chunk::<13>()?;
    let reason = match extensions {
        [] => None,
        [head @ .., code] if head == REASON_ONLY && *code <= 10 && *code != 7 => Some(*code),
        _ => return None,
    };
    Some(CommonEntry {
        len,
        serial,
        time,
        reason,
    })
}

/// UTCTime decoding with the date part of the previous entry remembered (consecutive entries
/// of a CRL mostly share a day, and the calendar arithmetic is most of a time's cost).
#[derive(Default)]
struct DayCache {
    /// The `YYMMDD` octets of the remembered date (little-endian, in the low 48 bits).
    date: u64,
    day_start: Option<i64>,
}

/// Whether each of the 8 octets of `x` is an ASCII digit. A borrow or carry between lanes only
/// happens next to an octet that is not a digit, so it can make the answer `false`, never `true`.
#[inline(always)]
fn all_digits(x: u64) -> bool {
    (x.wrapping_sub(0x3030_3030_3030_3030) | x.wrapping_add(0x4646_4646_4646_4646)) & 0x8080_8080_8080_8080
        == 0
}

/// The four two-digit numbers of 8 ASCII digits (`all_digits`), in 16-bit lanes, first pair lowest.
#[inline(always)]
fn digit_pairs(x: u64) -> u64 {
    let d = x.wrapping_sub(0x3030_3030_3030_3030);
    (d & 0x00FF_00FF_00FF_00FF) * 10 + ((d >> 8) & 0x00FF_00FF_00FF_00FF)
}

impl DayCache {
    /// The Unix time of a 13-octet UTCTime, or `None` if it is not valid (the general path
    /// then reports it).
    #[inline(always)]
    fn utc_time(&mut self, t: &[u8; 13]) -> Option<i64> {
        let (head, tail) = t.split_first_chunk::<8>()?;
        let (mmss, zulu) = tail.split_first_chunk::<4>()?;
        // YYMMDDhh and mmss, then 'Z', checked as digits a word at a time.
        let head = u64::from_le_bytes(*head);
        let mmss = u64::from(u32::from_le_bytes(*mmss)) | 0x3030_3030_0000_0000;
        if zulu != b"Z" || !all_digits(head) || !all_digits(mmss) {
            return None;
        }
        let (p, q) = (digit_pairs(head), digit_pairs(mmss));
        let (hour, minute, second) = ((p >> 48) as u32, (q & 0xFFFF) as u32, ((q >> 16) & 0xFFFF) as u32);
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date = head & 0xFFFF_FFFF_FFFF;
        let day_start = match self.day_start {
            Some(d) if self.date == date => d,
            _ => {
                let mut midnight = *b"000000000000Z";
                if let Some(dst) = midnight.get_mut(..6) {
                    dst.copy_from_slice(t.get(..6)?);
                }
                let d = parse_time(TAG_UTC_TIME, &midnight).ok()?;
                self.date = date;
                self.day_start = Some(d);
                d
            }
        };
        Some(day_start + i64::from(hour * 3600 + minute * 60 + second))
    }
}

/// Reads crlEntryExtensions and returns the reason code.
fn entry_extensions(extensions: &Tlv<'_>, offset: usize) -> Result<Option<u8>, CrlError> {
    let bad = |what: &'static str| CrlError::BadEntry { offset, what };
    let mut reason = None;
    let mut list = Reader::of(extensions);
    while !list.is_empty() {
        let ext = list
            .expect(TAG_SEQUENCE, "entry extension is not a SEQUENCE")
            .map_err(|p| bad(p.what))?;
        let (oid, critical, value) = extension_fields(&ext).map_err(|p| bad(p.what))?;
        match oid {
            OID_REASON_CODE => {
                if reason.is_some() {
                    return Err(bad("reasonCode appears twice"));
                }
                match value {
                    [TAG_ENUMERATED, 0x01, code] if *code <= 10 && *code != 7 => reason = Some(*code),
                    _ => return Err(bad("reasonCode is not an ENUMERATED in 0..=10 other than 7")),
                }
            }
            OID_INVALIDITY_DATE => {}
            OID_CERTIFICATE_ISSUER => return Err(CrlError::IndirectCrl { offset }),
            _ if critical => {
                return Err(CrlError::UnknownCriticalEntryExtension {
                    offset,
                    oid: oid_text(oid),
                });
            }
            _ => {}
        }
    }
    Ok(reason)
}

/// `Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`:
/// returns the OID content, the criticality and the extnValue content.
#[inline(always)]
fn extension_fields<'a>(ext: &Tlv<'a>) -> Result<(&'a [u8], bool, &'a [u8]), DerProblem> {
    let mut fields = Reader::of(ext);
    let oid = fields.expect(TAG_OID, "extnID is not an OBJECT IDENTIFIER")?;
    let mut critical = false;
    if fields.peek_tag() == Some(TAG_BOOLEAN) {
        let at = fields.offset();
        let b = fields.read()?;
        critical = boolean(b.content).ok_or(DerProblem {
            offset: at,
            what: "critical is not a DER BOOLEAN",
        })?;
    }
    let value = fields.expect(TAG_OCTET_STRING, "extnValue is not an OCTET STRING")?;
    fields.finish("unexpected element in Extension")?;
    Ok((oid.content, critical, value.content))
}

// ---------------------------------------------------------------------------------------------
// Header

/// The CRL format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlVersion {
    /// No version field: no extensions allowed.
    V1,
    /// `version` = 1.
    V2,
}

/// An AlgorithmIdentifier as it appears in the CRL.
///
/// ```text
/// AlgorithmIdentifier  ::=  SEQUENCE  {
///      algorithm               OBJECT IDENTIFIER,
///      parameters              ANY DEFINED BY algorithm OPTIONAL  }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureAlgorithm<'a> {
    /// The whole AlgorithmIdentifier TLV.
    pub der: &'a [u8],
    /// The algorithm.
    pub oid: ObjectIdentifier,
    /// The parameters TLV, if any (`05 00` for NULL).
    pub parameters: Option<&'a [u8]>,
}

impl<'a> SignatureAlgorithm<'a> {
    fn parse(tlv: &Tlv<'a>) -> Result<SignatureAlgorithm<'a>, CrlError> {
        let mut fields = Reader::of(tlv);
        let oid_tlv = fields
            .expect(TAG_OID, "algorithm is not an OBJECT IDENTIFIER")
            .map_err(DerProblem::header)?;
        let oid = ObjectIdentifier::from_bytes(oid_tlv.content).map_err(|_| CrlError::Malformed {
            offset: oid_tlv.offset,
            what: "invalid algorithm OBJECT IDENTIFIER",
        })?;
        let parameters = if fields.is_empty() {
            None
        } else {
            Some(fields.read().map_err(DerProblem::header)?.raw)
        };
        fields
            .finish("unexpected element in AlgorithmIdentifier")
            .map_err(DerProblem::header)?;
        Ok(SignatureAlgorithm {
            der: tlv.raw,
            oid,
            parameters,
        })
    }
}

/// Everything in a CRL except the revoked entries, borrowing the CRL's bytes.
#[derive(Clone)]
#[non_exhaustive]
pub struct CrlHeader<'a> {
    /// v1 or v2.
    pub version: CrlVersion,
    /// The signature algorithm (inner and outer are checked to be identical).
    pub signature_algorithm: SignatureAlgorithm<'a>,
    /// The issuer Name's DER (the whole SEQUENCE TLV), for byte comparison with a CA subject.
    pub issuer_der: &'a [u8],
    /// The issuer Name decoded, for display.
    pub issuer: Name,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds (required by us).
    pub next_update: i64,
    /// The cRLNumber INTEGER content in minimal form (non-negative, at most 20 octets of
    /// magnitude), if present.
    pub crl_number: Option<&'a [u8]>,
    /// The keyIdentifier of the authorityKeyIdentifier extension, if present.
    pub authority_key_id: Option<&'a [u8]>,
    /// The issuingDistributionPoint extension's value (DER of `IssuingDistributionPoint`), if
    /// present. Recorded, not interpreted.
    pub issuing_distribution_point: Option<&'a [u8]>,
    /// The whole TBSCertList TLV: the bytes the signature covers.
    pub tbs: &'a [u8],
    /// The signature: the BIT STRING content without the unused-bits octet.
    pub signature: &'a [u8],
    /// The content of revokedCertificates (concatenated entries); empty when absent.
    pub revoked: &'a [u8],
    /// Offset of `revoked` in the CRL's DER.
    pub revoked_offset: usize,
    /// The digest of `tbs` under the signature algorithm's hash, when the CRL was streamed
    /// rather than held whole (then `tbs` and `revoked` are those of its skeleton).
    pub tbs_digest: Option<&'a [u8]>,
}

impl CrlHeader<'_> {
    /// Walks the revoked entries into `visitor`; error offsets are offsets into the CRL's DER.
    pub fn walk_revoked<V: RevokedVisitor + ?Sized>(&self, visitor: &mut V) -> Result<WalkStats, CrlError> {
        walk_revoked_at(self.revoked, self.revoked_offset, visitor)
    }

    /// The CRL number as uppercase hex of its magnitude (`"00"` for zero), for logs and snapshots.
    pub fn crl_number_hex(&self) -> Option<String> {
        self.crl_number.map(|n| {
            let magnitude = match n {
                [0, rest @ ..] if !rest.is_empty() => rest,
                _ => n,
            };
            magnitude.iter().map(|b| format!("{b:02X}")).collect()
        })
    }
}

impl fmt::Debug for CrlHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        f.debug_struct("CrlHeader")
            .field("version", &self.version)
            .field("signature_algorithm", &self.signature_algorithm.oid)
            .field("issuer", &self.issuer.to_string())
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("crl_number", &self.crl_number.map(hex))
            .field("authority_key_id", &self.authority_key_id.map(hex))
            .field(
                "issuing_distribution_point",
                &self.issuing_distribution_point.map(<[u8]>::len),
            )
            .field("tbs_len", &self.tbs.len())
            .field("signature_len", &self.signature.len())
            .field("revoked_len", &self.revoked.len())
            .field("revoked_offset", &self.revoked_offset)
            .finish()
    }
}

/// Extensions we understand, read from crlExtensions.
#[derive(Default)]
struct CrlExtensions<'a> {
    crl_number: Option<&'a [u8]>,
    authority_key_id: Option<Option<&'a [u8]>>,
    issuing_distribution_point: Option<&'a [u8]>,
}

fn crl_extensions<'a>(outer: &Tlv<'a>) -> Result<CrlExtensions<'a>, CrlError> {
    let mut wrapper = Reader::of(outer);
    let list = wrapper
        .expect(TAG_SEQUENCE, "crlExtensions is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    wrapper
        .finish("unexpected element after crlExtensions")
        .map_err(DerProblem::header)?;

    let mut out = CrlExtensions::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut exts = Reader::of(&list);
    while !exts.is_empty() {
        let ext = exts
            .expect(TAG_SEQUENCE, "CRL extension is not a SEQUENCE")
            .map_err(DerProblem::header)?;
        let (oid, critical, value) = extension_fields(&ext).map_err(DerProblem::header)?;
        if seen.contains(&oid) {
            return Err(CrlError::BadExtension {
                name: "crlExtensions",
                what: "an extension appears twice",
            });
        }
        if seen.len() >= MAX_CRL_EXTENSIONS {
            return Err(CrlError::Malformed {
                offset: ext.offset,
                what: "too many CRL extensions",
            });
        }
        seen.push(oid);
        match oid {
            OID_CRL_NUMBER => out.crl_number = Some(crl_number(value)?),
            OID_AUTHORITY_KEY_IDENTIFIER => out.authority_key_id = Some(authority_key_id(value)?),
            OID_DELTA_CRL_INDICATOR => return Err(CrlError::DeltaCrl),
            OID_ISSUING_DISTRIBUTION_POINT => out.issuing_distribution_point = Some(value),
            _ if critical => return Err(CrlError::UnknownCriticalExtension { oid: oid_text(oid) }),
            _ => {}
        }
    }
    Ok(out)
}

/// `CRLNumber ::= INTEGER (0..MAX)`.
fn crl_number(value: &[u8]) -> Result<&[u8], CrlError> {
    let bad = |what| CrlError::BadExtension {
        name: "cRLNumber",
        what,
    };
    let mut r = Reader::new(value, 0);
    let int = r.expect(TAG_INTEGER, "not an INTEGER").map_err(|p| bad(p.what))?;
    r.finish("trailing data").map_err(|p| bad(p.what))?;
    let (number, _) = unsigned_integer(int.content).map_err(bad)?;
    Ok(number)
}

/// ```text
/// AuthorityKeyIdentifier ::= SEQUENCE {
///     keyIdentifier             [0] KeyIdentifier           OPTIONAL,
///     authorityCertIssuer       [1] GeneralNames            OPTIONAL,
///     authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL  }
/// ```
fn authority_key_id(value: &[u8]) -> Result<Option<&[u8]>, CrlError> {
    let bad = |what| CrlError::BadExtension {
        name: "authorityKeyIdentifier",
        what,
    };
    let mut r = Reader::new(value, 0);
    let seq = r
        .expect(TAG_SEQUENCE, "not a SEQUENCE")
        .map_err(|p| bad(p.what))?;
    r.finish("trailing data").map_err(|p| bad(p.what))?;
    let mut fields = Reader::of(&seq);
    let mut key_id = None;
    let mut last_tag = None;
    while !fields.is_empty() {
        let field = fields.read().map_err(|p| bad(p.what))?;
        let number = field.tag & 0x1f;
        if field.tag & 0xc0 != 0x80 || number > 2 || last_tag.is_some_and(|t| t >= number) {
            return Err(bad("unexpected field"));
        }
        last_tag = Some(number);
        if field.tag == TAG_AKI_KEY_ID {
            key_id = Some(field.content);
        }
    }
    Ok(key_id)
}

/// Parses a DER CRL, except its revoked entries, after checking its size against `max_bytes`.
///
/// Rejects: trailing data, a version other than v2 when present, extensions in a v1 CRL, inner
/// and outer signature algorithms that differ, a missing nextUpdate or one before thisUpdate, a
/// delta CRL, an unknown critical CRL extension, a malformed cRLNumber (negative or more than
/// 20 octets) or authorityKeyIdentifier, and a signature BIT STRING with unused bits.
pub fn parse_crl(der: &[u8], max_bytes: usize) -> Result<CrlHeader<'_>, CrlError> {
    if der.len() > max_bytes {
        return Err(CrlError::TooLarge {
            size: der.len(),
            max: max_bytes,
        });
    }
    let mut top = Reader::new(der, 0);
    let list = top
        .expect(TAG_SEQUENCE, "CertificateList is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    top.finish("trailing data after the CertificateList")
        .map_err(DerProblem::header)?;

    let mut outer = Reader::of(&list);
    let tbs = outer
        .expect(TAG_SEQUENCE, "tbsCertList is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    let outer_algorithm = outer
        .expect(TAG_SEQUENCE, "signatureAlgorithm is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    let signature_value = outer
        .expect(TAG_BIT_STRING, "signatureValue is not a BIT STRING")
        .map_err(DerProblem::header)?;
    outer
        .finish("unexpected element after signatureValue")
        .map_err(DerProblem::header)?;
    let signature = match signature_value.content {
        [0, signature @ ..] => signature,
        _ => {
            return Err(CrlError::Malformed {
                offset: signature_value.offset,
                what: "signatureValue has unused bits",
            });
        }
    };

    let mut t = Reader::of(&tbs);
    let version = if t.peek_tag() == Some(TAG_INTEGER) {
        let v = t.read().map_err(DerProblem::header)?;
        if v.content != [0x01] {
            return Err(CrlError::UnsupportedVersion {
                what: "the version field is present but is not v2",
            });
        }
        CrlVersion::V2
    } else {
        CrlVersion::V1
    };
    let inner_algorithm = t
        .expect(TAG_SEQUENCE, "signature is not an AlgorithmIdentifier")
        .map_err(DerProblem::header)?;
    let issuer = t
        .expect(TAG_SEQUENCE, "issuer is not a Name")
        .map_err(DerProblem::header)?;
    let time = |r: &mut Reader<'_>| -> Result<i64, CrlError> {
        let at = r.offset();
        let tlv = r.read().map_err(DerProblem::header)?;
        parse_time(tlv.tag, tlv.content).map_err(|what| CrlError::Malformed { offset: at, what })
    };
    let this_update = time(&mut t)?;
    let next_update = match t.peek_tag() {
        Some(TAG_UTC_TIME | TAG_GENERALIZED_TIME) => Some(time(&mut t)?),
        _ => None,
    };
    let (revoked, revoked_offset) = if t.peek_tag() == Some(TAG_SEQUENCE) {
        let r = t.read().map_err(DerProblem::header)?;
        (r.content, r.content_offset)
    } else {
        (&[][..], t.offset())
    };
    let extensions = if t.peek_tag() == Some(TAG_CRL_EXTENSIONS) {
        let ext = t.read().map_err(DerProblem::header)?;
        if version == CrlVersion::V1 {
            return Err(CrlError::UnsupportedVersion {
                what: "a v1 CRL carries crlExtensions",
            });
        }
        crl_extensions(&ext)?
    } else {
        CrlExtensions::default()
    };
    t.finish("unexpected element in TBSCertList")
        .map_err(DerProblem::header)?;

    if inner_algorithm.raw != outer_algorithm.raw {
        return Err(CrlError::AlgorithmMismatch);
    }
    let signature_algorithm = SignatureAlgorithm::parse(&inner_algorithm)?;
    let next_update = next_update.ok_or(CrlError::MissingNextUpdate)?;
    if next_update < this_update {
        return Err(CrlError::InvertedValidity {
            this_update,
            next_update,
        });
    }
    let issuer_name = Name::from_der(issuer.raw).map_err(|e| CrlError::BadIssuerName {
        detail: e.to_string(),
    })?;

    Ok(CrlHeader {
        version,
        signature_algorithm,
        issuer_der: issuer.raw,
        issuer: issuer_name,
        this_update,
        next_update,
        crl_number: extensions.crl_number,
        authority_key_id: extensions.authority_key_id.flatten(),
        issuing_distribution_point: extensions.issuing_distribution_point,
        tbs: tbs.raw,
        signature,
        revoked,
        revoked_offset,
        tbs_digest: None,
    })
}

// ---------------------------------------------------------------------------------------------
// PEM
