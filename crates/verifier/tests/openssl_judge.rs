//! OpenSSL as the judge: a JPKI-profile chain made with the OpenSSL CLI, signatures made by
//! `openssl dgst -sign` and CMS by `openssl cms -sign`; the verifier agrees with
//! `openssl dgst -verify` / `openssl cms -verify` on good and tampered inputs, and differs only
//! where JPKI policy is stricter (SHA-1, CMS without signed attributes), which is asserted too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod judge_pki;

mod common;
use common::Pretty;
use jpki::CertKind;
use judge_pki::*;
use verifier::{HashAlg, Payload, ReasonCode, Scheme, SignatureRequest};

#[test]
fn dgst_pkcs1_pss_ecdsa_agree() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root", "root-ec"]);
    let cases: &[(&str, &str, HashAlg, Scheme, &[&str])] = &[
        ("ee", "-sha256", HashAlg::Sha256, Scheme::Pkcs1, &[]),
        ("ee", "-sha384", HashAlg::Sha384, Scheme::Pkcs1, &[]),
        ("ee", "-sha512", HashAlg::Sha512, Scheme::Pkcs1, &[]),
        (
            "ee",
            "-sha256",
            HashAlg::Sha256,
            Scheme::Pss,
            &[
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
        ),
        ("ee-ec", "-sha384", HashAlg::Sha384, Scheme::Ecdsa, &[]),
    ];
    for (i, (ee, md, hash, scheme, opts)) in cases.iter().enumerate() {
        let sig = format!("sig{i}");
        let mut args = vec!["dgst", md];
        args.extend_from_slice(opts);
        let key = format!("{ee}.key");
        args.extend_from_slice(&["-sign", &key, "-out", &sig, "data"]);
        must(d, &args);
        let cert = p.der(ee);
        let sig_bytes = p.file(&sig);
        for (file, expect_ok) in [("data", true), ("tampered", false)] {
            let mut vargs = vec!["dgst", md];
            vargs.extend_from_slice(opts);
            let pubkey = format!("{ee}.pub");
            vargs.extend_from_slice(&["-verify", &pubkey, "-signature", &sig, file]);
            let judge = ossl(d, &vargs);
            let ours = raw(&v, &cert, &p.file(file), Some(*hash), &sig_bytes, *scheme);
            assert_eq!(judge, expect_ok, "openssl on case {i} {file}");
            assert_eq!(
                ours.is_valid(),
                judge,
                "case {i} {file}: {}",
                ours.to_json_pretty()
            );
            if !expect_ok {
                assert_eq!(ours.reason, Some(ReasonCode::SigCryptoFailure));
            }
        }
        // The digest form agrees with the data form.
        let digest = openssl::hash::hash(
            match hash {
                HashAlg::Sha384 => openssl::hash::MessageDigest::sha384(),
                HashAlg::Sha512 => openssl::hash::MessageDigest::sha512(),
                _ => openssl::hash::MessageDigest::sha256(),
            },
            &p.file("data"),
        )
        .unwrap();
        let r = v.verify_signature(
            &SignatureRequest {
                cert_der: &cert,
                kind: Some(CertKind::Signing),
                payload: Payload::Digest {
                    hash: *hash,
                    bytes: &digest,
                },
                signature: &sig_bytes,
                scheme: *scheme,
                at_unix: now(),
            },
            &good(),
        );
        assert!(r.is_valid(), "digest case {i}: {}", r.to_json_pretty());
        let bi = serde_json::to_value(&r).unwrap()["basic_info"].clone();
        assert_eq!(bi["date_of_birth"], "1980-12-31", "{bi}");
    }
}

#[test]
fn sha1_is_recognised_and_refused() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root"]);
    must(
        d,
        &["dgst", "-sha1", "-sign", "ee.key", "-out", "sig-sha1", "data"],
    );
    // OpenSSL accepts it cryptographically; JPKI policy (CRYPTREC) refuses it.
    assert!(ossl(
        d,
        &[
            "dgst",
            "-sha1",
            "-verify",
            "ee.pub",
            "-signature",
            "sig-sha1",
            "data"
        ]
    ));
    let sig = p.file("sig-sha1");
    // The caller claims SHA-256: the recovered DigestInfo still shows SHA-1.
    let r = raw(&v, &p.der("ee"), &p.file("data"), None, &sig, Scheme::Auto);
    assert_eq!(
        r.reason,
        Some(ReasonCode::CryptoConstraintsFailure),
        "{}",
        r.to_json_pretty()
    );
    let r = raw(
        &v,
        &p.der("ee"),
        &p.file("data"),
        Some(HashAlg::Sha1),
        &sig,
        Scheme::Auto,
    );
    assert_eq!(r.reason, Some(ReasonCode::CryptoConstraintsFailure));
}

#[test]
fn chains_agree_with_openssl_verify() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root"]);
    must(
        d,
        &["dgst", "-sha256", "-sign", "ee2.key", "-out", "sig-ee2", "data"],
    );
    must(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "ee2-noaki.key",
            "-out",
            "sig-ee2n",
            "data",
        ],
    );
    must(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "ee-noaki.key",
            "-out",
            "sig-een",
            "data",
        ],
    );
    must(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "ee-forged.key",
            "-out",
            "sig-forged",
            "data",
        ],
    );
    for (ee, sig, trusted) in [
        ("ee", None, true),
        ("ee-forged", Some("sig-forged"), false),
        ("ee2", Some("sig-ee2"), false),
        ("ee2-noaki", Some("sig-ee2n"), false),
        ("ee-noaki", Some("sig-een"), true),
    ] {
        let judge = ossl(
            d,
            &[
                "verify",
                "-purpose",
                "any",
                "-CAfile",
                "root.pem",
                &format!("{ee}.pem"),
            ],
        );
        assert_eq!(judge, trusted, "openssl verify {ee}");
        if let Some(sig) = sig {
            let r = raw(&v, &p.der(ee), &p.file("data"), None, &p.file(sig), Scheme::Auto);
            assert_eq!(r.is_valid(), trusted, "{ee}: {}", r.to_json_pretty());
            if !trusted {
                assert_eq!(r.reason, Some(ReasonCode::NoCertificateChainFound));
            }
        }
    }
    // Both generations trusted: the same-DN certificate chains to its own root.
    let both = p.verifier(&["root", "root2"]);
    let r = raw(
        &both,
        &p.der("ee2"),
        &p.file("data"),
        None,
        &p.file("sig-ee2"),
        Scheme::Auto,
    );
    assert!(r.is_valid(), "{}", r.to_json_pretty());
    let fp = r.certificate.unwrap().root_fingerprint.unwrap();
    assert_eq!(fp, hex::encode(openssl::sha::sha256(&p.der("root2"))));
}

#[test]
fn profile_violations_have_their_reason() {
    let p = pki();
    let d = &p.dir;
    let v = p.verifier(&["root", "root-ec"]);
    const P256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    for (name, root, key, section, reason) in [
        ("v-ku-nr", "root", RSA, "ku_no_nr", ReasonCode::KeyUsage),
        ("v-ku-nc", "root", RSA, "ku_noncrit", ReasonCode::KeyUsage),
        ("v-cp-nc", "root", RSA, "cp_noncrit", ReasonCode::PolicyMismatch),
        (
            "v-crit",
            "root",
            RSA,
            "unknown_crit",
            ReasonCode::ChainConstraintsFailure,
        ),
        ("v-ca", "root", RSA, "ca_ee", ReasonCode::ChainConstraintsFailure),
        (
            "v-p256",
            "root-ec",
            P256,
            "sign",
            ReasonCode::UnsupportedAlgorithm,
        ),
    ] {
        make_ee(d, name, root, key, section);
        let sig = format!("sig-{name}");
        must(
            d,
            &[
                "dgst",
                "-sha256",
                "-sign",
                &format!("{name}.key"),
                "-out",
                &sig,
                "data",
            ],
        );
        let r = raw(
            &v,
            &p.der(name),
            &p.file("data"),
            None,
            &p.file(&sig),
            Scheme::Auto,
        );
        assert_eq!(r.reason, Some(reason), "{name}: {}", r.to_json_pretty());
        assert!(r.basic_info.is_none());
    }
    // OpenSSL refuses the unknown critical extension too.
    assert!(!ossl(
        d,
        &["verify", "-purpose", "any", "-CAfile", "root.pem", "v-crit.pem"]
    ));
    // A scheme that does not fit the key.
    must(
        d,
        &[
            "dgst",
            "-sha384",
            "-sign",
            "ee-ec.key",
            "-out",
            "sig-ec-pss",
            "data",
        ],
    );
    let r = raw(
        &v,
        &p.der("ee-ec"),
        &p.file("data"),
        None,
        &p.file("sig-ec-pss"),
        Scheme::Pss,
    );
    assert_eq!(r.reason, Some(ReasonCode::UnsupportedAlgorithm));
}
