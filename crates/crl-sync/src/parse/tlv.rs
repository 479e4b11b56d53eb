//! DER primitives for the CRL reader: tags, OIDs, a bounds-checked TLV reader, INTEGER and
//! time decoding.

use const_oid::ObjectIdentifier;

use crate::error::CrlError;

pub(crate) const TAG_BOOLEAN: u8 = 0x01;
pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_ENUMERATED: u8 = 0x0a;
pub(crate) const TAG_UTC_TIME: u8 = 0x17;
pub(crate) const TAG_GENERALIZED_TIME: u8 = 0x18;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_CRL_EXTENSIONS: u8 = 0xa0;
/// `[0] IMPLICIT KeyIdentifier` inside AuthorityKeyIdentifier.
pub(crate) const TAG_AKI_KEY_ID: u8 = 0x80;

/// OID content octets of id-ce-cRLNumber (2.5.29.20).
pub(crate) const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1d, 0x14];
/// id-ce-reasonCode (2.5.29.21).
pub(crate) const OID_REASON_CODE: &[u8] = &[0x55, 0x1d, 0x15];
/// id-ce-invalidityDate (2.5.29.24).
pub(crate) const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1d, 0x18];
/// id-ce-deltaCRLIndicator (2.5.29.27).
pub(crate) const OID_DELTA_CRL_INDICATOR: &[u8] = &[0x55, 0x1d, 0x1b];
/// id-ce-issuingDistributionPoint (2.5.29.28).
pub(crate) const OID_ISSUING_DISTRIBUTION_POINT: &[u8] = &[0x55, 0x1d, 0x1c];
/// id-ce-certificateIssuer (2.5.29.29).
pub(crate) const OID_CERTIFICATE_ISSUER: &[u8] = &[0x55, 0x1d, 0x1d];
/// id-ce-authorityKeyIdentifier (2.5.29.35).
pub(crate) const OID_AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x23];

/// Maximum magnitude of a serial number or CRL number, in octets (RFC 5280 §4.1.2.2, §5.2.3).
pub const MAX_INTEGER_OCTETS: usize = 20;

/// More CRL extensions than this is not a CRL we want to read (duplicates are checked pairwise).
pub(crate) const MAX_CRL_EXTENSIONS: usize = 64;

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
    pub(crate) fn header(self) -> CrlError {
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

    pub(crate) fn of(tlv: &Tlv<'a>) -> Reader<'a> {
        Reader::new(tlv.content, tlv.content_offset)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Absolute offset of the next element.
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// The bytes not read yet.
    #[inline(always)]
    pub(crate) fn rest(&self) -> Option<&'a [u8]> {
        self.data.get(self.pos..)
    }

    /// Skips `n` bytes the caller has already decoded from [`Reader::rest`].
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub(crate) fn problem(&self, what: &'static str) -> DerProblem {
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
pub(crate) fn boolean(content: &[u8]) -> Option<bool> {
    match content {
        [0x00] => Some(false),
        [0xff] => Some(true),
        _ => None,
    }
}

/// The OID in dotted form for messages (hex if it is not even a valid OID).
pub(crate) fn oid_text(content: &[u8]) -> String {
    match ObjectIdentifier::from_bytes(content) {
        Ok(oid) => oid.to_string(),
        Err(_) => content.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Checks the content of a non-negative INTEGER of at most 20 octets of magnitude and returns its
/// minimal form (redundant leading zero octets removed) and whether it was minimal.
#[inline(always)]
pub(crate) fn unsigned_integer(content: &[u8]) -> Result<(&[u8], bool), &'static str> {
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
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline(always)]
pub(crate) fn two_digits(tens: u8, ones: u8) -> Option<u32> {
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
