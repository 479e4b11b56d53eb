//! Fuzzes the OCSP GET decoder (RFC 6960 appendix A) and the request parser behind it: any path
//! either decodes to at most `MAX_OCSP_LEN` bytes or is refused, never a panic; whatever
//! decodes and parses as a request must re-encode and parse back to the same value.
#![no_main]

use jpki::ocsp::{MAX_OCSP_LEN, OcspRequest, decode_get};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(der) = decode_get(path) {
        assert!(der.len() <= MAX_OCSP_LEN);
        if let Ok(req) = OcspRequest::from_der(&der) {
            let _ = req.checked_nonce();
            let _ = req.preferred_signature_algorithms();
            let again = req.to_der().expect("a parsed request encodes");
            assert_eq!(OcspRequest::from_der(&again).expect("the encoding parses"), req);
        }
    }
});
