//! The simulator's good cases and one negative case per reason code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{AT, Pretty, fixture};
use jlis_sim::sign::{HashAlg as SimHash, SignInput};
use jpki::{CertKind, Reason};
use verifier::{
    CertStatus, HashAlg, Limits, NotChecked, Payload, ReasonCode, Report, RevocationSource, Scheme,
    SignatureRequest, StaticSource, TrustStore, Verdict, Verifier,
};

const DATA: &[u8] = b"application form #42";

fn good_source() -> StaticSource {
    StaticSource::new(AT - 3600)
}

fn verify(
    v: &Verifier,
    cert: &[u8],
    kind: Option<CertKind>,
    payload: Payload<'_>,
    sig: &[u8],
    scheme: Scheme,
    at: i64,
) -> Report {
    v.verify_signature(
        &SignatureRequest {
            cert_der: cert,
            kind,
            payload,
            signature: sig,
            scheme,
            at_unix: at,
        },
        &good_source(),
    )
}

fn data(hash: Option<HashAlg>) -> Payload<'static> {
    Payload::Data { bytes: DATA, hash }
}

fn assert_reason(r: &Report, code: ReasonCode) {
    assert_eq!(r.reason, Some(code), "{}", r.to_json_pretty());
    assert_eq!(r.verdict, code.verdict());
}

#[test]
fn pkcs1_over_data_all_hashes() {
    let f = fixture();
    let v = f.production();
    for (sim, ours) in [
        (SimHash::Sha256, HashAlg::Sha256),
        (SimHash::Sha384, HashAlg::Sha384),
        (SimHash::Sha512, HashAlg::Sha512),
    ] {
        for h in [&f.g2019, &f.g2023] {
            let sig = f.sign(
                h,
                CertKind::Signing,
                SignInput::Data(DATA.to_vec()),
                Some(sim),
                false,
            );
            let r = verify(
                &v,
                &h.sign_der,
                Some(CertKind::Signing),
                data(Some(ours)),
                &sig,
                Scheme::Pkcs1,
                AT,
            );
            assert!(r.is_valid(), "{}", r.to_json_pretty());
            let bi = r.basic_info.as_ref().unwrap();
            let json = serde_json::to_value(bi).unwrap();
            assert_eq!(json["date_of_birth"].as_str().unwrap().len(), 10);
            assert_eq!(serde_json::to_value(&r).unwrap()["revocation"]["status"], "good");
        }
    }
}

#[test]
fn pkcs1_over_digest_and_pss() {
    let f = fixture();
    let v = f.production();
    let h = &f.g2023;
    for (sim, ours) in [
        (SimHash::Sha256, HashAlg::Sha256),
        (SimHash::Sha384, HashAlg::Sha384),
        (SimHash::Sha512, HashAlg::Sha512),
    ] {
        let digest = openssl::hash::hash(sim.md(), DATA).unwrap().to_vec();
        let sig = f.sign(
            h,
            CertKind::Signing,
            SignInput::Digest(digest.clone()),
            Some(sim),
            false,
        );
        let p = Payload::Digest {
            hash: ours,
            bytes: &digest,
        };
        let r = verify(
            &v,
            &h.sign_der,
            Some(CertKind::Signing),
            p,
            &sig,
            Scheme::Auto,
            AT,
        );
        assert!(r.is_valid(), "{}", r.to_json_pretty());
        let pss = f.sign(
            h,
            CertKind::Signing,
            SignInput::Data(DATA.to_vec()),
            Some(sim),
            true,
        );
        let r = verify(
            &v,
            &h.sign_der,
            Some(CertKind::Signing),
            data(Some(ours)),
            &pss,
            Scheme::Pss,
            AT,
        );
        assert!(r.is_valid(), "{}", r.to_json_pretty());
        // A PSS signature is not a PKCS#1 v1.5 one.
        let r = verify(
            &v,
            &h.sign_der,
            Some(CertKind::Signing),
            data(Some(ours)),
            &pss,
            Scheme::Pkcs1,
            AT,
        );
        assert_reason(&r, ReasonCode::SigCryptoFailure);
    }
}

#[test]
fn ecdsa_p384_and_login() {
    let f = fixture();
    let v = f.production();
    let h = &f.g2026;
    let sig = f.sign(h, CertKind::Signing, SignInput::Data(DATA.to_vec()), None, false);
    let r = verify(
        &v,
        &h.sign_der,
        Some(CertKind::Signing),
        data(None),
        &sig,
        Scheme::Auto,
        AT,
    );
    assert!(r.is_valid(), "{}", r.to_json_pretty());
    let r = verify(
        &v,
        &h.sign_der,
        Some(CertKind::Signing),
        Payload::Data {
            bytes: b"other",
            hash: None,
        },
        &sig,
        Scheme::Auto,
        AT,
    );
    assert_reason(&r, ReasonCode::SigCryptoFailure);
    for holder in [&f.g2023, &f.g2026] {
        let challenge = b"nonce-8f1c2a";
        let sig = f.sign(
            holder,
            CertKind::UserAuthentication,
            SignInput::Data(challenge.to_vec()),
            None,
            false,
        );
        let r = v.verify_login(&holder.auth_der, challenge, &sig, AT, &good_source());
        assert!(r.is_valid(), "{}", r.to_json_pretty());
        assert!(r.basic_info.is_none());
        // The auth certificate never passes as a signing certificate.
        let r = verify(
            &v,
            &holder.auth_der,
            Some(CertKind::Signing),
            Payload::Data {
                bytes: challenge,
                hash: None,
            },
            &sig,
            Scheme::Auto,
            AT,
        );
        assert_reason(&r, ReasonCode::PolicyMismatch);
        // And a signing certificate never logs in.
        let r = v.verify_login(&holder.sign_der, challenge, &sig, AT, &good_source());
        assert_reason(&r, ReasonCode::PolicyMismatch);
    }
}

#[test]
fn tampered_wrong_key_and_time() {
    let f = fixture();
    let v = f.production();
    let h = &f.g2023;
    let sig = f.sign(h, CertKind::Signing, SignInput::Data(DATA.to_vec()), None, false);
    let r = verify(
        &v,
        &h.sign_der,
        None,
        Payload::Data {
            bytes: b"application form #43",
            hash: None,
        },
        &sig,
        Scheme::Auto,
        AT,
    );
    assert_reason(&r, ReasonCode::SigCryptoFailure);
    // Signed by another holder's key.
    let r = verify(&v, &f.g2019.sign_der, None, data(None), &sig, Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::SigCryptoFailure);
    let r = verify(
        &v,
        &h.sign_der,
        None,
        data(None),
        &sig,
        Scheme::Auto,
        AT - 30 * 86_400,
    );
    assert_reason(&r, ReasonCode::NotYetValid);
    let r = verify(
        &v,
        &h.sign_der,
        None,
        data(None),
        &sig,
        Scheme::Auto,
        AT + 20 * 365 * 86_400,
    );
    assert_reason(&r, ReasonCode::Expired);
}

#[test]
fn hierarchy_and_generation_separation() {
    let f = fixture();
    let v = f.production();
    let t = &f.test;
    let sig = f.sign(t, CertKind::Signing, SignInput::Data(DATA.to_vec()), None, false);
    let r = verify(&v, &t.sign_der, None, data(None), &sig, Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::NoCertificateChainFound);
    // A production store refuses the test root outright.
    assert!(
        TrustStore::production()
            .add_root(&f.root_der("test-sign"))
            .is_err()
    );
    // The test store accepts the test chain.
    let mut ts = TrustStore::test();
    ts.add_root(&f.root_der("test-sign")).unwrap();
    assert!(ts.add_root(&f.root_der("sign-2023")).is_err());
    let tv = Verifier::new(ts, Limits::default());
    assert!(verify(&tv, &t.sign_der, None, data(None), &sig, Scheme::Auto, AT).is_valid());
    // Only the 2019 root, same DN, while the certificate is from 2023.
    let only2019 = Verifier::new(f.store(&["sign-2019"]), Limits::default());
    let h = &f.g2023;
    let sig = f.sign(h, CertKind::Signing, SignInput::Data(DATA.to_vec()), None, false);
    let r = verify(&only2019, &h.sign_der, None, data(None), &sig, Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::NoCertificateChainFound);
    // Pinning.
    let mut s = TrustStore::production();
    assert!(s.add_pinned_root(&f.root_der("sign-2023"), &[0; 32]).is_err());
}

#[test]
fn sha1_and_malformed() {
    let f = fixture();
    let v = f.production();
    let h = &f.g2023;
    let sig = f.sign(
        h,
        CertKind::Signing,
        SignInput::Data(DATA.to_vec()),
        Some(SimHash::Sha1),
        false,
    );
    let r = verify(
        &v,
        &h.sign_der,
        None,
        data(Some(HashAlg::Sha1)),
        &sig,
        Scheme::Auto,
        AT,
    );
    assert_reason(&r, ReasonCode::CryptoConstraintsFailure);
    let d = [0u8; 20];
    let r = verify(
        &v,
        &h.sign_der,
        None,
        Payload::Digest {
            hash: HashAlg::Sha1,
            bytes: &d,
        },
        &sig,
        Scheme::Auto,
        AT,
    );
    assert_reason(&r, ReasonCode::CryptoConstraintsFailure);
    let d = [0u8; 31];
    let r = verify(
        &v,
        &h.sign_der,
        None,
        Payload::Digest {
            hash: HashAlg::Sha256,
            bytes: &d,
        },
        &sig,
        Scheme::Auto,
        AT,
    );
    assert_reason(&r, ReasonCode::MalformedInput);
    let truncated = &h.sign_der[..h.sign_der.len() / 2];
    let r = verify(&v, truncated, None, data(None), &sig, Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::MalformedInput);
    let r = verify(&v, b"garbage", None, data(None), &sig, Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::MalformedInput);
    let r = verify(&v, &h.sign_der, None, data(None), &sig[..100], Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::SigCryptoFailure);
    let r = verify(&v, &h.sign_der, None, data(None), &[], Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::MalformedInput);
    let big = vec![0u8; 20_000];
    let r = verify(&v, &big, None, data(None), &sig, Scheme::Auto, AT);
    assert_reason(&r, ReasonCode::MalformedInput);
}

struct Unknown;
impl RevocationSource for Unknown {
    fn status(&self, _: &[u8], _: &jpki::Serial, _: &[String], _: i64) -> CertStatus {
        CertStatus::unknown(jpki::UnknownReason::Unavailable("CRL past nextUpdate".into()))
    }
}

#[test]
fn revocation() {
    let f = fixture();
    let v = f.production();
    let h = &f.g2023;
    let sig = f.sign(h, CertKind::Signing, SignInput::Data(DATA.to_vec()), None, false);
    let req = SignatureRequest {
        cert_der: &h.sign_der,
        kind: Some(CertKind::Signing),
        payload: data(None),
        signature: &sig,
        scheme: Scheme::Auto,
        at_unix: AT,
    };
    let serial = v.verify_signature(&req, &NotChecked).certificate.unwrap().serial;
    let mut src = good_source();
    for root in v.trust().roots() {
        src.revoke(
            root.key_id(),
            jpki::Serial::from_hex(&serial).unwrap(),
            AT - 60,
            Some(Reason::AffiliationChanged),
        );
    }
    let r = v.verify_signature(&req, &src);
    assert_reason(&r, ReasonCode::Revoked);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["revocation"]["status"], "revoked");
    assert_eq!(json["revocation"]["reason"], "affiliationChanged");
    let r = v.verify_signature(&req, &Unknown);
    assert_reason(&r, ReasonCode::TryLater);
    assert_eq!(r.verdict, Verdict::Indeterminate);
    let r = v.verify_signature(&req, &NotChecked);
    assert!(r.is_valid());
    assert_eq!(
        serde_json::to_value(&r).unwrap()["revocation"]["status"],
        "not_checked"
    );
}

/// Records the cRLDistributionPoints names the verifier hands to the source.
struct PointRecorder(std::cell::RefCell<Vec<String>>);

impl RevocationSource for PointRecorder {
    fn status(&self, _: &[u8], _: &jpki::Serial, points: &[String], _: i64) -> CertStatus {
        self.0.replace(points.to_vec());
        CertStatus::Good(jpki::Freshness {
            method: jpki::CheckMethod::Crl,
            partition: "p".into(),
            this_update: AT - 3600,
            next_update: AT + 3600,
            basis: jpki::Basis::OwnPartition,
        })
    }
}

/// OpenSSL's view of the same names: URIs as is, DirNames as `SN=value` entries joined by `, `.
fn openssl_points(der: &[u8]) -> Vec<String> {
    let cert = openssl::x509::X509::from_der(der).unwrap();
    let mut out = Vec::new();
    for dp in cert.crl_distribution_points().iter().flatten() {
        for name in dp.distpoint().and_then(|d| d.fullname()).into_iter().flatten() {
            if let Some(uri) = name.uri() {
                out.push(uri.to_owned());
            } else if let Some(dn) = name.directory_name() {
                let line = dn
                    .entries()
                    .map(|e| {
                        let key = e.object().nid().short_name().unwrap().to_owned();
                        format!("{key}={}", e.data().to_string().unwrap())
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(line);
            }
        }
    }
    out
}

#[test]
fn the_source_is_told_the_crl_distribution_points_openssl_sees() {
    let f = fixture();
    let v = f.production();
    for h in [&f.g2023, &f.g2019] {
        let sig = f.sign(h, CertKind::Signing, SignInput::Data(DATA.to_vec()), None, false);
        let req = SignatureRequest {
            cert_der: &h.sign_der,
            kind: Some(CertKind::Signing),
            payload: data(None),
            signature: &sig,
            scheme: Scheme::Auto,
            at_unix: AT,
        };
        let rec = PointRecorder(Default::default());
        assert!(v.verify_signature(&req, &rec).is_valid());
        let seen = rec.0.take();
        assert!(!seen.is_empty());
        assert_eq!(seen, openssl_points(&h.sign_der));
        assert_eq!(seen, verifier::crl_distribution_points(&h.sign_der));
        // Repeated (from the judged-certificate cache): the same names.
        assert!(v.verify_signature(&req, &rec).is_valid());
        assert_eq!(rec.0.take(), seen);
    }
}
