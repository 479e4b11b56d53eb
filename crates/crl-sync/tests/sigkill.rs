//! `crl-sync ingest` killed with SIGKILL at random moments, over and over, into one snapshot
//! directory: after every kill the directory opens, every snapshot file in it validates, and the
//! current snapshot is either the previous generation or the whole new one, never a mix or a
//! partial file. A clean ingest afterwards still works.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{Sim, SplitMix, at, entries, ingest, lookup, now, rfc, snapshot_files, tempdir};

const ROUNDS: u64 = 25;
const BUDGET: Duration = Duration::from_secs(60);
const ENTRIES: u64 = 300_000;

/// One prepared CRL: its file, entry count, CRL number and SHA-256.
struct Prepared {
    path: PathBuf,
    entries: u64,
    number: u64,
    sha256: [u8; 32],
}

/// (entries, CRL number, source SHA-256) of the current snapshot, after checking that the set
/// opens and that every snapshot file in the directory, current or not, validates.
fn current(dir: &Path) -> (u64, u64, [u8; 32]) {
    let set = revocation::SnapshotSet::open_dir(dir).unwrap();
    assert_eq!(set.len(), 1, "one CA key");
    for item in std::fs::read_dir(dir).unwrap() {
        let item = item.unwrap();
        let name = item.file_name().to_string_lossy().into_owned();
        if revocation::parse_file_name(&name).is_some() {
            revocation::Snapshot::open(&item.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    let snap = set.snapshots().next().unwrap();
    assert_eq!(snap.partitions().len(), 1);
    let p = &snap.partitions()[0];
    let number = p.crl_number.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    (snap.len() as u64, number, p.source_sha256)
}

fn is(state: (u64, u64, [u8; 32]), crl: &Prepared) -> bool {
    state == (crl.entries, crl.number, crl.sha256)
}

fn spawn_ingest(crl: &Prepared, out: &Path, root: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_crl-sync"))
        .arg("ingest")
        .arg("--crl")
        .arg(&crl.path)
        .arg("--issuer")
        .arg(root)
        .arg("--out")
        .arg(out)
        .args(["--partition", "p", "--now", &rfc(now())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_random_moments_always_leaves_a_whole_snapshot() {
    let sim = Sim::get();
    let root = sim.root("sign-2023");
    let files = tempdir();
    let out = tempdir();
    let out = out.path();

    // Generated once, up front: number 10 + i with 300,000 + i entries, so that both the number
    // and the count tell the generations apart. The first two are clean
    // runs, the last is for the clean run at the end.
    let crls: Vec<Prepared> = (0..=ROUNDS + 2)
        .map(|i| {
            let path = files.path().join(format!("crl-{i:02}.der"));
            let der = sim.crl(&path, "sign-2023", ENTRIES + i, 10 + i, at(), "sigkill");
            Prepared {
                path,
                entries: ENTRIES + i,
                number: 10 + i,
                sha256: openssl::sha::sha256(&der),
            }
        })
        .collect();

    // Two clean generations; the second (with a previous snapshot to read and diff against) is
    // timed so that the kill delays cover a whole run, writing and renaming included.
    assert!(spawn_ingest(&crls[0], out, &root).wait().unwrap().success());
    let started = Instant::now();
    let status = spawn_ingest(&crls[1], out, &root).wait().unwrap();
    let clean = started.elapsed();
    assert!(status.success());
    assert!(is(current(out), &crls[1]));
    let max_delay_ms = 150u64.max((clean.as_millis() as u64) * 5 / 4);

    let mut rng = SplitMix(0x5EED_CAFE);
    let mut prev = 1usize;
    let (mut rounds, mut killed, mut finished, mut replaced) = (0u64, 0u64, 0u64, 0u64);
    let loop_started = Instant::now();
    for i in 2..=ROUNDS as usize + 1 {
        if loop_started.elapsed() > BUDGET {
            break;
        }
        rounds += 1;
        let delay = Duration::from_millis(rng.below(max_delay_ms + 1));
        let mut child = spawn_ingest(&crls[i], out, &root);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let status = child.wait().unwrap();
        let state = current(out);
        if status.success() {
            finished += 1;
            assert!(
                is(state, &crls[i]),
                "round {i}: exit 0 but the new CRL is not current"
            );
        }
        if is(state, &crls[i]) {
            prev = i;
            replaced += 1;
        } else {
            assert!(
                is(state, &crls[prev]),
                "round {i} (killed after {delay:?}): current snapshot {state:?} is neither \
                 CRL {} nor CRL {}",
                crls[prev].number,
                crls[i].number
            );
        }
    }
    let leftovers = std::fs::read_dir(out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count();
    eprintln!(
        "{rounds} rounds in {:?} (delays 0..={max_delay_ms} ms, clean run {clean:?}): {killed} killed, \
         {finished} finished, {replaced} made the new CRL current; {leftovers} temporary files \
         left by killed runs",
        loop_started.elapsed()
    );
    assert!(rounds >= 5, "too few rounds in the time budget");

    // A clean ingest after all that: updated, current, answering.
    let last = &crls[ROUNDS as usize + 2];
    assert!(spawn_ingest(last, out, &root).wait().unwrap().success());
    assert!(is(current(out), last));
    let (serial, ..) = &entries(&std::fs::read(&last.path).unwrap())[0];
    assert_eq!(lookup(out, serial, now())["status"], "revoked");
    // The next writer removed what killed runs left behind.
    let after = std::fs::read_dir(out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count();
    assert_eq!(after, 0, "temporary files of killed runs must be cleaned up");

    // A second writer while one holds the directory: refused, nothing touched.
    let before = snapshot_files(out);
    let lock = revocation::WriterLock::acquire(out).unwrap();
    let r = ingest(&crls[ROUNDS as usize + 1].path, &root, out, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    drop(lock);
    assert_eq!(snapshot_files(out), before);
}
