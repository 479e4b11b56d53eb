//! No input makes the verifier panic, and verification is deterministic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{AT, fixture};
use proptest::prelude::*;
use verifier::{NotChecked, Payload, Scheme, SignatureRequest};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_bytes_never_panic(cert in proptest::collection::vec(any::<u8>(), 0..2048),
                                   sig in proptest::collection::vec(any::<u8>(), 0..600),
                                   flip in 0usize..2000, data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let f = fixture();
        let v = f.production();
        // Arbitrary certificate bytes, and a real certificate with one byte flipped.
        let mut real = f.g2023.sign_der.clone();
        let i = flip % real.len();
        real[i] ^= 0x5a;
        for c in [&cert, &real] {
            let req = SignatureRequest { cert_der: c, kind: None, payload: Payload::Data { bytes: &data, hash: None }, signature: &sig, scheme: Scheme::Auto, at_unix: AT };
            let a = v.verify_signature(&req, &NotChecked);
            let b = v.verify_signature(&req, &NotChecked);
            prop_assert_eq!(&a, &b);
            prop_assert!(!a.is_valid());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn cms_bytes_never_panic(garbage in proptest::collection::vec(any::<u8>(), 0..4096),
                             flip in 0usize..100_000, mask in 1u8..=255,
                             content in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))) {
        let f = fixture();
        let v = f.production();
        let mut real = cms_sample().to_vec();
        let i = flip % real.len();
        real[i] ^= mask;
        for c in [&garbage, &real] {
            let a = v.verify_cms(c, content.as_deref(), None, AT, &NotChecked);
            let b = v.verify_cms(c, content.as_deref(), None, AT, &NotChecked);
            prop_assert_eq!(&a, &b);
            prop_assert!(!a.is_valid());
        }
    }
}

fn cms_sample() -> &'static [u8] {
    static S: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let f = fixture();
        f.sim
            .sign(&jlis_sim::sign::SignRequest {
                holder: f.g2023.id.clone(),
                key: jpki::CertKind::Signing,
                input: jlis_sim::sign::SignInput::Data(b"x".to_vec()),
                hash: None,
                pss: false,
                cms: Some(jlis_sim::sign::CmsMode::Attached),
            })
            .unwrap()
    })
}
