//! Fuzz target: CRL bytes (DER or PEM) through `pem_or_der`, `parse_crl` and the revoked-entry walk.
//! Every input must give `Ok` or a typed `CrlError`, never a panic; the walk must hand on only
//! serials that `jpki::Serial::from_der_content` accepts and reasons in 0..=10 other than 7.
#![no_main]

use crl_sync::parse::{parse_crl, pem_or_der, walk_revoked};
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
    // The raw input as a revokedCertificates body, too.
    let _ = walk_revoked(&der, &mut check);
    if let Ok(header) = parse_crl(&der, MAX) {
        let _ = header.walk_revoked(&mut check);
    }
});
