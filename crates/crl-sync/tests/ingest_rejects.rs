//! Every kind of bad CRL input against the real `crl-sync ingest` binary: after a good CRL (number 5)
//! every bad input is refused with exit 2 (64 for usage errors) and a stable error code, and the
//! snapshot directory stays byte-identical, so `lookup` answers exactly as before. Then the happy
//! path: the same CRL again is "unchanged", a newer one flips lookups, and past nextUpdate a serial
//! that is not listed is "unknown" (fail closed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod cli_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cli_support::{
    Sim, SplitMix, at, dir_files, entries, error_code, ingest, lookup, now, null_extension, rewrite_crl,
    snapshot_files, tempdir,
};
use serde_json::Value;
use time::Duration;
use time::format_description::well_known::Rfc3339;

const ENTRIES: u64 = 2000;
/// 1.2.3.4, an OID nobody understands.
const UNKNOWN_OID: &[u8] = &[0x2A, 0x03, 0x04];

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn pem(der: &[u8]) -> Vec<u8> {
    format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        openssl::base64::encode_block(der)
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    )
    .into_bytes()
}

fn unix(v: &Value) -> i64 {
    time::OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// The CRLs both tests start from: number 5 at [`at`], number 6 an hour later with other entries.
struct Base {
    files: tempfile::TempDir,
    good5: PathBuf,
    good6: PathBuf,
    e5: Vec<(String, i64, Option<u8>)>,
    e6: Vec<(String, i64, Option<u8>)>,
}

impl Base {
    fn new() -> Base {
        let files = tempdir();
        let sim = Sim::get();
        let good5 = files.path().join("good5.der");
        let good6 = files.path().join("good6.der");
        let d5 = sim.crl(&good5, "sign-2023", ENTRIES, 5, at(), "base");
        // Another entry count draws other serials: some are listed only in 5, some only in 6.
        let d6 = sim.crl(
            &good6,
            "sign-2023",
            ENTRIES + 1,
            6,
            at() + Duration::hours(1),
            "base",
        );
        Base {
            e5: entries(&d5),
            e6: entries(&d6),
            files,
            good5,
            good6,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    fn only_in_6(&self) -> &(String, i64, Option<u8>) {
        let in5: BTreeSet<&str> = self.e5.iter().map(|e| e.0.as_str()).collect();
        self.e6.iter().find(|e| !in5.contains(e.0.as_str())).unwrap()
    }

    fn only_in_5(&self) -> &(String, i64, Option<u8>) {
        let in6: BTreeSet<&str> = self.e6.iter().map(|e| e.0.as_str()).collect();
        self.e5.iter().find(|e| !in6.contains(e.0.as_str())).unwrap()
    }

    /// A serial listed in neither CRL.
    fn never(&self) -> &'static str {
        let s = "0FFFFFFF";
        assert!(self.e5.iter().chain(&self.e6).all(|e| e.0 != s));
        s
    }
}

fn assert_revoked_as(answer: &Value, entry: &(String, i64, Option<u8>)) {
    assert_eq!(answer["status"], "revoked", "{answer}");
    assert_eq!(unix(&answer["revoked_at"]), entry.1, "{answer}");
    let reason = entry.2.map(|c| jpki::Reason::from_code(c).unwrap().rfc_name());
    assert_eq!(answer["reason"].as_str(), reason, "{answer}");
}

fn good_ingest(crl: &Path, dir: &Path, status: &str) -> Value {
    let r = ingest(crl, &Sim::get().root("sign-2023"), dir, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(r.json["status"], "ok", "{}", r.json);
    assert_eq!(r.json["partitions"][0]["status"], status, "{}", r.json);
    r.json
}

#[test]
fn bad_inputs_are_rejected_and_the_index_keeps_serving() {
    let base = Base::new();
    let sim = Sim::get();
    let root = sim.root("sign-2023");
    let out = tempdir();
    let out = out.path();

    let first = good_ingest(&base.good5, out, "updated");
    assert_eq!(first["partitions"][0]["crl_number"], "05");
    assert_eq!(first["partitions"][0]["entries"], ENTRIES);
    assert_eq!(first["snapshots"][0]["entries"], ENTRIES);
    let files_before = dir_files(out);
    assert_eq!(snapshot_files(out).len(), 1);
    let probes = [base.e5[0].0.as_str(), base.only_in_6().0.as_str(), base.never()];
    let answers: Vec<Value> = probes.iter().map(|s| lookup(out, s, now())).collect();
    assert_revoked_as(&answers[0], &base.e5[0]);
    assert_eq!(answers[1]["status"], "good");
    assert_eq!(answers[2]["status"], "good");

    // Every bad input, built from an otherwise acceptable newer CRL where there is one.
    let good6 = std::fs::read(&base.good6).unwrap();
    let mut sig_flipped = good6.clone();
    *sig_flipped.last_mut().unwrap() ^= 0x01;
    let mut tbs_changed = good6.clone();
    let h = crl_sync::parse::parse_crl(&good6, usize::MAX).unwrap();
    // The first entry's first serial octet (entry SEQUENCE and INTEGER headers are 2 octets each).
    assert_eq!(tbs_changed[h.revoked_offset + 4], 0x01);
    tbs_changed[h.revoked_offset + 4] = 0x02;
    let mut rng = SplitMix(5);
    let mut garbage: Vec<u8> = (0..4096).map(|_| rng.next_u64() as u8).collect();
    garbage[0] = 0x42;
    let mut der_garbage = garbage.clone();
    der_garbage[..4].copy_from_slice(&[0x30, 0x82, 0x0F, 0xFC]);
    let critical = rewrite_crl(
        &std::fs::read(&base.good5).unwrap(),
        Some(&null_extension(UNKNOWN_OID, true)),
        Some(7),
        &sim.root_key("sign-2023"),
    );
    let later = at() + Duration::hours(1);
    let f = |name: &str, bytes: &[u8]| write(base.files.path(), name, bytes);
    let mk = |name: &str, ca: &str, number: u64, t, seed: &str| {
        let p = base.path(name);
        sim.crl(&p, ca, ENTRIES, number, t, seed);
        p
    };
    let stale_now = (now() + Duration::hours(100)).format(&Rfc3339).unwrap();
    let len6 = good6.len().to_string();
    let len6_minus_1 = (good6.len() - 1).to_string();
    #[rustfmt::skip]
    let cases: Vec<(&str, PathBuf, Vec<&str>, i32, &str)> = vec![
        ("signature byte flipped", f("sig.der", &sig_flipped), vec![], 2, "CRL_BAD_SIGNATURE"),
        ("signed entry changed", f("tbs.der", &tbs_changed), vec![], 2, "CRL_BAD_SIGNATURE"),
        ("signed entry changed, PEM", f("tbs.pem", &pem(&tbs_changed)), vec![], 2, "CRL_BAD_SIGNATURE"),
        ("another hierarchy's CA (auth-2023)", mk("auth.der", "auth-2023", 6, later, "base"), vec![], 2, "CRL_NO_MATCHING_ISSUER"),
        ("the other generation's key (sign-2019), same DN", mk("gen.der", "sign-2019", 6, later, "base"), vec![], 2, "CRL_NO_MATCHING_ISSUER"),
        ("truncated to half", f("half.der", &good6[..good6.len() / 2]), vec![], 2, "CRL_MALFORMED"),
        ("truncated by one octet", f("minus1.der", &good6[..good6.len() - 1]), vec![], 2, "CRL_MALFORMED"),
        ("PEM cut before END", f("cut.pem", &pem(&good6)[..200]), vec![], 2, "CRL_BAD_PEM"),
        ("garbage", f("garbage.bin", &garbage), vec![], 2, "CRL_BAD_PEM"),
        ("garbage behind a SEQUENCE header", f("garbage.der", &der_garbage), vec![], 2, "CRL_MALFORMED"),
        ("empty file", f("empty.der", b""), vec![], 2, "CRL_BAD_PEM"),
        ("CRL number goes back (4 after 5)", mk("n4.der", "sign-2023", 4, later, "other"), vec![], 2, "CRL_ROLLBACK"),
        ("same CRL number, other content", mk("n5.der", "sign-2023", 5, at(), "other"), vec![], 2, "CRL_ROLLBACK"),
        ("higher number, thisUpdate goes back", mk("back.der", "sign-2023", 7, at() - Duration::hours(1), "base"), vec![], 2, "CRL_ROLLBACK"),
        ("thisUpdate beyond the skew", mk("future.der", "sign-2023", 7, now() + Duration::hours(1), "base"), vec![], 2, "CRL_NOT_YET_VALID"),
        ("thisUpdate just beyond 300 s", mk("future2.der", "sign-2023", 7, now() + Duration::seconds(301), "base"), vec![], 2, "CRL_NOT_YET_VALID"),
        ("nextUpdate in the past", mk("stale.der", "sign-2023", 7, now() - Duration::hours(49), "base"), vec![], 2, "CRL_STALE"),
        ("a newer CRL, but now is past its nextUpdate", base.good6.clone(), vec!["--now", &stale_now], 2, "CRL_STALE"),
        ("unknown critical CRL extension", f("crit.der", &critical), vec![], 2, "CRL_UNKNOWN_CRITICAL_EXTENSION"),
        ("over --max-bytes", base.good6.clone(), vec!["--max-bytes", "1000"], 2, "CRL_TOO_LARGE"),
        ("one octet over --max-bytes", base.good6.clone(), vec!["--max-bytes", &len6_minus_1], 2, "CRL_TOO_LARGE"),
        ("PEM over --max-bytes", f("good6.pem", &pem(&good6)), vec!["--max-bytes", "1000"], 2, "CRL_TOO_LARGE"),
    ];
    for (name, crl, extra, exit, code) in &cases {
        let r = ingest(crl, &root, out, extra);
        assert_eq!(r.code, *exit, "{name}: {}\n{}", r.json, r.stderr);
        assert_eq!(error_code(&r.json), *code, "{name}: {}", r.json);
        assert_eq!(r.json["status"], "rejected", "{name}: {}", r.json);
        assert_eq!(r.json["exit_code"], *exit, "{name}");
        assert_eq!(r.json["partitions"][0]["status"], "rejected", "{name}");
        assert_eq!(r.json["snapshots"], Value::Array(vec![]), "{name}");
        assert!(
            dir_files(out) == files_before,
            "{name}: the snapshot directory changed"
        );
        for (serial, before) in probes.iter().zip(&answers) {
            assert_eq!(&lookup(out, serial, now()), before, "{name}: lookup {serial}");
        }
    }

    // Usage errors: no CRL file, an issuer file without a certificate.
    let missing = base.path("missing.der");
    let r = ingest(&missing, &root, out, &[]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    let r = ingest(&base.good6, &base.good5, out, &[]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(dir_files(out) == files_before);

    // Control: the CRL behind most cases is fine, at exactly its size limit.
    let r = ingest(&base.good6, &root, out, &["--max-bytes", &len6]);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(r.json["partitions"][0]["status"], "updated");
}

#[test]
fn unchanged_newer_and_stale() {
    let base = Base::new();
    let sim = Sim::get();
    let out = tempdir();
    let out = out.path();
    good_ingest(&base.good5, out, "updated");
    let gen1 = snapshot_files(out);
    assert_eq!(gen1.len(), 1);

    // The same CRL again, as DER and as PEM: unchanged, no new generation.
    for crl in [
        base.good5.clone(),
        write(
            base.files.path(),
            "good5.pem",
            &pem(&std::fs::read(&base.good5).unwrap()),
        ),
    ] {
        let again = good_ingest(&crl, out, "unchanged");
        assert_eq!(again["snapshots"], Value::Array(vec![]), "{again}");
        assert!(snapshot_files(out) == gen1);
    }

    let (new, gone, never) = (base.only_in_6(), base.only_in_5(), base.never());
    assert_eq!(lookup(out, &new.0, now())["status"], "good");
    assert_revoked_as(&lookup(out, &gone.0, now()), gone);

    // Number 6 (as PEM): a new generation, and the lookups flip.
    let good6_pem = write(
        base.files.path(),
        "good6.pem",
        &pem(&std::fs::read(&base.good6).unwrap()),
    );
    let next = good_ingest(&good6_pem, out, "updated");
    assert_eq!(next["partitions"][0]["crl_number"], "06");
    let s5: BTreeSet<&str> = base.e5.iter().map(|e| e.0.as_str()).collect();
    let s6: BTreeSet<&str> = base.e6.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(next["snapshots"][0]["entries"], s6.len());
    assert_eq!(next["snapshots"][0]["added"], s6.difference(&s5).count());
    assert_eq!(next["snapshots"][0]["removed"], s5.difference(&s6).count());
    assert_eq!(snapshot_files(out).len(), 2);
    assert_revoked_as(&lookup(out, &new.0, now()), new);
    assert_eq!(lookup(out, &gone.0, now())["status"], "good");
    let answer = lookup(out, never, now());
    assert_eq!(answer["status"], "good");
    let next_update = at() + Duration::hours(1 + 48);
    assert_eq!(unix(&answer["next_update"]), next_update.unix_timestamp());

    // Past nextUpdate: what is listed stays revoked, everything else is unknown, never good.
    let late = next_update + Duration::seconds(1);
    let answer = lookup(out, never, late);
    assert_eq!(answer["status"], "unknown", "{answer}");
    assert_eq!(lookup(out, &gone.0, late)["status"], "unknown");
    assert_revoked_as(&lookup(out, &new.0, late), new);
    assert_eq!(lookup(out, never, next_update)["status"], "unknown");

    // thisUpdate within the allowed skew (300 s) is fine.
    let soon = base.path("soon.der");
    sim.crl(
        &soon,
        "sign-2023",
        ENTRIES,
        7,
        now() + Duration::seconds(240),
        "base",
    );
    good_ingest(&soon, out, "updated");
    // keep = 2: the oldest generation goes.
    let p8 = base.path("n8.der");
    sim.crl(
        &p8,
        "sign-2023",
        ENTRIES,
        8,
        now() + Duration::seconds(240),
        "eight",
    );
    let r = ingest(&p8, &sim.root("sign-2023"), out, &["--keep", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<String> = snapshot_files(out).into_keys().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[1].ends_with("-00000000000000000004.snap"), "{names:?}");

    // Control for the rewriter used by the critical-extension case: the same CRL with a
    // non-critical unknown extension, re-signed, is accepted.
    let rewritten = rewrite_crl(
        &std::fs::read(&p8).unwrap(),
        Some(&null_extension(UNKNOWN_OID, false)),
        Some(9),
        &sim.root_key("sign-2023"),
    );
    let p9 = write(base.files.path(), "n9.der", &rewritten);
    let r = good_ingest(&p9, out, "updated");
    assert_eq!(r["partitions"][0]["crl_number"], "09");
}

#[test]
fn generations_sharing_a_dn_are_told_apart_by_key_id() {
    let sim = Sim::get();
    let files = tempdir();
    let out = tempdir();
    let bundle = files.path().join("sign-roots.pem");
    let roots = [sim.root("sign-2023"), sim.root("sign-2019")];
    let both: Vec<u8> = roots.iter().flat_map(|p| std::fs::read(p).unwrap()).collect();
    std::fs::write(&bundle, both).unwrap();
    let key_id = |p: &Path| {
        let cert = openssl::x509::X509::from_pem(&std::fs::read(p).unwrap()).unwrap();
        hex::encode(crl_sync::build::ca_key_id(&cert))
    };
    for (i, ca) in ["sign-2019", "sign-2023"].into_iter().enumerate() {
        let crl = files.path().join(format!("{ca}.der"));
        let der = sim.crl(&crl, ca, 50, 1, at(), ca);
        let r = cli_support::crl_sync([
            "ingest".as_ref(),
            "--crl".as_ref(),
            crl.as_os_str(),
            "--issuer".as_ref(),
            bundle.as_os_str(),
            "--out".as_ref(),
            out.path().as_os_str(),
            "--json".as_ref(),
            "--now".as_ref(),
            cli_support::rfc(now()).as_ref() as &std::ffi::OsStr,
        ]);
        assert_eq!(r.code, 0, "{ca}: {}\n{}", r.json, r.stderr);
        // The partition defaults to one named by the CRL (its issuingDistributionPoint, else
        // `default`), never by the file name.
        assert_eq!(
            r.json["partitions"][0]["partition"],
            crl_sync::cli::default_partition(&der, usize::MAX)
        );
        assert_eq!(
            r.json["snapshots"][0]["issuer_key_id"],
            key_id(&sim.root(ca)),
            "{ca}"
        );
        assert_eq!(snapshot_files(out.path()).len(), i + 1);
        let (serial, ..) = &entries(&der)[entries(&der).len() - 1];
        let r = cli_support::crl_sync([
            "lookup",
            "--snapshot",
            out.path().to_str().unwrap(),
            serial,
            "--issuer-key-id",
            &key_id(&sim.root(ca)),
            "--now",
            &cli_support::rfc(now()),
        ]);
        assert_eq!(r.json["status"], "revoked", "{ca}: {}", r.json);
        assert_eq!(r.json["issuer_key_id"], key_id(&sim.root(ca)));
    }
}
