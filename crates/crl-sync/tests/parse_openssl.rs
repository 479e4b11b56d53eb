//! CRLs made by the OpenSSL CLI (`openssl ca -gencrl`), cross-checked against `openssl crl -text`,
//! and verified against their CA with [`crl_sync::verify`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use crl_sync::error::CrlError;
use crl_sync::parse::{CrlVersion, parse_crl, pem_or_der, walk_revoked};
use crl_sync::verify::{select_issuer, verify_signature};
use openssl::x509::X509;
use testkit::openssl::must;

const JPKI_DN: &str =
    "/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems";
const MAX: usize = 1 << 20;

/// A throwaway `openssl ca` directory.
struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    /// An RSA-2048 CA, or an ECDSA P-384 one with `ec`; `md` is the default digest.
    fn new(ec: bool, md: &str) -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("newcerts")).unwrap();
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("crlnumber"), "1000\n").unwrap();
        std::fs::write(
            d.join("ca.cnf"),
            format!(
                "[ ca ]\ndefault_ca = CA_default\n\
                 [ CA_default ]\ndir = {dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/newcerts\n\
                 certificate = $dir/ca.pem\nprivate_key = $dir/ca.key\nserial = $dir/serial\n\
                 crlnumber = $dir/crlnumber\ndefault_md = {md}\ndefault_days = 365\ndefault_crl_days = 30\n\
                 policy = policy_any\ncrl_extensions = crl_ext\nunique_subject = no\n\
                 [ policy_any ]\ncommonName = supplied\n\
                 [ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n\
                 [ crl_crit ]\nauthorityKeyIdentifier = keyid:always\n1.2.3.4 = critical,DER:05:00\n\
                 [ crl_noaki ]\n1.2.3.5 = DER:05:00\n",
                dir = d.display()
            ),
        )
        .unwrap();
        let key = d.join("ca.key");
        let cert = d.join("ca.pem");
        let mut args: Vec<String> = ["req", "-x509", "-nodes", "-days", "3650", "-subj", JPKI_DN]
            .map(String::from)
            .to_vec();
        if ec {
            args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"].map(String::from));
        } else {
            args.extend(["-newkey", "rsa:2048"].map(String::from));
        }
        args.extend(["-keyout", key_str(&key), "-out", key_str(&cert)].map(String::from));
        must(&args);
        TestCa { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cert(&self) -> X509 {
        X509::from_pem(&std::fs::read(self.path("ca.pem")).unwrap()).unwrap()
    }

    /// Issues a certificate with the given serial (hex) and returns its path.
    fn issue(&self, serial_hex: &str) -> PathBuf {
        std::fs::write(self.path("serial"), format!("{serial_hex}\n")).unwrap();
        let key = self.path(&format!("ee-{serial_hex}.key"));
        let csr = self.path(&format!("ee-{serial_hex}.csr"));
        let cert = self.path(&format!("ee-{serial_hex}.pem"));
        must([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN=user {serial_hex}"),
            "-keyout",
            key_str(&key),
            "-out",
            key_str(&csr),
        ]);
        must([
            "ca",
            "-batch",
            "-config",
            key_str(&self.path("ca.cnf")),
            "-notext",
            "-in",
            key_str(&csr),
            "-out",
            key_str(&cert),
        ]);
        cert
    }

    fn revoke(&self, cert: &Path, reason: &str) {
        must([
            "ca",
            "-config",
            key_str(&self.path("ca.cnf")),
            "-revoke",
            key_str(cert),
            "-crl_reason",
            reason,
        ]);
    }

    /// `openssl ca -gencrl` with the given CRL extension section; returns (DER, `openssl crl -text`).
    fn gencrl(&self, section: &str, extra: &[&str]) -> (Vec<u8>, String) {
        let pem = self.path("crl.pem");
        let cnf = self.path("ca.cnf");
        let mut args = vec![
            "ca",
            "-gencrl",
            "-config",
            key_str(&cnf),
            "-crlexts",
            section,
            "-out",
            key_str(&pem),
        ];
        args.extend_from_slice(extra);
        must(&args);
        let der = self.path("crl.der");
        must([
            "crl",
            "-in",
            key_str(&pem),
            "-outform",
            "DER",
            "-out",
            key_str(&der),
        ]);
        let text = must(["crl", "-in", key_str(&pem), "-noout", "-text"]);
        (std::fs::read(der).unwrap(), text)
    }
}

fn key_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn rsa_ca() -> TestCa {
    TestCa::new(false, "sha256")
}

fn ec_ca() -> TestCa {
    TestCa::new(true, "sha384")
}

/// Unix seconds from `Mon DD HH:MM:SS YYYY GMT`, as `openssl crl -text` prints times.
fn openssl_time_to_unix(s: &str) -> i64 {
    let parts: Vec<&str> = s.split_whitespace().collect();
    assert_eq!(parts.len(), 5, "{s}");
    assert_eq!(parts[4], "GMT");
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| *x == parts[0]).unwrap() as i64 + 1;
    let d: i64 = parts[1].parse().unwrap();
    let y: i64 = parts[3].parse().unwrap();
    let hms: Vec<i64> = parts[2].split(':').map(|x| x.parse().unwrap()).collect();
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

/// One revoked entry: serial in hex, revocation time, reason code.
type Seen = (String, i64, Option<u8>);

/// What `openssl crl -text` says: (thisUpdate, nextUpdate, [(serial hex, revoked at, reason code)]).
fn openssl_view(text: &str) -> (i64, i64, Vec<Seen>) {
    let mut this_update = 0;
    let mut next_update = 0;
    let mut entries: Vec<Seen> = Vec::new();
    let mut lines = text.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(t) = line.strip_prefix("Last Update: ") {
            this_update = openssl_time_to_unix(t);
        } else if let Some(t) = line.strip_prefix("Next Update: ") {
            next_update = openssl_time_to_unix(t);
        } else if let Some(s) = line.strip_prefix("Serial Number: ") {
            entries.push((s.to_uppercase(), 0, None));
        } else if let Some(t) = line.strip_prefix("Revocation Date: ") {
            entries.last_mut().unwrap().1 = openssl_time_to_unix(t);
        } else if line.starts_with("X509v3 CRL Reason Code") {
            let name = lines.next().unwrap();
            let code = match name {
                "Unspecified" => 0,
                "Key Compromise" => 1,
                "CA Compromise" => 2,
                "Affiliation Changed" => 3,
                "Superseded" => 4,
                "Cessation Of Operation" => 5,
                "Certificate Hold" => 6,
                "Remove From CRL" => 8,
                other => panic!("reason {other}"),
            };
            entries.last_mut().unwrap().2 = Some(code);
        }
    }
    (this_update, next_update, entries)
}

fn walk_all(revoked: &[u8]) -> Vec<Seen> {
    let mut out = Vec::new();
    walk_revoked(revoked, &mut |s: &[u8], t: i64, r: Option<u8>| {
        let serial = jpki::Serial::from_der_content(s).unwrap();
        out.push((serial.to_hex(), t, r));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn openssl_crl_with_entries_matches_openssl_text_and_verifies() {
    let ca = rsa_ca();
    let revocations = [
        ("01", "keyCompromise"),
        ("7F", "affiliationChanged"),
        ("80", "superseded"),
        ("0123456789ABCDEF0123", "cessationOfOperation"),
        ("7FEEDDCCBBAA99887766554433221100FFEEDDCC", "certificateHold"),
        ("1000", "unspecified"),
    ];
    for (serial, reason) in revocations {
        let cert = ca.issue(serial);
        ca.revoke(&cert, reason);
    }
    ca.issue("2000"); // issued, not revoked
    let (der, text) = ca.gencrl("crl_ext", &[]);
    let header = parse_crl(&der, MAX).unwrap();
    let (this_update, next_update, expected) = openssl_view(&text);
    assert_eq!(expected.len(), revocations.len(), "{text}");

    assert_eq!(header.version, CrlVersion::V2);
    assert_eq!(header.this_update, this_update);
    assert_eq!(header.next_update, next_update);
    assert_eq!(header.crl_number_hex().as_deref(), Some("1000"));
    let cert = ca.cert();
    assert_eq!(
        header.authority_key_id,
        cert.subject_key_id().map(|k| k.as_slice())
    );
    assert_eq!(
        header.signature_algorithm.oid.to_string(),
        "1.2.840.113549.1.1.11"
    );

    let mut walked = walk_all(header.revoked);
    let mut expected = expected;
    walked.sort();
    expected.sort();
    assert_eq!(walked, expected, "{text}");

    verify_signature(&header, &cert).unwrap();

    // The same CRL as PEM.
    let pem = std::fs::read(ca.path("crl.pem")).unwrap();
    assert_eq!(pem_or_der(&pem, MAX).unwrap().as_ref(), &der[..]);

    // Another CA key with the same DN: refused by key id, and never selected.
    let other = rsa_ca();
    assert!(matches!(
        verify_signature(&header, &other.cert()),
        Err(CrlError::KeyIdMismatch)
    ));
    let candidates = [other.cert(), cert.clone()];
    let chosen = select_issuer(&header, &candidates).unwrap();
    assert_eq!(chosen.to_der().unwrap(), cert.to_der().unwrap());
    assert!(select_issuer(&header, &[other.cert()]).is_none());

    // A changed byte in the signed part: parses, does not verify.
    let mut tampered = der.clone();
    let first_serial_end = header.revoked_offset + 4 + usize::from(header.revoked[3]) - 1;
    tampered[first_serial_end] ^= 0x01;
    let h = parse_crl(&tampered, MAX).unwrap();
    assert!(matches!(verify_signature(&h, &cert), Err(CrlError::BadSignature)));
    // A changed signature byte.
    let mut tampered = der.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let h = parse_crl(&tampered, MAX).unwrap();
    assert!(matches!(verify_signature(&h, &cert), Err(CrlError::BadSignature)));

    // Truncated at every length: a typed error, never a panic.
    for len in 0..der.len() {
        let e = parse_crl(&der[..len], MAX).unwrap_err();
        assert!(matches!(e, CrlError::Malformed { .. }), "{len}: {e:?}");
    }
    // Walking a truncated revoked list.
    for len in 0..header.revoked.len() {
        let _ = walk_revoked(&header.revoked[..len], &mut |_: &[u8], _: i64, _: Option<u8>| {
            Ok(())
        });
    }
}

#[test]
fn empty_crl_parses_and_verifies() {
    let ca = rsa_ca();
    let (der, text) = ca.gencrl("crl_ext", &[]);
    let header = parse_crl(&der, MAX).unwrap();
    assert!(header.revoked.is_empty());
    let (this_update, next_update, expected) = openssl_view(&text);
    assert!(expected.is_empty());
    assert_eq!(
        (header.this_update, header.next_update),
        (this_update, next_update)
    );
    let stats = header
        .walk_revoked(&mut |_: &[u8], _: i64, _: Option<u8>| Ok(()))
        .unwrap();
    assert_eq!(stats.entries, 0);
    verify_signature(&header, &ca.cert()).unwrap();
}

#[test]
fn unknown_critical_extension_is_refused() {
    let ca = rsa_ca();
    let cert = ca.issue("05");
    ca.revoke(&cert, "keyCompromise");
    let (der, _) = ca.gencrl("crl_crit", &[]);
    match parse_crl(&der, MAX) {
        Err(CrlError::UnknownCriticalExtension { oid }) => assert_eq!(oid, "1.2.3.4"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_aki_the_issuer_is_found_by_name_and_signature() {
    let ca = rsa_ca();
    let other = rsa_ca();
    let (der, _) = ca.gencrl("crl_noaki", &[]);
    let header = parse_crl(&der, MAX).unwrap();
    assert_eq!(header.authority_key_id, None);
    // Same DN, other key: the name matches, the signature does not.
    assert!(matches!(
        verify_signature(&header, &other.cert()),
        Err(CrlError::BadSignature)
    ));
    let candidates = [other.cert(), ca.cert()];
    let chosen = select_issuer(&header, &candidates).unwrap();
    assert_eq!(chosen.to_der().unwrap(), ca.cert().to_der().unwrap());
}

#[test]
fn ecdsa_p384_crl_verifies() {
    let ca = ec_ca();
    let cert = ca.issue("0A");
    ca.revoke(&cert, "superseded");
    let (der, text) = ca.gencrl("crl_ext", &[]);
    let header = parse_crl(&der, MAX).unwrap();
    assert_eq!(header.signature_algorithm.oid.to_string(), "1.2.840.10045.4.3.3");
    let (_, _, expected) = openssl_view(&text);
    assert_eq!(walk_all(header.revoked), expected);
    verify_signature(&header, &ca.cert()).unwrap();
    // An RSA CA with the same DN: the key id differs.
    let rsa = rsa_ca();
    assert!(matches!(
        verify_signature(&header, &rsa.cert()),
        Err(CrlError::KeyIdMismatch)
    ));
}

#[test]
fn rsa_pss_crl_verifies() {
    let ca = rsa_ca();
    let (der, _) = ca.gencrl(
        "crl_ext",
        &["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"],
    );
    let header = parse_crl(&der, MAX).unwrap();
    assert_eq!(
        header.signature_algorithm.oid.to_string(),
        "1.2.840.113549.1.1.10"
    );
    verify_signature(&header, &ca.cert()).unwrap();
}

#[test]
fn rsa_pss_crl_outside_the_policy() {
    let ca = rsa_ca();
    let pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"];
    // SHA-1 inside RSASSA-PSS-params is weak like sha1WithRSAEncryption.
    let (der, _) = ca.gencrl("crl_ext", &[&pss[..], &["-md", "sha1"]].concat());
    let header = parse_crl(&der, MAX).unwrap();
    let e = verify_signature(&header, &ca.cert()).unwrap_err();
    assert_eq!(e.code(), "CRL_WEAK_ALGORITHM", "{e:?}");
    // MGF1 over another hash than the message's is not supported.
    let (der, _) = ca.gencrl(
        "crl_ext",
        &[&pss[..], &["-sigopt", "rsa_mgf1_md:sha384"]].concat(),
    );
    let header = parse_crl(&der, MAX).unwrap();
    let e = verify_signature(&header, &ca.cert()).unwrap_err();
    assert_eq!(e.code(), "CRL_UNSUPPORTED_ALGORITHM", "{e:?}");
}

#[test]
fn sha1_crl_is_weak() {
    let ca = rsa_ca();
    let (der, _) = ca.gencrl("crl_ext", &["-md", "sha1"]);
    let header = parse_crl(&der, MAX).unwrap();
    let e = verify_signature(&header, &ca.cert()).unwrap_err();
    assert!(matches!(e, CrlError::WeakAlgorithm { .. }), "{e:?}");
    assert_eq!(e.code(), "CRL_WEAK_ALGORITHM");
}
