//! Fuzzes the OCSP request parser (and the response parser on the same bytes). Whatever parses
//! must re-encode and parse back to the same value.
#![no_main]

use jpki::ocsp::{OcspRequest, OcspResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = OcspRequest::from_der(data) {
        let _ = req.requested();
        let _ = req.nonce();
        let der = req.to_der().expect("a parsed request encodes");
        assert_eq!(OcspRequest::from_der(&der).expect("the encoding parses"), req);
    }
    if let Ok(resp) = OcspResponse::from_der(data) {
        let _ = resp.basic();
    }
});
