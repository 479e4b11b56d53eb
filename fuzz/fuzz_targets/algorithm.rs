//! Fuzzes the signature-algorithm policy table: any bytes, as a whole AlgorithmIdentifier or as
//! the parameters of RSASSA-PSS and of a PKCS#1 v1.5 algorithm, classify without panicking; what
//! is accepted as RSASSA-PSS re-encodes to parameters that classify the same.
#![no_main]

use const_oid::ObjectIdentifier;
use jpki::algorithm::{self, RSASSA_PSS, Scheme};
use libfuzzer_sys::fuzz_target;

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

fuzz_target!(|data: &[u8]| {
    for outcome in [
        algorithm::classify_der(data),
        algorithm::classify(&RSASSA_PSS, Some(data)),
        algorithm::classify(&SHA256_WITH_RSA, Some(data)),
    ] {
        match outcome {
            Ok(accepted) => {
                if let Scheme::RsaPss { salt_len } = accepted.scheme {
                    let der = algorithm::pss_parameters(accepted.hash, salt_len)
                        .expect("accepted parameters encode");
                    assert_eq!(algorithm::classify(&RSASSA_PSS, Some(&der)), Ok(accepted));
                }
            }
            Err(e) => assert!(algorithm::AlgorithmError::CODES.contains(&e.code())),
        }
    }
});
