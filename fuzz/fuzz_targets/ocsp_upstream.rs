//! Fuzzes the upstream OCSP response verifier: arbitrary bytes, as a hostile responder (or a
//! network in between) could send them, against a fixed CA and question. The verifier must never
//! panic, and bytes nobody signed must never verify.
#![no_main]

use std::sync::OnceLock;

use jpki::Serial;
use libfuzzer_sys::fuzz_target;
use ocsp_client::{CertIdHash, IssuingCa, OcspQuery, VerifyPolicy, verify_response};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};

/// A CA made once per process (its key exists only in memory) and a question about serial 1.
fn fixture() -> &'static (IssuingCa, OcspQuery) {
    static F: OnceLock<(IssuingCa, OcspQuery)> = OnceLock::new();
    F.get_or_init(|| {
        let key = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("key");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "Fuzz CA").expect("CN");
        let name = name.build();
        let mut b = X509Builder::new().expect("builder");
        b.set_version(2).expect("version");
        let serial = Asn1Integer::from_bn(&BigNum::from_u32(1).expect("bn")).expect("serial");
        b.set_serial_number(&serial).expect("serial");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&key).expect("pubkey");
        b.set_not_before(&Asn1Time::days_from_now(0).expect("time")).expect("nb");
        b.set_not_after(&Asn1Time::days_from_now(365).expect("time")).expect("na");
        b.sign(&key, MessageDigest::sha256()).expect("sign");
        let ca = IssuingCa::from_der(&b.build().to_der().expect("der")).expect("CA");
        let serial = Serial::from_magnitude(&[1]).expect("serial");
        let query = OcspQuery::for_serial(serial, &ca, CertIdHash::Sha1, Some(vec![0x5a; 16])).expect("query");
        (ca, query)
    })
}

fuzz_target!(|data: &[u8]| {
    let (ca, query) = fixture();
    let now = 1_750_000_000;
    for policy in [
        VerifyPolicy::default(),
        VerifyPolicy {
            require_nonce: false,
            max_skew_secs: i64::MAX,
            max_certs: 64,
        },
    ] {
        let result = verify_response(data, query, ca, now, &policy);
        assert!(result.is_err(), "unsigned bytes verified: {result:?}");
        if let Err(e) = result {
            assert!(ocsp_client::OcspClientError::CODES.contains(&e.code()));
        }
    }
});
