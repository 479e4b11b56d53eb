//! PEM armour for CRLs (`-----BEGIN X509 CRL-----`) with a bounded base64 decoder.

use std::borrow::Cow;

use super::tlv::TAG_SEQUENCE;
use crate::error::CrlError;

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
pub(super) fn decode_base64(body: &[u8], max: usize) -> Result<Vec<u8>, CrlError> {
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
