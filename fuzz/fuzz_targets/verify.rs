//! Fuzzes the verifier's input paths: a certificate + raw signature + data, a login, and a CMS
//! SignedData (attached, or detached with content). The first byte picks the path; the rest is
//! split by two length bytes. Whatever the input: no panic, never "valid" (the trust store is
//! empty), and the same answer twice.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verifier::{HashAlg, Limits, NotChecked, Payload, Scheme, SignatureRequest, TrustStore, Verifier};

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| Verifier::new(TrustStore::production(), Limits::default()))
}

fn split(data: &[u8], at: usize) -> (&[u8], &[u8]) {
    data.split_at(at.min(data.len()))
}

fuzz_target!(|data: &[u8]| {
    let [mode, a, b, rest @ ..] = data else { return };
    let v = verifier();
    let at = 1_780_358_400;
    let (first, tail) = split(rest, usize::from(*a) * 16);
    let (second, third) = split(tail, usize::from(*b) * 4);
    let report = match mode % 6 {
        0 | 1 => {
            let hash = [None, Some(HashAlg::Sha256), Some(HashAlg::Sha384), Some(HashAlg::Sha1)]
                [usize::from(*b % 4)];
            let scheme = [Scheme::Auto, Scheme::Pkcs1, Scheme::Pss, Scheme::Ecdsa][usize::from(*a % 4)];
            let payload = if mode % 6 == 0 {
                Payload::Data { bytes: third, hash }
            } else {
                Payload::Digest {
                    hash: hash.unwrap_or(HashAlg::Sha256),
                    bytes: third,
                }
            };
            let req = SignatureRequest {
                cert_der: first,
                kind: None,
                payload,
                signature: second,
                scheme,
                at_unix: at,
            };
            (v.verify_signature(&req, &NotChecked), v.verify_signature(&req, &NotChecked))
        }
        2 => (
            v.verify_login(first, third, second, at, &NotChecked),
            v.verify_login(first, third, second, at, &NotChecked),
        ),
        3 => (
            v.verify_cms(rest, None, None, at, &NotChecked),
            v.verify_cms(rest, None, None, at, &NotChecked),
        ),
        _ => (
            v.verify_cms(tail, Some(first), None, at, &NotChecked),
            v.verify_cms(tail, Some(first), None, at, &NotChecked),
        ),
    };
    assert!(!report.0.is_valid());
    assert_eq!(report.0, report.1);
});
