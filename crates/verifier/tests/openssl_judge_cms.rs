//! OpenSSL as the judge for CMS: SignedData made by `openssl cms -sign` with the OpenSSL-made
//! JPKI-profile chain; the verifier agrees with `openssl cms -verify` on good and tampered inputs and
//! is stricter only where JPKI policy says so (signed attributes required, SHA-1 refused).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod judge_pki;

mod common;
use common::Pretty;
use std::path::Path;

use jpki::CertKind;
use judge_pki::*;
use verifier::ReasonCode;

fn cms_sign(d: &Path, out: &str, extra: &[&str]) {
    let mut args = vec![
        "cms", "-sign", "-binary", "-md", "sha256", "-in", "data", "-signer", "ee.pem", "-inkey", "ee.key",
        "-outform", "DER", "-out", out,
    ];
    args.extend_from_slice(extra);
    must(d, &args);
}

fn cms_judge(d: &Path, cms: &str, content: Option<&str>) -> bool {
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        cms,
        "-CAfile",
        "root.pem",
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ];
    if let Some(c) = content {
        args.extend_from_slice(&["-content", c]);
    }
    ossl(d, &args)
}

#[test]
fn cms_agrees_with_openssl_cms_verify() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root"]);
    cms_sign(d, "attached.p7s", &["-nodetach"]);
    cms_sign(d, "detached.p7s", &[]);
    cms_sign(d, "keyid.p7s", &["-nodetach", "-keyid"]);
    cms_sign(d, "ber.p7s", &["-nodetach", "-stream"]);
    let data = p.file("data");
    let tampered = p.file("tampered");
    for (cms, content, expect) in [
        ("attached.p7s", None, true),
        ("keyid.p7s", None, true),
        ("ber.p7s", None, true),
        ("detached.p7s", Some("data"), true),
        ("detached.p7s", Some("tampered"), false),
    ] {
        assert_eq!(cms_judge(d, cms, content), expect, "openssl on {cms} {content:?}");
        let bytes = match content {
            Some("data") => Some(data.as_slice()),
            Some(_) => Some(tampered.as_slice()),
            None => None,
        };
        let r = v.verify_cms(&p.file(cms), bytes, Some(CertKind::Signing), now(), &good());
        assert_eq!(r.is_valid(), expect, "{cms} {content:?}: {}", r.to_json_pretty());
        if !expect {
            assert_eq!(r.reason, Some(ReasonCode::HashFailure));
        }
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["cms"]["detached"], content.is_some());
        if expect {
            assert_eq!(json["basic_info"]["date_of_birth"], "1980-12-31");
            assert!(json["cms"]["signing_time"].is_string());
        }
    }
    // The content inside an attached CMS tampered with: both refuse.
    let mut bytes = p.file("attached.p7s");
    let at = bytes
        .windows(data.len())
        .position(|w| w == data.as_slice())
        .unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(d.join("attached-tampered.p7s"), &bytes).unwrap();
    assert!(!cms_judge(d, "attached-tampered.p7s", None));
    let r = v.verify_cms(&bytes, None, Some(CertKind::Signing), now(), &good());
    assert_eq!(r.reason, Some(ReasonCode::HashFailure), "{}", r.to_json_pretty());
    // The signature itself tampered with: both refuse.
    let mut bytes = p.file("attached.p7s");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(d.join("sig-tampered.p7s"), &bytes).unwrap();
    assert!(!cms_judge(d, "sig-tampered.p7s", None));
    let r = v.verify_cms(&bytes, None, Some(CertKind::Signing), now(), &good());
    assert_eq!(
        r.reason,
        Some(ReasonCode::SigCryptoFailure),
        "{}",
        r.to_json_pretty()
    );
    // An untrusted root: both refuse.
    let other = p.verifier(&["root2"]);
    let r = other.verify_cms(&p.file("attached.p7s"), None, None, now(), &good());
    assert_eq!(r.reason, Some(ReasonCode::NoCertificateChainFound));
}

#[test]
fn cms_rsassa_pss_by_policy() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root"]);
    let pss = ["-nodetach", "-keyopt", "rsa_padding_mode:pss"];
    // Salt = hash length: both accept.
    cms_sign(
        d,
        "pss.p7s",
        &[&pss[..], &["-keyopt", "rsa_pss_saltlen:digest"]].concat(),
    );
    assert!(cms_judge(d, "pss.p7s", None));
    let r = v.verify_cms(&p.file("pss.p7s"), None, Some(CertKind::Signing), now(), &good());
    assert!(r.is_valid(), "{}", r.to_json_pretty());
    assert_eq!(
        serde_json::to_value(&r).unwrap()["cms"]["signature_algorithm"],
        "1.2.840.113549.1.1.10"
    );
    // The largest salt: valid for OpenSSL, refused here (the salt must be the hash length).
    cms_sign(
        d,
        "pss-max.p7s",
        &[&pss[..], &["-keyopt", "rsa_pss_saltlen:max"]].concat(),
    );
    assert!(cms_judge(d, "pss-max.p7s", None));
    let r = v.verify_cms(&p.file("pss-max.p7s"), None, None, now(), &good());
    assert_eq!(
        r.reason,
        Some(ReasonCode::UnsupportedAlgorithm),
        "{}",
        r.to_json_pretty()
    );
    // MGF1 over another hash than the message's: refused.
    cms_sign(
        d,
        "pss-mgf.p7s",
        &[
            &pss[..],
            &[
                "-keyopt",
                "rsa_pss_saltlen:digest",
                "-keyopt",
                "rsa_mgf1_md:sha384",
            ],
        ]
        .concat(),
    );
    let r = v.verify_cms(&p.file("pss-mgf.p7s"), None, None, now(), &good());
    assert_eq!(
        r.reason,
        Some(ReasonCode::UnsupportedAlgorithm),
        "{}",
        r.to_json_pretty()
    );
}

#[test]
fn cms_stricter_than_openssl_by_policy() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root"]);
    // No signed attributes: valid CMS for OpenSSL, refused here (messageDigest/signingTime required).
    cms_sign(d, "noattr.p7s", &["-nodetach", "-noattr"]);
    assert!(cms_judge(d, "noattr.p7s", None));
    let r = v.verify_cms(&p.file("noattr.p7s"), None, None, now(), &good());
    assert_eq!(
        r.reason,
        Some(ReasonCode::SigConstraintsFailure),
        "{}",
        r.to_json_pretty()
    );
    // SHA-1 digest: refused.
    must(
        d,
        &[
            "cms",
            "-sign",
            "-binary",
            "-md",
            "sha1",
            "-nodetach",
            "-in",
            "data",
            "-signer",
            "ee.pem",
            "-inkey",
            "ee.key",
            "-outform",
            "DER",
            "-out",
            "sha1.p7s",
        ],
    );
    let r = v.verify_cms(&p.file("sha1.p7s"), None, None, now(), &good());
    assert_eq!(
        r.reason,
        Some(ReasonCode::CryptoConstraintsFailure),
        "{}",
        r.to_json_pretty()
    );
    // No certificate in the message.
    cms_sign(d, "nocerts.p7s", &["-nodetach", "-nocerts"]);
    let r = v.verify_cms(&p.file("nocerts.p7s"), None, None, now(), &good());
    assert_eq!(
        r.reason,
        Some(ReasonCode::NoSigningCertificateFound),
        "{}",
        r.to_json_pretty()
    );
    // Detached without content, and attached with content given twice.
    let r = v.verify_cms(&p.file("noattr.p7s"), Some(b"x"), None, now(), &good());
    assert_eq!(r.reason, Some(ReasonCode::MalformedInput));
    cms_sign(d, "det2.p7s", &[]);
    let r = v.verify_cms(&p.file("det2.p7s"), None, None, now(), &good());
    assert_eq!(r.reason, Some(ReasonCode::MalformedInput));
}
