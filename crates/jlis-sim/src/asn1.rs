//! A minimal DER writer for the structures the simulator emits.
//!
//! Certificates and CRLs are assembled from these helpers and then decoded again with the `x509-cert`
//! types as a structural self-check (see [`crate::profile`]). The streaming CRL writer needs exact
//! lengths before the content exists, which is why the length arithmetic is exposed too.

use const_oid::ObjectIdentifier;
use time::OffsetDateTime;

use crate::error::SimError;

/// DER tag numbers used here.
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// Number of octets the DER length field takes for `len` content octets.
pub(crate) fn len_of_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

/// Total size of a TLV with a one-octet tag and `len` content octets.
pub(crate) fn tlv_len(len: usize) -> usize {
    1 + len_of_len(len) + len
}

/// Appends a tag and a DER length.
pub(crate) fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let rest = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | rest.len() as u8);
        out.extend_from_slice(rest);
    }
}

/// One TLV.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tlv_len(content.len()));
    push_header(&mut out, tag, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed TLV over the concatenation of `parts`.
pub(crate) fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(tlv_len(len));
    push_header(&mut out, tag, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// SEQUENCE of `parts`.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    cons(tag::SEQUENCE, parts)
}

/// An OBJECT IDENTIFIER.
pub(crate) fn oid(id: &ObjectIdentifier) -> Vec<u8> {
    tlv(tag::OID, id.as_bytes())
}

/// An OBJECT IDENTIFIER from dotted text known at compile time.
pub(crate) fn oid_str(dotted: &str) -> Result<Vec<u8>, SimError> {
    let id = ObjectIdentifier::new(dotted).map_err(|e| SimError::Encoding {
        what: "object identifier",
        detail: format!("{dotted}: {e}"),
    })?;
    Ok(oid(&id))
}

/// Content octets of a non-negative DER INTEGER with the given big-endian magnitude.
pub(crate) fn uint_content(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|b| *b != 0).unwrap_or(magnitude.len());
    let mag = magnitude.get(start..).unwrap_or_default();
    match mag.first() {
        None => vec![0],
        Some(b) if b & 0x80 != 0 => {
            let mut v = Vec::with_capacity(mag.len() + 1);
            v.push(0);
            v.extend_from_slice(mag);
            v
        }
        Some(_) => mag.to_vec(),
    }
}

/// A non-negative INTEGER.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    tlv(tag::INTEGER, &uint_content(magnitude))
}

/// A small non-negative INTEGER.
pub(crate) fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

/// BOOLEAN TRUE.
pub(crate) fn bool_true() -> Vec<u8> {
    vec![tag::BOOLEAN, 1, 0xFF]
}

/// A BIT STRING with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0);
    content.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &content)
}

/// An OCTET STRING.
pub(crate) fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, bytes)
}

/// NULL.
pub(crate) fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

/// A directory string: PrintableString when the text allows it, UTF8String otherwise.
pub(crate) fn directory_string(text: &str) -> Vec<u8> {
    let printable = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    if printable {
        tlv(tag::PRINTABLE_STRING, text.as_bytes())
    } else {
        tlv(tag::UTF8_STRING, text.as_bytes())
    }
}

/// Writes `YYMMDDHHMMSSZ` (13 octets) or `YYYYMMDDHHMMSSZ` (15 octets) for a Unix time.
///
/// Used by the CRL streamer, so it avoids allocation and the `time` crate.
pub(crate) fn push_time_unix(out: &mut Vec<u8>, unix: i64) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let utc = (1950..2050).contains(&y);
    if utc {
        out.push(tag::UTC_TIME);
        out.push(13);
        push2(out, y.rem_euclid(100));
    } else {
        out.push(tag::GENERALIZED_TIME);
        out.push(15);
        push2(out, y.div_euclid(100));
        push2(out, y.rem_euclid(100));
    }
    push2(out, m);
    push2(out, d);
    push2(out, hh);
    push2(out, mm);
    push2(out, ss);
    out.push(b'Z');
}

/// Encoded size of [`push_time_unix`] for this instant.
pub(crate) fn time_len_unix(unix: i64) -> usize {
    let (y, _, _) = civil_from_days(unix.div_euclid(86_400));
    if (1950..2050).contains(&y) { 15 } else { 17 }
}

/// A Time (UTCTime before 2050, GeneralizedTime from 2050, RFC 5280 §4.1.2.5).
pub(crate) fn time(at: OffsetDateTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    push_time_unix(&mut out, at.unix_timestamp());
    out
}

fn push2(out: &mut Vec<u8>, v: i64) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(tlv(0x04, &[0; 127]).len(), 129);
        assert_eq!(tlv(0x04, &[0; 128]).len(), 131);
        assert_eq!(tlv(0x04, &[0; 256]).len(), 260);
        assert_eq!(tlv_len(70_000), 1 + 4 + 70_000);
        assert_eq!(uint_u64(0x80), vec![2, 2, 0, 0x80]);
        assert_eq!(uint_u64(0), vec![2, 1, 0]);
    }

    #[test]
    fn times() {
        let mut v = Vec::new();
        push_time_unix(&mut v, 1_700_000_000);
        assert_eq!(&v, b"\x17\x0d231114221320Z");
        v.clear();
        push_time_unix(&mut v, 2_556_057_600); // 2050-12-31
        assert_eq!(&v, b"\x18\x0f20501231000000Z");
        assert_eq!(time_len_unix(2_556_057_600), 17);
    }
}
