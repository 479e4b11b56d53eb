//! The GET form of an OCSP request, RFC 6960 appendix A.1:
//!
//! ```text
//! GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}
//! ```
//!
//! Clients differ in what they send: some percent-encode the base64 (`%2B`, `%2F`, `%3D`), some
//! do not, so a standard-alphabet `/` appears raw inside the path; some use the URL-safe alphabet
//! (`-`, `_`); some drop the `=` padding. [`decode_get`] accepts all of these. The caller passes
//! everything after the responder's base path, `/` characters included: splitting the path on
//! `/` would cut the base64 apart.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{MAX_OCSP_LEN, OcspError};

/// Longest GET path segment accepted, in characters: a [`MAX_OCSP_LEN`] request in padded base64
/// with every character percent-encoded.
pub const MAX_GET_LEN: usize = 3 * 4 * MAX_OCSP_LEN.div_ceil(3);

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(false);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes the path segment of an OCSP GET request into the request's DER bytes: percent-decoding,
/// then base64 in the standard or the URL-safe alphabet, padded or not. The result is at most
/// [`MAX_OCSP_LEN`] bytes; it is not parsed here ([`super::OcspRequest::from_der`] does that).
/// Never panics.
pub fn decode_get(segment: &str) -> Result<Vec<u8>, OcspError> {
    if segment.len() > MAX_GET_LEN {
        return Err(OcspError::InputTooLarge {
            len: segment.len(),
            max: MAX_GET_LEN,
        });
    }
    let text = percent_decode(segment)?;
    if text.is_empty() {
        return Err(bad_get("empty request"));
    }
    let der = STANDARD
        .decode(&text)
        .or_else(|_| URL_SAFE.decode(&text))
        .map_err(|_| bad_get("not base64 in either alphabet"))?;
    if der.len() > MAX_OCSP_LEN {
        return Err(OcspError::InputTooLarge {
            len: der.len(),
            max: MAX_OCSP_LEN,
        });
    }
    Ok(der)
}

fn bad_get(detail: &'static str) -> OcspError {
    OcspError::BadGetEncoding { detail }
}

/// RFC 3986 percent-decoding; a `%` must be followed by two hex digits.
fn percent_decode(s: &str) -> Result<Vec<u8>, OcspError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(c) = bytes.next() {
        if c == b'%' {
            let hi = bytes.next().and_then(hex_digit);
            let lo = bytes.next().and_then(hex_digit);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => return Err(bad_get("bad percent-encoding")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD as STD, URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    use super::*;

    /// Bytes whose base64 has `+`, `/` and padding.
    const DER: &[u8] = &[0x30, 0x03, 0xfb, 0xff, 0xbf, 0x3e, 0x10];

    #[test]
    fn every_client_spelling_decodes() {
        let std = STD.encode(DER);
        assert!(
            std.contains('+') && std.contains('/') && std.ends_with('='),
            "{std}"
        );
        let pct = std.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        let lower = std.replace('+', "%2b").replace('/', "%2f").replace('=', "%3d");
        let url = URL_SAFE_NO_PAD.encode(DER);
        let url_padded = format!("{url}=");
        for form in [
            &std,
            &pct,
            &lower,
            &url,
            &url_padded,
            &std.trim_end_matches('=').to_string(),
        ] {
            assert_eq!(decode_get(form).unwrap(), DER, "{form}");
        }
    }

    #[test]
    fn bad_input_is_refused_with_a_code() {
        for bad in ["", "%", "%2", "%zz", "AB%2", "!!!!", "A", "a b c"] {
            let e = decode_get(bad).unwrap_err();
            assert_eq!(e.code(), "BAD_GET_ENCODING", "{bad}");
        }
        let huge = "A".repeat(MAX_GET_LEN + 1);
        assert_eq!(decode_get(&huge).unwrap_err().code(), "INPUT_TOO_LARGE");
        // Within the path limit but decoding to more than a request may be.
        let big = "A".repeat(4 * (MAX_OCSP_LEN / 3 + 2));
        assert_eq!(decode_get(&big).unwrap_err().code(), "INPUT_TOO_LARGE");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = decode_get(&s);
        }

        #[test]
        fn round_trips_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 1..200), url in any::<bool>(), pct in any::<bool>()) {
            let mut text = if url { URL_SAFE_NO_PAD.encode(&bytes) } else { STD.encode(&bytes) };
            if pct {
                text = text.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
            }
            prop_assert_eq!(decode_get(&text).unwrap(), bytes);
        }
    }
}
