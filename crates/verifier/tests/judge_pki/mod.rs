//! A JPKI-profile PKI made with the OpenSSL CLI (RSA and P-384 roots, signing and auth end
//! entities, profile violations), shared by the OpenSSL-judge tests, and helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jpki::CertKind;
use openssl::x509::X509;
use testkit::openssl::run_in;
use verifier::{
    HashAlg, Limits, Payload, Report, Scheme, SignatureRequest, StaticSource, TrustStore, Verifier,
};

pub const SIGN_DN: &str =
    "/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems";

pub const EXT: &str = "\
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

pub struct Pki {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

pub fn ossl(dir: &Path, args: &[&str]) -> bool {
    run_in(dir, args).0
}

pub fn must(dir: &Path, args: &[&str]) {
    let (ok, text) = run_in(dir, args);
    assert!(ok, "openssl {args:?}: {text}");
}

pub fn make_root(dir: &Path, name: &str, newkey: &[&str]) {
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

pub fn make_ee(dir: &Path, name: &str, root: &str, newkey: &[&str], section: &str) {
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

pub const RSA: &[&str] = &["-newkey", "rsa:2048"];
pub const P384: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];

pub fn pki() -> &'static Pki {
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
    pub fn der(&self, name: &str) -> Vec<u8> {
        X509::from_pem(&std::fs::read(self.dir.join(format!("{name}.pem"))).unwrap())
            .unwrap()
            .to_der()
            .unwrap()
    }

    pub fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }

    pub fn verifier(&self, roots: &[&str]) -> Verifier {
        let mut store = TrustStore::production();
        for r in roots {
            store.add_root(&self.der(r)).unwrap();
        }
        Verifier::new(store, Limits::default())
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn good() -> StaticSource {
    StaticSource::new(now() - 3600)
}

pub fn raw(
    v: &Verifier,
    cert: &[u8],
    data: &[u8],
    hash: Option<HashAlg>,
    sig: &[u8],
    scheme: Scheme,
) -> Report {
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
