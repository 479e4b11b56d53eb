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

use std::borrow::Cow;
use std::fmt;

use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::name::Name;

use crate::error::CrlError;

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CRL_EXTENSIONS: u8 = 0xa0;
/// `[0] IMPLICIT KeyIdentifier` inside AuthorityKeyIdentifier.
const TAG_AKI_KEY_ID: u8 = 0x80;

/// OID content octets of id-ce-cRLNumber (2.5.29.20).
const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1d, 0x14];
/// id-ce-reasonCode (2.5.29.21).
const OID_REASON_CODE: &[u8] = &[0x55, 0x1d, 0x15];
/// id-ce-invalidityDate (2.5.29.24).
const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1d, 0x18];
/// id-ce-deltaCRLIndicator (2.5.29.27).
const OID_DELTA_CRL_INDICATOR: &[u8] = &[0x55, 0x1d, 0x1b];
/// id-ce-issuingDistributionPoint (2.5.29.28).
const OID_ISSUING_DISTRIBUTION_POINT: &[u8] = &[0x55, 0x1d, 0x1c];
/// id-ce-certificateIssuer (2.5.29.29).
const OID_CERTIFICATE_ISSUER: &[u8] = &[0x55, 0x1d, 0x1d];
/// id-ce-authorityKeyIdentifier (2.5.29.35).
const OID_AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x23];

/// Maximum magnitude of a serial number or CRL number, in octets (RFC 5280 §4.1.2.2, §5.2.3).
pub const MAX_INTEGER_OCTETS: usize = 20;

/// More CRL extensions than this is not a CRL we want to read (duplicates are checked pairwise).
const MAX_CRL_EXTENSIONS: usize = 64;

/// Chunk size used when a caller streams the signed bytes somewhere (hashing).
pub(crate) const HASH_CHUNK: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// TLV reading

/// A DER element: its tag, where it starts, its content and the whole encoding.
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    /// Offset of the tag octet, relative to the reader's base.
    pub(crate) offset: usize,
    /// Offset of the first content octet, relative to the reader's base.
    pub(crate) content_offset: usize,
    pub(crate) content: &'a [u8],
    /// Tag, length and content.
    pub(crate) raw: &'a [u8],
}

/// A structural DER problem at an offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DerProblem {
    pub(crate) offset: usize,
    pub(crate) what: &'static str,
}

impl DerProblem {
    fn header(self) -> CrlError {
        CrlError::Malformed {
            offset: self.offset,
            what: self.what,
        }
    }
}

/// A cursor over concatenated DER elements. Only single-octet tags and definite lengths of at
/// most four length octets are read; everything is bounds-checked.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Reader<'a> {
        Reader { data, pos: 0, base }
    }

    fn of(tlv: &Tlv<'a>) -> Reader<'a> {
        Reader::new(tlv.content, tlv.content_offset)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Absolute offset of the next element.
    fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn problem(&self, what: &'static str) -> DerProblem {
        DerProblem {
            offset: self.offset(),
            what,
        }
    }

    #[inline(always)]
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, DerProblem> {
        let start = self.pos;
        let rest = self.data.get(start..).unwrap_or_default();
        let Some((&tag, after_tag)) = rest.split_first() else {
            return Err(self.problem("unexpected end of data"));
        };
        if tag & 0x1f == 0x1f {
            return Err(self.problem("high tag numbers are not used in CRLs"));
        }
        let Some((&first_len, after_len)) = after_tag.split_first() else {
            return Err(self.problem("truncated length"));
        };
        let (len, header_len) = if first_len < 0x80 {
            (usize::from(first_len), 2usize)
        } else {
            let n = usize::from(first_len & 0x7f);
            if n == 0 {
                return Err(self.problem("indefinite length (BER, not DER)"));
            }
            if n > 4 {
                return Err(self.problem("length of more than four octets"));
            }
            let Some(octets) = after_len.get(..n) else {
                return Err(self.problem("truncated length"));
            };
            let len = octets.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let Some(end) = header_len.checked_add(len) else {
            return Err(self.problem("length overflows"));
        };
        let (Some(raw), Some(content)) = (rest.get(..end), rest.get(header_len..end)) else {
            return Err(self.problem("length runs past the end of the enclosing element"));
        };
        self.pos = start.saturating_add(end);
        let offset = self.base.saturating_add(start);
        Ok(Tlv {
            tag,
            offset,
            content_offset: offset.saturating_add(header_len),
            content,
            raw,
        })
    }

    #[inline(always)]
    pub(crate) fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerProblem> {
        let at = self.offset();
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(DerProblem { offset: at, what });
        }
        Ok(tlv)
    }

    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DerProblem> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.problem(what))
        }
    }
}

/// Reads a BOOLEAN's content. DER requires 0xFF for TRUE; any other non-zero value is refused.
fn boolean(content: &[u8]) -> Option<bool> {
    match content {
        [0x00] => Some(false),
        [0xff] => Some(true),
        _ => None,
    }
}

/// The OID in dotted form for messages (hex if it is not even a valid OID).
fn oid_text(content: &[u8]) -> String {
    match ObjectIdentifier::from_bytes(content) {
        Ok(oid) => oid.to_string(),
        Err(_) => content.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Checks the content of a non-negative INTEGER of at most 20 octets of magnitude and returns its
/// minimal form (redundant leading zero octets removed) and whether it was minimal.
#[inline(always)]
fn unsigned_integer(content: &[u8]) -> Result<(&[u8], bool), &'static str> {
    match content {
        [] => return Err("empty INTEGER"),
        [first, ..] if first & 0x80 != 0 => return Err("negative INTEGER"),
        _ => {}
    }
    let mut value = content;
    let mut minimal = true;
    while let [0, second, ..] = value {
        if second & 0x80 != 0 {
            break;
        }
        minimal = false;
        value = value.get(1..).unwrap_or_default();
    }
    let magnitude = match value {
        [0, _, ..] => value.len() - 1,
        _ => value.len(),
    };
    if magnitude > MAX_INTEGER_OCTETS {
        return Err("INTEGER longer than 20 octets");
    }
    Ok((value, minimal))
}

// ---------------------------------------------------------------------------------------------
// Time

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
#[inline(always)]
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline(always)]
fn two_digits(tens: u8, ones: u8) -> Option<u32> {
    let t = tens.wrapping_sub(b'0');
    let o = ones.wrapping_sub(b'0');
    if t < 10 && o < 10 {
        Some(u32::from(t) * 10 + u32::from(o))
    } else {
        None
    }
}

/// Unix seconds from `Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }` as
/// RFC 5280 §4.1.2.5 profiles it: `YYMMDDHHMMSSZ` (YY ≥ 50 is 19YY, otherwise 20YY) or
/// `YYYYMMDDHHMMSSZ`, in UTC, without fractional seconds.
#[inline(always)]
pub(crate) fn parse_time(tag: u8, content: &[u8]) -> Result<i64, &'static str> {
    let (year, rest): (i64, &[u8]) = match (tag, content) {
        (TAG_UTC_TIME, [y1, y2, rest @ ..]) if content.len() == 13 => {
            let yy = i64::from(two_digits(*y1, *y2).ok_or("non-digit in UTCTime")?);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, rest)
        }
        (TAG_GENERALIZED_TIME, [c1, c2, y1, y2, rest @ ..]) if content.len() == 15 => {
            let cc = two_digits(*c1, *c2).ok_or("non-digit in GeneralizedTime")?;
            let yy = two_digits(*y1, *y2).ok_or("non-digit in GeneralizedTime")?;
            (i64::from(cc * 100 + yy), rest)
        }
        (TAG_UTC_TIME, _) => return Err("UTCTime is not YYMMDDHHMMSSZ"),
        (TAG_GENERALIZED_TIME, _) => return Err("GeneralizedTime is not YYYYMMDDHHMMSSZ"),
        _ => return Err("expected UTCTime or GeneralizedTime"),
    };
    let [m1, m2, d1, d2, h1, h2, i1, i2, s1, s2, b'Z'] = *rest else {
        return Err("time is not in UTC (no trailing Z)");
    };
    let (Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        two_digits(m1, m2),
        two_digits(d1, d2),
        two_digits(h1, h2),
        two_digits(i1, i2),
        two_digits(s1, s2),
    ) else {
        return Err("non-digit in time");
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("invalid calendar date");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("invalid time of day");
    }
    Ok(days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

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
    let mut stats = WalkStats::default();
    let mut list = Reader::new(revoked, base);
    while !list.is_empty() {
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
    })
}

// ---------------------------------------------------------------------------------------------
// PEM

const PEM_BEGIN: &[u8] = b"-----BEGIN X509 CRL-----";
const PEM_END: &[u8] = b"-----END X509 CRL-----";

/// Returns the DER of a CRL given as DER (borrowed, unchanged) or as an `X509 CRL` PEM block
/// (decoded). DER is recognised by its leading SEQUENCE tag; anything else must contain a PEM
/// block. Checks that the DER is at most `max_der_bytes` before and while decoding.
pub fn pem_or_der(input: &[u8], max_der_bytes: usize) -> Result<Cow<'_, [u8]>, CrlError> {
    if input.first() == Some(&TAG_SEQUENCE) {
        if input.len() > max_der_bytes {
            return Err(CrlError::TooLarge {
                size: input.len(),
                max: max_der_bytes,
            });
        }
        return Ok(Cow::Borrowed(input));
    }
    let begin = find(input, PEM_BEGIN).ok_or(CrlError::BadPem {
        what: "neither DER nor a -----BEGIN X509 CRL----- block",
    })?;
    let body_start = begin.saturating_add(PEM_BEGIN.len());
    let body = input.get(body_start..).unwrap_or_default();
    let end = find(body, PEM_END).ok_or(CrlError::BadPem {
        what: "no -----END X509 CRL----- line",
    })?;
    let body = body.get(..end).unwrap_or_default();
    decode_base64(body, max_der_bytes).map(Cow::Owned)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Standard base64 with `=` padding (also accepted without padding), whitespace ignored.
fn decode_base64(body: &[u8], max: usize) -> Result<Vec<u8>, CrlError> {
    let bad = |what| CrlError::BadPem { what };
    let too_large = || CrlError::TooLarge {
        size: body.len() / 4 * 3,
        max,
    };
    let mut out = Vec::with_capacity((body.len() / 4 * 3).min(max));
    let mut acc: u32 = 0;
    let mut n = 0u8;
    let mut pad = 0u8;
    for &c in body {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                if pad > 2 {
                    return Err(bad("too much base64 padding"));
                }
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(bad("a character that is not base64")),
        };
        if pad > 0 {
            return Err(bad("base64 data after padding"));
        }
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            if out.len() > max {
                return Err(too_large());
            }
            acc = 0;
            n = 0;
        }
    }
    match (n, pad) {
        (0, 0) => {}
        (2, 0 | 2) => out.push((acc >> 4) as u8),
        (3, 0 | 1) => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => return Err(bad("truncated base64")),
    }
    if out.len() > max {
        return Err(too_large());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time(TAG_UTC_TIME, b"700101000000Z"), Ok(0));
        assert_eq!(parse_time(TAG_UTC_TIME, b"491231235959Z"), Ok(2_524_607_999));
        assert_eq!(parse_time(TAG_UTC_TIME, b"500101000000Z"), Ok(-631_152_000));
        assert_eq!(
            parse_time(TAG_GENERALIZED_TIME, b"20500101000000Z"),
            Ok(2_524_608_000)
        );
        assert_eq!(
            parse_time(TAG_GENERALIZED_TIME, b"20240229120000Z"),
            Ok(1_709_208_000)
        );
        assert!(parse_time(TAG_GENERALIZED_TIME, b"20230229120000Z").is_err());
        assert!(parse_time(TAG_UTC_TIME, b"241301000000Z").is_err());
        assert!(parse_time(TAG_UTC_TIME, b"240101240000Z").is_err());
        assert!(parse_time(TAG_UTC_TIME, b"2401010000Z").is_err());
        assert!(parse_time(TAG_UTC_TIME, b"240101000000+").is_err());
        assert!(parse_time(TAG_GENERALIZED_TIME, b"20240101000000.5Z").is_err());
        assert!(parse_time(TAG_INTEGER, b"700101000000Z").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(unsigned_integer(&[0x05]), Ok((&[0x05][..], true)));
        assert_eq!(unsigned_integer(&[0x00, 0x80]), Ok((&[0x00, 0x80][..], true)));
        assert_eq!(
            unsigned_integer(&[0x00, 0x00, 0x80]),
            Ok((&[0x00, 0x80][..], false))
        );
        assert_eq!(unsigned_integer(&[0x00, 0x01]), Ok((&[0x01][..], false)));
        assert_eq!(unsigned_integer(&[0x00]), Ok((&[0x00][..], true)));
        assert!(unsigned_integer(&[]).is_err());
        assert!(unsigned_integer(&[0x80]).is_err());
        assert!(unsigned_integer(&[0x7f; 21]).is_err());
        let mut twenty = vec![0x00];
        twenty.extend([0xff; 20]);
        assert!(unsigned_integer(&twenty).is_ok());
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64(b"TWFu", 10).unwrap(), b"Man");
        assert_eq!(decode_base64(b"TWE=", 10).unwrap(), b"Ma");
        assert_eq!(decode_base64(b"TQ==\n", 10).unwrap(), b"M");
        assert_eq!(decode_base64(b"TQ", 10).unwrap(), b"M");
        assert!(decode_base64(b"T===", 10).is_err());
        assert!(decode_base64(b"TQ==TQ==", 10).is_err());
        assert!(decode_base64(b"T", 10).is_err());
        assert!(matches!(
            decode_base64(b"TWFuTWFu", 4),
            Err(CrlError::TooLarge { .. })
        ));
    }

    #[test]
    fn lengths() {
        let mut r = Reader::new(&[0x04, 0x81, 0x01, 0xaa], 0);
        assert_eq!(r.read().unwrap().content, &[0xaa]);
        assert!(Reader::new(&[0x04, 0x80, 0x00, 0x00], 0).read().is_err());
        assert!(Reader::new(&[0x04, 0x85, 0, 0, 0, 0, 1, 0], 0).read().is_err());
        assert!(
            Reader::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], 0)
                .read()
                .is_err()
        );
        assert!(Reader::new(&[0x04, 0x02, 0x00], 0).read().is_err());
        assert!(Reader::new(&[0x1f, 0x01, 0x00], 0).read().is_err());
    }
}
