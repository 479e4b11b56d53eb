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

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jpki::CertKind;
use openssl::x509::X509;
use testkit::openssl::run_in;
use verifier::{
    HashAlg, Limits, Payload, ReasonCode, Report, Scheme, SignatureRequest, StaticSource, TrustStore,
    Verifier,
};

const SIGN_DN: &str =
    "/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems";

const EXT: &str = "\
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[sign]
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_info
[sign_noaki]
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
subjectAltName = @four_info
[ku_no_nr]
keyUsage = critical, digitalSignature
certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_info
[ku_noncrit]
keyUsage = digitalSignature, nonRepudiation
certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_info
[cp_noncrit]
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_info
[unknown_crit]
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_info
1.2.3.4.5 = critical, DER:05:00
[ca_ee]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_info
[four_info]
otherName.1 = 1.2.392.200149.8.5.5.1;FORMAT:UTF8,UTF8:山田\u{3000}太郎
otherName.2 = 1.2.392.200149.8.5.5.2;FORMAT:UTF8,UTF8:00000
otherName.3 = 1.2.392.200149.8.5.5.3;FORMAT:UTF8,UTF8:1
otherName.4 = 1.2.392.200149.8.5.5.4;FORMAT:UTF8,UTF8:319801231
otherName.5 = 1.2.392.200149.8.5.5.5;FORMAT:UTF8,UTF8:東京都千代田区霞が関１－１
otherName.6 = 1.2.392.200149.8.5.5.6;FORMAT:UTF8,UTF8:0000000000000
";

struct Pki {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn ossl(dir: &Path, args: &[&str]) -> bool {
    run_in(dir, args).0
}

fn must(dir: &Path, args: &[&str]) {
    let (ok, text) = run_in(dir, args);
    assert!(ok, "openssl {args:?}: {text}");
}

fn make_root(dir: &Path, name: &str, newkey: &[&str]) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    let mut args = vec!["req", "-x509", "-nodes", "-days", "3650", "-sha384"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-keyout",
        &key,
        "-out",
        &pem,
        "-subj",
        SIGN_DN,
        "-config",
        "ext.cnf",
        "-extensions",
        "root",
    ]);
    must(dir, &args);
}

fn make_ee(dir: &Path, name: &str, root: &str, newkey: &[&str], section: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-subj",
        "/C=JP/L=Tokyo/L=Chiyoda/CN=TEST0001",
    ];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&["-keyout", &key, "-out", &csr]);
    must(dir, &args);
    must(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{root}.pem"),
            "-CAkey",
            &format!("{root}.key"),
            "-CAcreateserial",
            "-days",
            "365",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            section,
            "-out",
            &format!("{name}.pem"),
        ],
    );
    must(
        dir,
        &[
            "x509",
            "-in",
            &format!("{name}.pem"),
            "-pubkey",
            "-noout",
            "-out",
            &format!("{name}.pub"),
        ],
    );
}

const RSA: &[&str] = &["-newkey", "rsa:2048"];
const P384: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];

fn pki() -> &'static Pki {
    static P: OnceLock<Pki> = OnceLock::new();
    P.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("ext.cnf"), EXT).unwrap();
        std::fs::write(dir.join("data"), b"KYC application #1234\n").unwrap();
        std::fs::write(dir.join("tampered"), b"KYC application #1235\n").unwrap();
        make_root(&dir, "root", RSA);
        make_root(&dir, "root2", RSA); // another "generation": same DN, other key
        make_root(&dir, "root-ec", P384);
        make_ee(&dir, "ee", "root", RSA, "sign");
        make_ee(&dir, "ee-ec", "root-ec", P384, "sign");
        make_ee(&dir, "ee2", "root2", RSA, "sign");
        make_ee(&dir, "ee2-noaki", "root2", RSA, "sign_noaki");
        make_ee(&dir, "ee-noaki", "root", RSA, "sign_noaki");
        // Signed by root2's key, but its AKI names root's key (a forged or mixed-up generation).
        let (ok, text) = run_in(
            &dir,
            [
                "x509",
                "-in",
                "root.pem",
                "-noout",
                "-ext",
                "subjectKeyIdentifier",
            ],
        );
        assert!(ok, "{text}");
        let ski: String = text
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .split(':')
            .collect::<Vec<_>>()
            .join(":");
        let forged = format!(
            "[forged]\nkeyUsage = critical, digitalSignature, nonRepudiation\n\
             certificatePolicies = critical, 1.2.392.200149.8.5.1.1.20\nsubjectKeyIdentifier = hash\n\
             2.5.29.35 = DER:30:16:80:14:{ski}\nsubjectAltName = @four_info\n"
        );
        std::fs::write(dir.join("ext.cnf"), format!("{EXT}{forged}")).unwrap();
        make_ee(&dir, "ee-forged", "root2", RSA, "forged");
        Pki { _tmp: tmp, dir }
    })
}

impl Pki {
    fn der(&self, name: &str) -> Vec<u8> {
        X509::from_pem(&std::fs::read(self.dir.join(format!("{name}.pem"))).unwrap())
            .unwrap()
            .to_der()
            .unwrap()
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }

    fn verifier(&self, roots: &[&str]) -> Verifier {
        let mut store = TrustStore::production();
        for r in roots {
            store.add_root(&self.der(r)).unwrap();
        }
        Verifier::new(store, Limits::default())
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn good() -> StaticSource {
    StaticSource::new(now() - 3600)
}

fn raw(v: &Verifier, cert: &[u8], data: &[u8], hash: Option<HashAlg>, sig: &[u8], scheme: Scheme) -> Report {
    v.verify_signature(
        &SignatureRequest {
            cert_der: cert,
            kind: Some(CertKind::Signing),
            payload: Payload::Data { bytes: data, hash },
            signature: sig,
            scheme,
            at_unix: now(),
        },
        &good(),
    )
}

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
