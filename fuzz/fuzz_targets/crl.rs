//! Fuzz target: CRL bytes (DER or PEM) through `pem_or_der`, `parse_crl` and the revoked-entry walk.
//! Every input must give `Ok` or a typed `CrlError`, never a panic; the walk must hand on only
//! serials that `jpki::Serial::from_der_content` accepts and reasons in 0..=10 other than 7.
//! The streaming reader's parts must agree with the whole-CRL reader: the skeleton parses to the
//! same header, and entries fed in pieces walk exactly as the whole list does.
#![no_main]

use crl_sync::parse::{parse_crl, pem_or_der, skeleton_of, walk_revoked, walk_revoked_in_pieces};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(der) = pem_or_der(data, MAX) else {
        return;
    };
    let mut check = |serial: &[u8], _at: i64, reason: Option<u8>| {
        assert!(jpki::Serial::from_der_content(serial).is_ok());
        assert!(reason.is_none_or(|r| r <= 10 && r != 7));
        Ok::<(), crl_sync::error::CrlError>(())
    };
    // The raw input as a revokedCertificates body, too, whole and in pieces.
    let whole = walk_revoked(&der, &mut check).map_err(|e| e.to_string());
    let piece = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let pieces = walk_revoked_in_pieces(&der, piece, &mut check).map_err(|e| e.to_string());
    assert_eq!(whole, pieces);
    let parsed = parse_crl(&der, MAX);
    if let Ok(header) = &parsed {
        let _ = header.walk_revoked(&mut check);
    }
    if let Some(skeleton) = skeleton_of(&der) {
        match (parse_crl(&skeleton, MAX), &parsed) {
            (Ok(s), Ok(h)) => {
                assert_eq!(s.issuer_der, h.issuer_der);
                assert_eq!((s.this_update, s.next_update), (h.this_update, h.next_update));
                assert_eq!(s.crl_number, h.crl_number);
                assert_eq!(s.authority_key_id, h.authority_key_id);
                assert_eq!(s.signature, h.signature);
                assert_eq!(s.signature_algorithm, h.signature_algorithm);
            }
            (Err(_), Err(_)) => {}
            (s, h) => panic!("skeleton {:?} vs whole {:?}", s.is_ok(), h.is_ok()),
        }
    }
});
