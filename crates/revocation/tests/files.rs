//! Damaged files are rejected with an error (never a panic); writes are atomic; the holder swaps.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test and bench code

use std::fs;

use jpki::{Reason, Serial};
use proptest::prelude::*;
use revocation::{Error, IndexBuilder, PartitionMeta, Snapshot, SnapshotHolder, SnapshotSet};

const KEY: &[u8] = &[0x01, 0x02, 0x03, 0x04];

fn meta(id: &str, this_update: i64) -> PartitionMeta {
    PartitionMeta {
        id: id.into(),
        dp_name: None,
        crl_number: vec![7],
        this_update,
        next_update: this_update + 86_400,
        source_sha256: [9; 32],
        entries: 0,
    }
}

fn sample(key: &[u8], extra: u64) -> IndexBuilder {
    let mut b = IndexBuilder::new(key).unwrap();
    let p0 = b.add_partition(meta("a", 1_700_000_000)).unwrap();
    let p1 = b.add_partition(meta("b", 1_700_000_100)).unwrap();
    for i in 0..300u64 {
        let p = if i % 3 == 0 { p1 } else { p0 };
        b.push(
            &(0x1000 + i * 2 + extra).to_be_bytes(),
            1_690_000_000 + i as i64,
            Some(3),
            p,
        )
        .unwrap();
    }
    b.push(&[0x7F; 16], 1_690_000_000, None, p1).unwrap();
    b
}

/// Temporary files (of writes in progress or interrupted) in `dir`.
fn temp_files(dir: &std::path::Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count()
}

fn sample_bytes() -> Vec<u8> {
    sample(KEY, 0).finish().unwrap().as_bytes().to_vec()
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let bytes = sample_bytes();
    for len in 0..bytes.len() {
        assert!(Snapshot::from_bytes(bytes[..len].to_vec()).is_err(), "len {len}");
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 8]);
    assert!(Snapshot::from_bytes(longer).is_err());
}

#[test]
fn every_single_byte_flip_is_an_error() {
    let bytes = sample_bytes();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x40;
        assert!(Snapshot::from_bytes(b).is_err(), "byte {i}");
    }
}

#[test]
fn typed_errors() {
    let bytes = sample_bytes();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(matches!(Snapshot::from_bytes(b), Err(Error::BadMagic)));
    let mut b = bytes.clone();
    b[8] = 1; // version 1 files (separate serial, time and reason arrays) are no longer read
    assert!(matches!(
        Snapshot::from_bytes(b),
        Err(Error::UnsupportedVersion {
            found: 1,
            supported: 4
        })
    ));
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 20] ^= 1;
    assert!(matches!(
        Snapshot::from_bytes(b),
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        Snapshot::from_bytes(bytes[..bytes.len() - 1].to_vec()),
        Err(Error::Truncated { .. })
    ));
}

/// Recomputes the trailing checksum, so the structural checks behind it are exercised too. Version
/// 3 checksums from the directory (whose offset is in the section table) to the trailer first,
/// then the header and partition table.
fn reseal(b: &mut [u8]) {
    let n = b.len();
    let split = (u64::from_le_bytes(b[128..136].try_into().unwrap()) as usize).min(n - 8);
    let mut sum = revocation::Checksum::default();
    sum.update(&b[split..n - 8]);
    sum.update(&b[..split]);
    let sum = sum.finish();
    b[n - 8..].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn resealing_keeps_a_file_valid() {
    let mut b = sample_bytes();
    let n = b.len();
    b[n - 1] ^= 1;
    assert!(Snapshot::from_bytes(b.clone()).is_err());
    reseal(&mut b);
    assert_eq!(Snapshot::from_bytes(b).unwrap().len(), 301);
}

#[test]
fn version_2_files_are_still_read() {
    // Version 2 differs in taking the checksum in file order, and in aiming at 8 entries per
    // directory bucket instead of 4, which gives the same directory for up to 11 narrow entries:
    // such a snapshot, relabelled and resealed, is a genuine version 2 file.
    let mut b = IndexBuilder::new(KEY).unwrap();
    let p = b.add_partition(meta("a", 1_700_000_000)).unwrap();
    for i in 0..11u64 {
        b.push(
            &(0x1000 + i * 7).to_be_bytes(),
            1_690_000_000 + i as i64,
            Some(1),
            p,
        )
        .unwrap();
    }
    b.push(&[0x7F; 16], 1_690_000_000, None, p).unwrap();
    let v3 = b.finish().unwrap().as_bytes().to_vec();
    let mut v2 = v3.clone();
    v2[8] = 2;
    let n = v2.len();
    let sum = revocation::checksum(&v2[..n - 8]);
    v2[n - 8..].copy_from_slice(&sum.to_le_bytes());
    let (a, b) = (
        Snapshot::from_bytes(v2).unwrap(),
        Snapshot::from_bytes(v3.clone()).unwrap(),
    );
    assert_eq!(a.entries().collect::<Vec<_>>(), b.entries().collect::<Vec<_>>());
    assert_eq!(a.partitions(), b.partitions());
    // A version 3 file whose checksum was taken in file order is damaged.
    let mut bad = v3;
    let sum = revocation::checksum(&bad[..n - 8]);
    bad[n - 8..].copy_from_slice(&sum.to_le_bytes());
    assert!(matches!(
        Snapshot::from_bytes(bad),
        Err(Error::ChecksumMismatch { .. })
    ));
}

#[test]
fn a_pending_snapshot_commits_the_same_file_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Written whole, with the SHA-256 known from the start.
    let mut whole = sample(KEY, 0);
    whole.set_source_sha256(1, [0xAB; 32]).unwrap();
    let whole = whole.write_atomically(dir.path(), 5).unwrap();

    // Dropped before commit: no file, no leftover, the generation is not used up.
    let mut pending = sample(KEY, 0).write_pending(dir.path(), 5).unwrap();
    assert_eq!(pending.len(), 301);
    assert_eq!(temp_files(dir.path()), 1);
    pending.set_source_sha256(1, [0xAB; 32]).unwrap();
    assert!(pending.set_source_sha256(2, [0; 32]).is_err());
    drop(pending);
    assert_eq!(temp_files(dir.path()), 0);
    assert_eq!(
        Snapshot::open_latest(dir.path(), KEY)
            .unwrap()
            .unwrap()
            .generation(),
        Some(1)
    );

    // Body first, SHA-256 later: the same bytes as the whole write.
    let mut pending = sample(KEY, 0).write_pending(dir.path(), 5).unwrap();
    pending.set_source_sha256(1, [0xAB; 32]).unwrap();
    let path = pending.commit().unwrap();
    assert_eq!(temp_files(dir.path()), 0);
    assert_eq!(fs::read(&path).unwrap(), fs::read(&whole).unwrap());
    let s = Snapshot::open(&path).unwrap();
    assert_eq!(s.generation(), Some(2));
    assert_eq!(s.partitions()[1].source_sha256, [0xAB; 32]);
    let written = Snapshot::open_written(&path).unwrap();
    assert_eq!(
        written.entries().collect::<Vec<_>>(),
        s.entries().collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// With a valid checksum, arbitrary damage is still caught by the structural checks or, when
    /// it lands somewhere harmless (padding, times, ids), the snapshot opens and answers safely.
    #[test]
    fn resealed_damage_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut b = sample_bytes();
        for (at, x) in flips {
            let i = at % (b.len() - 8);
            b[i] ^= x.max(1);
        }
        reseal(&mut b);
        if let Ok(s) = Snapshot::from_bytes(b) {
            for e in s.entries() {
                prop_assert!(s.lookup(&e.serial).is_some());
                prop_assert!(s.partition(e.partition).is_some());
            }
            for v in 0..0x1400u64 {
                let _ = s.lookup(&Serial::from_u64(v));
            }
            let _ = revocation::delta_from_empty(&s);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut b = bytes;
        if b.len() >= 8 {
            b[..8].copy_from_slice(b"JPKIREV\0");
        }
        let _ = Snapshot::from_bytes(b);
    }
}

#[test]
fn builder_rejects_bad_input() {
    assert!(matches!(
        IndexBuilder::new(&[]),
        Err(Error::IssuerKeyId { len: 0 })
    ));
    assert!(matches!(
        IndexBuilder::new(&[0; 33]),
        Err(Error::IssuerKeyId { len: 33 })
    ));
    let mut b = IndexBuilder::new(KEY).unwrap();
    assert!(matches!(
        b.push(&[1], 0, None, 0),
        Err(Error::UnknownPartition { index: 0, count: 0 })
    ));
    let p = b.add_partition(meta("a", 0)).unwrap();
    assert!(b.add_partition(meta("a", 0)).is_err());
    assert!(matches!(
        b.push(&[1], 0, Some(7), p),
        Err(Error::InvalidReason { code: 7, .. })
    ));
    assert!(matches!(
        b.push(&[1; 21], 0, None, p),
        Err(Error::SerialTooLong { octets: 21, .. })
    ));
    b.push(&[0; 30], 0, None, p).unwrap(); // leading zeros: serial 0
    b.push(&[1], i64::MIN, None, p).err().unwrap();
    let mut long = meta("b", 0);
    long.crl_number = vec![1; 21];
    assert!(b.add_partition(long).is_err());
    let mut b = IndexBuilder::new(KEY).unwrap();
    let p = b.add_partition(meta("a", 0)).unwrap();
    b.push(&[1], 0, None, p).unwrap();
    b.push(&[2], 1 << 33, None, p).unwrap();
    assert!(matches!(b.finish(), Err(Error::TimeRange { .. })));
}

#[test]
fn freshness_and_partitions() {
    let s = sample(KEY, 0).finish().unwrap();
    assert_eq!(s.partition_index("b"), Some(1));
    assert_eq!(s.stalest_partition().unwrap().id, "a");
    assert_eq!(s.freshness_for(Some(1)).unwrap().id, "b");
    assert_eq!(s.freshness_for(None).unwrap().id, "a");
    assert!(s.is_fresh(1_700_000_000 + 86_399, 0));
    assert!(!s.is_fresh(1_700_000_000 + 86_400, 0));
    assert!(s.is_fresh(1_700_000_000 + 86_400, 10));
    let r = s.lookup(&Serial::from_u64(0x1000)).unwrap();
    assert_eq!(
        (r.revoked_at, r.reason, r.partition),
        (1_690_000_000, Some(Reason::AffiliationChanged), 1)
    );
    let wide = Serial::from_magnitude(&[0x7F; 16]).unwrap();
    assert_eq!(s.lookup(&wide).unwrap().reason, None);
}

/// As many partitions as a J-LIS hierarchy has (about 1,700): each found by its id, the stalest
/// (earliest nextUpdate, the first of equals) found wherever it is in the table.
#[test]
fn many_partitions_by_id_and_the_stalest() {
    let mut b = IndexBuilder::new(KEY).unwrap();
    for i in 0..2_000i64 {
        // nextUpdate falls to its minimum at index 1234, which index 1500 ties.
        let t = 1_700_000_000 + (i - 1234).abs() * 60 + i64::from(i == 1500) * -(266 * 60);
        b.add_partition(meta(&format!("sign-2023/{i:04}"), t)).unwrap();
    }
    b.push(&0x10u64.to_be_bytes(), 1_690_000_000, None, 1999).unwrap();
    let s = Snapshot::from_bytes(b.finish().unwrap().as_bytes().to_vec()).unwrap();
    for i in 0..2_000u16 {
        assert_eq!(s.partition_index(&format!("sign-2023/{i:04}")), Some(i));
    }
    assert_eq!(s.partition_index("sign-2023/2000"), None);
    assert_eq!(s.partition_index(""), None);
    assert_eq!(s.stalest_partition().unwrap().id, "sign-2023/1234");
    assert_eq!(s.freshness_for(None).unwrap().id, "sign-2023/1234");
    assert_eq!(s.lookup(&Serial::from_u64(0x10)).unwrap().partition, 1999);
}

#[test]
fn atomic_write_leftovers_and_generations() {
    let dir = tempfile::tempdir().unwrap();
    let first = sample(KEY, 0).write_atomically(dir.path(), 2).unwrap();
    assert_eq!(
        first.file_name().unwrap(),
        "rev-01020304-00000000000000000001.snap"
    );
    // A crashed writer's temporary file, and junk, are ignored.
    fs::write(
        dir.path()
            .join(".rev-01020304-00000000000000000002.snap.tmp-99-0"),
        b"torn",
    )
    .unwrap();
    fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    let s = Snapshot::open_latest(dir.path(), KEY).unwrap().unwrap();
    assert_eq!(s.generation(), Some(1));
    assert_eq!(SnapshotSet::open_dir(dir.path()).unwrap().len(), 1);

    // A write that fails midway leaves the previous file and no temporary file behind.
    let err = revocation::write_atomically(&first, |w| {
        use std::io::Write;
        w.write_all(b"half")?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(err.is_err());
    assert_eq!(Snapshot::open(&first).unwrap().len(), s.len());
    let temps = temp_files(dir.path());
    assert_eq!(temps, 1, "only the planted leftover");

    // Generations advance; older ones beyond `keep` are pruned, while a mapped one stays readable.
    let held = Snapshot::open(&first).unwrap();
    sample(KEY, 1).write_atomically(dir.path(), 2).unwrap();
    let third = sample(KEY, 2).write_atomically(dir.path(), 2).unwrap();
    assert!(!first.exists());
    assert_eq!(held.lookup(&Serial::from_u64(0x1000)).unwrap().partition, 1);
    let latest = Snapshot::open_latest(dir.path(), KEY).unwrap().unwrap();
    assert_eq!(latest.path(), Some(third.as_path()));
    assert_eq!(latest.generation(), Some(3));
    assert!(Snapshot::open_latest(dir.path(), &[9]).unwrap().is_none());
    assert!(
        Snapshot::open_latest(&dir.path().join("missing"), KEY)
            .unwrap()
            .is_none()
    );
}

#[test]
fn holder_swaps_and_keeps_last_good_set() {
    let dir = tempfile::tempdir().unwrap();
    let holder = SnapshotHolder::new();
    assert!(holder.load().is_none());
    assert!(!holder.reload_if_changed(dir.path()).unwrap());
    assert!(!holder.is_fresh(0, 0));

    sample(KEY, 0).write_atomically(dir.path(), 3).unwrap();
    sample(&[0xEE], 0).write_atomically(dir.path(), 3).unwrap();
    assert!(holder.reload_if_changed(dir.path()).unwrap());
    assert!(!holder.reload_if_changed(dir.path()).unwrap());
    let guard = holder.load_full().unwrap();
    assert_eq!(guard.len(), 2);
    assert!(guard.lookup(KEY, &Serial::from_u64(0x1000)).is_some());
    assert!(guard.lookup(&[0x55], &Serial::from_u64(0x1000)).is_none());
    assert!(holder.is_fresh(1_700_000_000, 0));
    assert_eq!(holder.stalest_partition().unwrap().id, "a");

    // A new generation is picked up; the old set stays usable by whoever holds it.
    sample(KEY, 1).write_atomically(dir.path(), 3).unwrap();
    assert!(holder.reload_if_changed(dir.path()).unwrap());
    let now = holder.load_full().unwrap();
    assert!(now.lookup(KEY, &Serial::from_u64(0x1001)).is_some());
    assert!(guard.lookup(KEY, &Serial::from_u64(0x1001)).is_none());

    // A damaged newest file: reload fails, the last good set keeps answering.
    let bad = dir.path().join(revocation::file_name(KEY, 9));
    fs::write(&bad, b"JPKIREV\0 torn").unwrap();
    assert!(holder.reload_if_changed(dir.path()).is_err());
    assert!(
        holder
            .load()
            .as_ref()
            .unwrap()
            .lookup(KEY, &Serial::from_u64(0x1001))
            .is_some()
    );
}
