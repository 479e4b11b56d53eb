//! CRLs made by `openssl ca -gencrl` (OpenSSL 3 CLI) through the real `crl-sync ingest`, as PEM
//! and as DER: `lookup` agrees with `openssl crl -text` for every serial (status, reason, time),
//! an unrevoked serial is good, and a CRL with an unknown critical extension is refused (exit 2)
//! without touching the snapshot directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{at, dir_files, error_code, ingest, lookup, now, tempdir};
use serde_json::Value;
use testkit::openssl::must;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const JPKI_DN: &str =
    "/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems";

/// (serial, revocation time in index.txt form, reason or "" for none).
const REVOKED: &[(&str, &str, &str)] = &[
    ("01", "261101000000Z", "keyCompromise"),
    ("7F", "261102030405Z", "affiliationChanged"),
    ("80", "261103000000Z", "superseded"),
    ("1000", "261104000000Z", "CACompromise"),
    ("0123456789ABCDEF0123", "261105000000Z", "cessationOfOperation"),
    (
        "7FEEDDCCBBAA99887766554433221100FFEEDDCC",
        "261106000000Z",
        "unspecified",
    ),
    ("2000", "261107000000Z", ""),
];
/// Issued and not revoked.
const VALID: &str = "3000";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An `openssl ca` directory whose index.txt already holds the revocations.
struct OpensslCa {
    dir: tempfile::TempDir,
}

impl OpensslCa {
    fn new(ec: bool) -> OpensslCa {
        let dir = tempdir();
        let d = dir.path();
        let mut index = String::new();
        for (serial, when, reason) in REVOKED {
            let rev = if reason.is_empty() {
                (*when).to_owned()
            } else {
                format!("{when},{reason}")
            };
            index.push_str(&format!(
                "R\t351231000000Z\t{rev}\t{serial}\tunknown\t/CN=holder {serial}\n"
            ));
        }
        index.push_str(&format!(
            "V\t351231000000Z\t\t{VALID}\tunknown\t/CN=holder {VALID}\n"
        ));
        std::fs::write(d.join("index.txt"), index).unwrap();
        std::fs::write(d.join("crlnumber"), "1000\n").unwrap();
        std::fs::write(
            d.join("ca.cnf"),
            format!(
                "[ ca ]\ndefault_ca = CA_default\n\
                 [ CA_default ]\ndir = {dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\n\
                 certificate = $dir/ca.pem\nprivate_key = $dir/ca.key\nserial = $dir/serial\n\
                 crlnumber = $dir/crlnumber\ndefault_md = {md}\ndefault_crl_days = 2\n\
                 policy = policy_any\nunique_subject = no\n\
                 [ policy_any ]\ncommonName = supplied\n\
                 [ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n\
                 [ crl_crit ]\nauthorityKeyIdentifier = keyid:always\n1.2.3.4 = critical,ASN1:NULL\n\
                 [ crl_noncrit ]\nauthorityKeyIdentifier = keyid:always\n1.2.3.4 = ASN1:NULL\n",
                dir = d.display(),
                md = if ec { "sha384" } else { "sha256" },
            ),
        )
        .unwrap();
        let mut args = vec!["req", "-x509", "-nodes", "-days", "3650", "-subj", JPKI_DN];
        if ec {
            args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]);
        } else {
            args.extend(["-newkey", "rsa:2048"]);
        }
        let (key, cert) = (d.join("ca.key"), d.join("ca.pem"));
        args.extend(["-keyout", s(&key), "-out", s(&cert)]);
        must(&args);
        OpensslCa { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `openssl ca -gencrl` at [`at`] (valid 48 h) with a CRL extension section; returns the PEM
    /// file, the DER file and `openssl crl -text`.
    fn gencrl(&self, section: &str, name: &str) -> (PathBuf, PathBuf, String) {
        let fmt = |t: OffsetDateTime| {
            format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        };
        let (pem, der) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.der")),
        );
        must([
            "ca",
            "-gencrl",
            "-config",
            s(&self.path("ca.cnf")),
            "-crlexts",
            section,
            "-crl_lastupdate",
            &fmt(at()),
            "-crl_nextupdate",
            &fmt(at() + Duration::hours(48)),
            "-out",
            s(&pem),
        ]);
        must(["crl", "-in", s(&pem), "-outform", "DER", "-out", s(&der)]);
        let text = must(["crl", "-in", s(&pem), "-noout", "-text"]);
        (pem, der, text)
    }
}

/// `Nov  1 00:00:00 2026 GMT` → unix seconds.
fn openssl_time(t: &str) -> i64 {
    let f = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    let t = t.split_whitespace().collect::<Vec<_>>();
    let text = format!("{} {:>2} {} {} {}", t[0], t[1], t[2], t[3], t[4]);
    time::PrimitiveDateTime::parse(&text, f)
        .unwrap()
        .assume_utc()
        .unix_timestamp()
}

/// One entry as `openssl crl -text` prints it: serial, revoked at, reason name.
type Listed = (String, i64, Option<String>);

/// What `openssl crl -text` says: (thisUpdate, nextUpdate, entries).
fn openssl_view(text: &str) -> (i64, i64, Vec<Listed>) {
    let (mut this_update, mut next_update, mut entries) = (0, 0, Vec::new());
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(t) = line.strip_prefix("Last Update: ") {
            this_update = openssl_time(t);
        } else if let Some(t) = line.strip_prefix("Next Update: ") {
            next_update = openssl_time(t);
        } else if let Some(serial) = line.strip_prefix("Serial Number: ") {
            entries.push((serial.to_uppercase(), 0, None));
        } else if let Some(t) = line.strip_prefix("Revocation Date: ") {
            entries.last_mut().unwrap().1 = openssl_time(t);
        } else if line.starts_with("X509v3 CRL Reason Code") {
            let name = lines.next().unwrap().replace(' ', "");
            entries.last_mut().unwrap().2 = Some(name);
        }
    }
    (this_update, next_update, entries)
}

fn unix(v: &Value) -> i64 {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339)
        .unwrap()
        .unix_timestamp()
}

fn round_trip(ec: bool) {
    let ca = OpensslCa::new(ec);
    let root = ca.path("ca.pem");
    let (pem, der, text) = ca.gencrl("crl_ext", "crl1000");
    let (this_update, next_update, expected) = openssl_view(&text);
    assert_eq!(expected.len(), REVOKED.len(), "{text}");
    assert_eq!(this_update, at().unix_timestamp());

    let dirs = [tempdir(), tempdir()];
    for (input, out) in [(&pem, dirs[0].path()), (&der, dirs[1].path())] {
        let r = ingest(input, &root, out, &[]);
        assert_eq!(r.code, 0, "{}: {}\n{}", input.display(), r.json, r.stderr);
        assert_eq!(r.json["partitions"][0]["status"], "updated");
        assert_eq!(r.json["partitions"][0]["crl_number"], "1000");
        assert_eq!(r.json["snapshots"][0]["entries"], REVOKED.len());
        for (serial, revoked_at, reason) in &expected {
            let answer = lookup(out, serial, now());
            assert_eq!(answer["status"], "revoked", "{serial}: {answer}");
            assert_eq!(unix(&answer["revoked_at"]), *revoked_at, "{serial}: {answer}");
            // OpenSSL prints "Key Compromise", "CA Compromise"; ours are the RFC names.
            let ours = answer["reason"].as_str().map(|r| r.to_ascii_lowercase());
            assert_eq!(
                ours,
                reason.as_ref().map(|r| r.to_ascii_lowercase()),
                "{serial}: {answer}"
            );
            assert_eq!(unix(&answer["this_update"]), this_update);
            assert_eq!(unix(&answer["next_update"]), next_update);
        }
        let answer = lookup(out, VALID, now());
        assert_eq!(answer["status"], "good", "{answer}");
        assert_eq!(unix(&answer["next_update"]), next_update);
        // Never issued, never revoked: not listed, so good while the CRL is fresh.
        assert_eq!(lookup(out, "0ABC", now())["status"], "good");
    }
    // The reasons themselves, against our own table (OpenSSL's names are not all RFC 5280's).
    for (serial, _, reason) in REVOKED {
        let answer = lookup(dirs[0].path(), serial, now());
        let want = match *reason {
            "" => Value::Null,
            "CACompromise" => "cACompromise".into(),
            r => r.into(),
        };
        assert_eq!(answer["reason"], want, "{serial}");
    }

    // The DER of a CRL ingested as PEM is the same CRL: unchanged.
    let out = dirs[0].path();
    let r = ingest(&der, &root, out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json["partitions"][0]["status"], "unchanged");

    // An unknown critical CRL extension: refused, as PEM and as DER, nothing written.
    let before = dir_files(out);
    let (crit_pem, crit_der, crit_text) = ca.gencrl("crl_crit", "crl1001");
    assert!(crit_text.contains("1.2.3.4: critical"), "{crit_text}");
    for input in [&crit_pem, &crit_der] {
        let r = ingest(input, &root, out, &[]);
        assert_eq!(r.code, 2, "{}\n{}", r.json, r.stderr);
        assert_eq!(
            error_code(&r.json),
            "CRL_UNKNOWN_CRITICAL_EXTENSION",
            "{}",
            r.json
        );
        assert!(dir_files(out) == before);
    }
    // The same extension, not critical: accepted.
    let (noncrit_pem, _, _) = ca.gencrl("crl_noncrit", "crl1002");
    let r = ingest(&noncrit_pem, &root, out, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(r.json["partitions"][0]["crl_number"], "1002");
}

#[test]
fn openssl_ca_rsa_crls_ingest_and_agree_with_openssl() {
    round_trip(false);
}

#[test]
fn openssl_ca_ecdsa_p384_crls_ingest_and_agree_with_openssl() {
    round_trip(true);
}
