//! A CRL file read in one pass, for CRLs too large to hold whole: where its parts are
//! ([`layout`], from the first chunk), and the same CRL without its entries ([`skeleton`], from
//! the bytes before and after `revokedCertificates`), which [`super::parse_crl`] reads with every
//! rule it applies to a whole CRL.
//!
//! ```text
//! 0            tbs_start   prefix_end  revoked_start        revoked_end      tbs_end      file_len
//! | SEQ header | TBS header, version..nextUpdate | SEQ hdr | entries ... | crlExtensions | sigAlg, sig |
//! ```
//!
//! Whatever does not have this shape with definite DER lengths (a small or damaged CRL, one
//! without revoked entries, a header too long for the first chunk, a tail too long to keep) is
//! not streamed: the caller reads it whole and the general reader reports exactly what is wrong.

use super::tlv::{Reader, TAG_GENERALIZED_TIME, TAG_INTEGER, TAG_SEQUENCE, TAG_UTC_TIME};

/// The part after the revoked entries (crlExtensions, the outer algorithm and the signature)
/// is kept in memory; more than this is not a CRL we stream.
pub(crate) const MAX_TAIL: usize = 1 << 20;

/// Offsets in the file of a streamable CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Start of the tbsCertList TLV.
    pub tbs_start: usize,
    /// Start of the revokedCertificates TLV (end of the fields before it).
    pub prefix_end: usize,
    /// First octet of the first entry.
    pub revoked_start: usize,
    /// One past the last entry.
    pub revoked_end: usize,
    /// One past the tbsCertList TLV.
    pub tbs_end: usize,
    /// The file's length (= the CertificateList TLV's end).
    pub file_len: usize,
}

/// A TLV header at `pos`: (tag, header length, content length), for definite lengths of at most
/// four octets; `None` otherwise or when the header runs past `data`.
fn header_at(data: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *data.get(pos)?;
    let first = *data.get(pos.checked_add(1)?)?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    if first < 0x80 {
        return Some((tag, 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let octets = data.get(pos.checked_add(2)?..pos.checked_add(2 + n)?)?;
    let len = octets.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((tag, 2 + n, len))
}

/// The whole length (header and content) of the TLV at the start of `data`, if its header is
/// complete and DER-definite.
pub(crate) fn tlv_len(data: &[u8]) -> Option<usize> {
    let (_, hl, len) = header_at(data, 0)?;
    hl.checked_add(len)
}

/// Finds the parts of a CRL of `file_len` bytes from its first bytes `head`.
pub(crate) fn layout(head: &[u8], file_len: usize) -> Option<Layout> {
    let (tag, hl, len) = header_at(head, 0)?;
    if tag != TAG_SEQUENCE || hl.checked_add(len)? != file_len {
        return None;
    }
    let tbs_start = hl;
    let (tag, tbs_hl, tbs_len) = header_at(head, tbs_start)?;
    let tbs_end = tbs_start.checked_add(tbs_hl)?.checked_add(tbs_len)?;
    if tag != TAG_SEQUENCE || tbs_end > file_len {
        return None;
    }
    // version?, signature, issuer, thisUpdate, nextUpdate?: whole TLVs inside `head`, then
    // the header of revokedCertificates.
    let fields_start = tbs_start + tbs_hl;
    let mut fields = Reader::new(head.get(fields_start..)?, fields_start);
    if fields.peek_tag() == Some(TAG_INTEGER) {
        fields.read().ok()?;
    }
    for _ in 0..2 {
        if fields.read().ok()?.tag != TAG_SEQUENCE {
            return None;
        }
    }
    for _ in 0..2 {
        if matches!(fields.peek_tag(), Some(TAG_UTC_TIME | TAG_GENERALIZED_TIME)) {
            fields.read().ok()?;
        }
    }
    if fields.peek_tag() != Some(TAG_SEQUENCE) {
        return None;
    }
    let prefix_end = fields.offset();
    let (_, hl, len) = header_at(head, prefix_end)?;
    let revoked_start = prefix_end.checked_add(hl)?;
    let revoked_end = revoked_start.checked_add(len)?;
    if revoked_end > tbs_end || file_len - revoked_end > MAX_TAIL || revoked_start > head.len() {
        return None;
    }
    Some(Layout {
        tbs_start,
        prefix_end,
        revoked_start,
        revoked_end,
        tbs_end,
        file_len,
    })
}

/// DER length octets for `len`.
fn length_octets(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let used = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | used.len() as u8);
        out.extend_from_slice(used);
    }
}

/// The CRL without its entries: `head` holds the file from offset 0 past `prefix_end`, `tail`
/// the file from `revoked_end` to the end. revokedCertificates becomes an empty SEQUENCE; every
/// other octet is the file's, under re-encoded outer lengths.
pub(crate) fn skeleton(layout: &Layout, head: &[u8], tail: &[u8]) -> Option<Vec<u8>> {
    let fields = head.get(layout.tbs_start..layout.prefix_end)?;
    // Skip the TBS header inside `fields`.
    let (_, tbs_hl, _) = header_at(head, layout.tbs_start)?;
    let fields = fields.get(tbs_hl..)?;
    let split = layout.tbs_end.checked_sub(layout.revoked_end)?;
    let (extensions, outer_rest) = tail.split_at_checked(split)?;
    let tbs_content_len = fields.len() + 2 + extensions.len();
    let mut tbs = Vec::with_capacity(tbs_content_len + 8);
    tbs.push(TAG_SEQUENCE);
    length_octets(tbs_content_len, &mut tbs);
    tbs.extend_from_slice(fields);
    tbs.extend_from_slice(&[TAG_SEQUENCE, 0x00]);
    tbs.extend_from_slice(extensions);
    let mut out = Vec::with_capacity(tbs.len() + outer_rest.len() + 8);
    out.push(TAG_SEQUENCE);
    length_octets(tbs.len() + outer_rest.len(), &mut out);
    out.extend_from_slice(&tbs);
    out.extend_from_slice(outer_rest);
    Some(out)
}
