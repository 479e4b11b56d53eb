//! Unit tests of the CMS reader.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

#[test]
fn ber_lengths() {
    assert_eq!(ber_len(&[0x04, 0x01, 0xaa], 0), Some(3));
    assert_eq!(ber_len(&[0x04, 0x01, 0xaa, 0x00], 0), Some(3));
    assert_eq!(ber_len(&[0x04, 0x02, 0xaa], 0), None);
    // Indefinite, with a nested definite element, then end-of-contents.
    assert_eq!(ber_len(&[0x30, 0x80, 0x04, 0x01, 0xaa, 0x00, 0x00], 0), Some(7));
    // Indefinite length on a primitive tag is not BER.
    assert_eq!(ber_len(&[0x04, 0x80, 0x00, 0x00], 0), None);
    assert_eq!(ber_len(&[0x30, 0x82, 0x00, 0x01, 0x05], 0), Some(5));
    assert_eq!(ber_len(&[0x30, 0x85, 0, 0, 0, 0, 1], 0), None);
    // Deep nesting is refused rather than recursed into.
    let mut deep = vec![];
    for _ in 0..40 {
        deep.extend_from_slice(&[0x30, 0x80]);
    }
    assert_eq!(ber_len(&deep, 0), None);
    assert_eq!(ber_len(&[], 0), None);
}

#[test]
fn parse_refuses_non_signed_data() {
    // ContentInfo { id-data, [0] OCTET STRING "x" }
    let ci = [
        0x30, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x05, 0x04, 0x03,
        b'a', b'b', b'c',
    ];
    let e = parse(&ci, 4).unwrap_err();
    assert_eq!(e.code, ReasonCode::MalformedInput);
    assert!(e.message.contains("not SignedData"), "{}", e.message);
}
