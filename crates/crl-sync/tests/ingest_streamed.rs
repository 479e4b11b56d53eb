//! `crl-sync ingest` streams a large DER CRL (more than 1 MiB) instead of reading it whole. The
//! streamed ingest must be indistinguishable from the whole-file path: the same snapshot bytes
//! for a good CRL, and for a bad one the same exit code and error code with the directory left
//! as it was.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod cli_support;

use std::path::Path;

use cli_support::{Sim, at, dir_files, error_code, ingest, now, snapshot_files, tempdir};
use time::Duration;

/// About 2.2 MB of DER: streamed (the threshold is 1 MiB).
const ENTRIES: u64 = 60_000;

/// The whole-file path, through the library: what the streamed ingest must equal.
fn ingest_whole(crl: &Path, dir: &Path, now_unix: i64) -> crl_sync::build::BuildReport {
    let pem = std::fs::read(Sim::get().root("sign-2023")).unwrap();
    let cas = openssl::x509::X509::stack_from_pem(&pem).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let opts = crl_sync::build::BuildOptions {
        max_crl_bytes: 1 << 30,
        max_skew_secs: 300,
        now: now_unix,
        keep: 3,
        collect_deltas: false,
    };
    crl_sync::build::build_snapshots(
        dir,
        &cas,
        vec![crl_sync::build::CrlInput {
            partition: "p".into(),
            bytes: std::fs::read(crl).unwrap().into(),
        }],
        &opts,
        &indicatif::ProgressBar::hidden(),
    )
}

#[test]
fn a_streamed_ingest_writes_the_same_snapshot_as_a_whole_read() {
    let files = tempdir();
    let sim = Sim::get();
    let crl = files.path().join("big.der");
    let der = sim.crl(&crl, "sign-2023", ENTRIES, 7, at(), "stream");
    assert!(der.len() > 1 << 20, "{} bytes is too small to stream", der.len());
    let streamed = files.path().join("streamed");
    let r = ingest(&crl, &sim.root("sign-2023"), &streamed, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.json, r.stderr);
    assert_eq!(r.json["partitions"][0]["status"], "updated", "{}", r.json);
    assert_eq!(r.json["partitions"][0]["entries"], ENTRIES, "{}", r.json);
    let whole = files.path().join("whole");
    let rep = ingest_whole(&crl, &whole, now().unix_timestamp());
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    let (a, b) = (snapshot_files(&streamed), snapshot_files(&whole));
    assert_eq!(a.len(), 1);
    assert_eq!(a, b, "streamed and whole-file snapshots differ");
    // And it was streamed, not given back to be read whole.
    let lib = files.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let src = crl_sync::stream::StreamSource::open(&crl, 1 << 30)
        .unwrap()
        .expect("streamable");
    let cas = openssl::x509::X509::stack_from_pem(&std::fs::read(sim.root("sign-2023")).unwrap()).unwrap();
    let opts = crl_sync::build::BuildOptions {
        max_crl_bytes: 1 << 30,
        max_skew_secs: 300,
        now: now().unix_timestamp(),
        keep: 3,
        collect_deltas: false,
    };
    let rep = crl_sync::build::build_streamed(&lib, &cas, "p", src, &opts, &indicatif::ProgressBar::hidden())
        .expect("streamed, not read whole");
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(snapshot_files(&lib), b);

    // The same file again is unchanged (the index written meanwhile is thrown away, leaving no
    // temporary file); an older CRL number is a rollback.
    let unchanged = dir_files(&streamed);
    let r = ingest(&crl, &sim.root("sign-2023"), &streamed, &[]);
    assert_eq!(r.json["partitions"][0]["status"], "unchanged", "{}", r.json);
    assert_eq!(dir_files(&streamed), unchanged);
    let older = files.path().join("older.der");
    sim.crl(
        &older,
        "sign-2023",
        ENTRIES,
        6,
        at() - Duration::hours(1),
        "stream-older",
    );
    let before = dir_files(&streamed);
    let r = ingest(&older, &sim.root("sign-2023"), &streamed, &[]);
    assert_eq!(r.code, 2, "{}\n{}", r.json, r.stderr);
    assert_eq!(error_code(&r.json), "CRL_ROLLBACK", "{}", r.json);
    assert_eq!(dir_files(&streamed), before);
}

#[test]
fn damaged_large_crls_are_rejected_like_whole_ones() {
    let files = tempdir();
    let sim = Sim::get();
    let good = files.path().join("good.der");
    let der = sim.crl(&good, "sign-2023", ENTRIES, 9, at(), "damaged");
    let n = der.len();
    let flip = |at: usize| {
        let mut d = der.clone();
        d[at] ^= 0x01;
        d
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an entry's time digit", flip(n / 2)),
        ("an entry's tag", {
            // The first entry's SEQUENCE tag, a few bytes after the header fields.
            let pos = der
                .windows(4)
                .position(|w| w == [0x30, 0x23, 0x02, 0x04])
                .unwrap();
            flip(pos)
        }),
        ("the signature", flip(n - 10)),
        ("the CRL number", {
            let pos = der.windows(3).rposition(|w| w == [0x55, 0x1d, 0x14]).unwrap();
            flip(pos + 6)
        }),
        ("truncated", der[..n - 100].to_vec()),
        ("a trailing byte", [der.as_slice(), &[0]].concat()),
        ("an entry cut at a chunk boundary", {
            // Shorten the outer and TBS lengths by nothing but drop one byte in the middle:
            // lengths no longer add up.
            let mut d = der.clone();
            d.remove(1 << 20);
            d
        }),
    ];
    for (what, bytes) in cases {
        let crl = files.path().join("bad.der");
        std::fs::write(&crl, &bytes).unwrap();
        // The whole-file verdict, into a fresh directory.
        let whole_dir = files.path().join(format!("whole-{}", what.replace(' ', "-")));
        let rep = ingest_whole(&crl, &whole_dir, now().unix_timestamp());
        let whole_code = rep.errors.first().map(|e| e.code()).unwrap_or("");
        assert!(!whole_code.is_empty(), "{what}: the whole-file path accepted it");
        // The CLI on a directory holding a good snapshot: refused the same way, nothing changed.
        let dir = files.path().join(format!("cli-{}", what.replace(' ', "-")));
        let r = ingest(&good, &sim.root("sign-2023"), &dir, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let before = dir_files(&dir);
        let r = ingest(&crl, &sim.root("sign-2023"), &dir, &[]);
        assert_eq!(r.code, 2, "{what}: {}\n{}", r.json, r.stderr);
        assert_eq!(error_code(&r.json), whole_code, "{what}: {}", r.json);
        assert_eq!(dir_files(&dir), before, "{what}: the directory changed");
    }
}
