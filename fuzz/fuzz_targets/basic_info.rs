//! Fuzzes the 4-info parser on both entry points: a whole certificate and a bare subjectAltName.
//! Whatever parses must re-encode and parse back to the same value.
#![no_main]

use jpki::BasicInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = BasicInfo::from_certificate_der(data);
    if let Ok(info) = BasicInfo::from_subject_alt_name_der(data) {
        let der = info
            .to_subject_alt_name_der()
            .expect("a parsed BasicInfo encodes");
        let again = BasicInfo::from_subject_alt_name_der(&der).expect("the encoding parses");
        assert_eq!(again, info);
        let _ = info.view();
    }
});
