//! The index agrees with a `BTreeMap` model: build → write → open → lookup, entries and delta.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test and bench code

use std::collections::BTreeMap;

use jpki::{Reason, Serial};
use proptest::prelude::*;
use revocation::{Entry, IndexBuilder, PartitionMeta, Revoked, Snapshot, delta};

const KEY: &[u8] = &[0xAA, 0xBB, 0xCC];
const REASONS: [Option<u8>; 11] = [
    None,
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
    Some(8),
    Some(9),
    Some(10),
];

#[derive(Clone, Debug)]
struct Push {
    magnitude: Vec<u8>,
    time: i64,
    reason: Option<u8>,
    partition: usize,
}

/// Serials that fit compact records: at most 8 octets, spread over less than 2^32.
fn compact_serial_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0x0100_0000u64..0x0100_0400).prop_map(|v| v.to_be_bytes().to_vec()),
        // Spread over 2^31: the directory shift is capped at the compact key width.
        (0x0100_0000u64..0x8100_0000).prop_map(|v| v.to_be_bytes().to_vec()),
        (0x0100_0000u64..0x0100_0040).prop_map(|v| v.to_be_bytes()[4..].to_vec()),
    ]
}

fn serial_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A small pool so duplicates are common.
        (0u64..64).prop_map(|v| v.to_be_bytes().to_vec()),
        // Near-sequential JPKI-like serials.
        (0x1000_0000u64..0x1000_4000).prop_map(|v| v.to_be_bytes().to_vec()),
        any::<u64>().prop_map(|v| v.to_be_bytes().to_vec()),
        // Leading zeros must not matter.
        (0u64..64).prop_map(|v| {
            let mut b = vec![0, 0, 0];
            b.extend_from_slice(&v.to_be_bytes());
            b
        }),
        // Wide serials, including a small pool of them.
        proptest::collection::vec(any::<u8>(), 9..=20).prop_map(|mut v| {
            v[0] |= 1;
            v
        }),
        (0u8..4).prop_map(|x| {
            let mut v = vec![1u8; 12];
            v[11] = x;
            v
        }),
    ]
}

fn pushes(max: usize) -> impl Strategy<Value = (Vec<i64>, Vec<Push>)> {
    pushes_of(max, serial_strategy().boxed())
}

fn pushes_of(max: usize, serials: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = (Vec<i64>, Vec<Push>)> {
    (
        proptest::collection::vec(0i64..5, 1..5),
        proptest::collection::vec(
            (
                serials,
                1_600_000_000i64..1_600_100_000,
                0usize..REASONS.len(),
                0usize..8,
            ),
            0..max,
        ),
    )
        .prop_map(|(updates, raw)| {
            let n = updates.len();
            let pushes = raw
                .into_iter()
                .map(|(magnitude, time, r, p)| Push {
                    magnitude,
                    time,
                    reason: REASONS[r],
                    partition: p % n,
                })
                .collect();
            (updates, pushes)
        })
}

fn meta(i: usize, this_update: i64) -> PartitionMeta {
    PartitionMeta {
        id: format!("partition-{i}"),
        dp_name: None,
        crl_number: vec![0, i as u8 + 1],
        this_update,
        next_update: this_update + 86_400,
        source_sha256: [i as u8; 32],
        entries: 999,
    }
}

/// The duplicate rule, written independently: earliest time; reason and partition from the
/// greatest (thisUpdate, partition index), then the earliest time, then the lowest reason byte.
fn model(updates: &[i64], pushes: &[Push]) -> BTreeMap<Serial, Revoked> {
    let mut groups: BTreeMap<Serial, Vec<&Push>> = BTreeMap::new();
    for p in pushes {
        groups
            .entry(Serial::from_magnitude(&p.magnitude).unwrap())
            .or_default()
            .push(p);
    }
    groups
        .into_iter()
        .map(|(s, g)| {
            let time = g.iter().map(|p| p.time).min().unwrap();
            let best = g
                .iter()
                .min_by_key(|p| {
                    (
                        std::cmp::Reverse((updates[p.partition], p.partition)),
                        p.time,
                        p.reason.unwrap_or(0xFF),
                    )
                })
                .unwrap();
            let r = Revoked {
                revoked_at: time,
                reason: best.reason.map(|c| Reason::from_code(c).unwrap()),
                partition: best.partition as u16,
            };
            (s, r)
        })
        .collect()
}

fn build(updates: &[i64], pushes: &[Push]) -> IndexBuilder {
    let mut b = IndexBuilder::new(KEY).unwrap();
    for (i, u) in updates.iter().enumerate() {
        assert_eq!(b.add_partition(meta(i, 1_700_000_000 + u)).unwrap() as usize, i);
    }
    for p in pushes {
        b.push(&p.magnitude, p.time, p.reason, p.partition as u16)
            .unwrap();
    }
    b
}

fn check_against(
    snap: &Snapshot,
    m: &BTreeMap<Serial, Revoked>,
    updates: &[i64],
    pushes: &[Push],
    absent: &[Vec<u8>],
) {
    assert_eq!(snap.len(), m.len());
    assert_eq!(snap.duplicates() as usize, pushes.len() - m.len());
    assert_eq!(snap.issuer_key_id(), KEY);
    assert_eq!(snap.partitions().len(), updates.len());
    for (i, p) in snap.partitions().iter().enumerate() {
        assert_eq!(
            p.entries as usize,
            pushes.iter().filter(|x| x.partition == i).count()
        );
        assert_eq!(p.crl_number, vec![i as u8 + 1]);
    }
    for (s, r) in m {
        assert_eq!(snap.lookup(s).as_ref(), Some(r), "{s:?}");
        assert!(snap.contains(s));
    }
    let probes: Vec<Serial> = absent
        .iter()
        .map(|a| Serial::from_magnitude(a).unwrap())
        .collect();
    for s in &probes {
        assert_eq!(snap.lookup(s), m.get(s).copied(), "{s:?}");
    }
    let all: Vec<Serial> = m.keys().copied().chain(probes.iter().copied()).collect();
    let mut out = Vec::new();
    snap.lookup_batch(&all, &mut out);
    let expected: Vec<Option<Revoked>> = all.iter().map(|s| m.get(s).copied()).collect();
    assert_eq!(out, expected);
    let entries: Vec<Entry> = snap.entries().collect();
    let expected: Vec<Entry> = m
        .iter()
        .map(|(s, r)| Entry {
            serial: *s,
            revoked_at: r.revoked_at,
            reason: r.reason,
            partition: r.partition,
        })
        .collect();
    assert_eq!(entries, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn lookup_agrees_with_model(
        (updates, pushes) in pushes(400),
        absent in proptest::collection::vec(serial_strategy(), 0..50),
    ) {
        let m = model(&updates, &pushes);
        let snap = build(&updates, &pushes).finish().unwrap();
        check_against(&snap, &m, &updates, &pushes, &absent);

        let dir = tempfile::tempdir().unwrap();
        let path = build(&updates, &pushes).write_atomically(dir.path(), 2).unwrap();
        let opened = Snapshot::open(&path).unwrap();
        prop_assert_eq!(opened.as_bytes(), snap.as_bytes());
        check_against(&opened, &m, &updates, &pushes, &absent);
        let loaded = Snapshot::load(&path).unwrap();
        check_against(&loaded, &m, &updates, &pushes, &absent);
        prop_assert_eq!(Snapshot::open_latest(dir.path(), KEY).unwrap().unwrap().generation(), Some(1));
    }

    #[test]
    fn compact_records_agree_with_model(
        (updates, pushes) in pushes_of(400, compact_serial_strategy().boxed()),
        absent in proptest::collection::vec(compact_serial_strategy(), 0..50),
    ) {
        let m = model(&updates, &pushes);
        let snap = build(&updates, &pushes).finish().unwrap();
        prop_assert_eq!(snap.record_width(), 8);
        check_against(&snap, &m, &updates, &pushes, &absent);
        let reopened = Snapshot::from_bytes(snap.as_bytes().to_vec()).unwrap();
        check_against(&reopened, &m, &updates, &pushes, &absent);
        // And the delta against a full-record snapshot of the same entries plus one spread serial.
        let mut wide_spread = pushes.clone();
        for serial in [1u64, u64::MAX] {
            wide_spread.push(Push {
                magnitude: serial.to_be_bytes().to_vec(),
                time: 1_600_000_000,
                reason: None,
                partition: 0,
            });
        }
        let full = build(&updates, &wide_spread).finish().unwrap();
        prop_assert_eq!(full.record_width(), 13);
        let d = delta(&snap, &full);
        prop_assert_eq!(d.added.len(), 2);
        prop_assert!(d.removed.is_empty() && d.changed.is_empty());
        let m_full = model(&updates, &wide_spread);
        check_against(&full, &m_full, &updates, &wide_spread, &absent);
    }

    #[test]
    fn delta_agrees_with_model((u1, p1) in pushes(200), (u2, p2) in pushes(200)) {
        check_delta(&u1, &p1, &u2, &p2)?;
    }

    /// The same with compact records on both sides, whose serials the walk rebuilds bucket by
    /// bucket (some buckets empty).
    #[test]
    fn delta_of_compact_snapshots_agrees_with_model(
        (u1, p1) in pushes_of(300, compact_serial_strategy().boxed()),
        (u2, p2) in pushes_of(300, compact_serial_strategy().boxed()),
    ) {
        check_delta(&u1, &p1, &u2, &p2)?;
    }
}

/// Pushes in increasing serial order from partition 0 (what a CRL in serial order gives, which
/// the builder holds in its lean form), then optionally one push that ends the lean form: from
/// another partition, a serial not above the last, a serial or a time too far from the first.
fn ordered_pushes() -> impl Strategy<Value = (Vec<i64>, Vec<Push>)> {
    let gap = prop_oneof![8 => 1u64..8, 1 => 1u64..100_000, 1 => Just(1u64 << 33)];
    // Times more than 2^31 s after, or (when the first is the far one) before the first.
    let time = prop_oneof![4 => 0i64..100_000, 1 => Just((1i64 << 31) + 7)];
    (
        proptest::collection::vec(0i64..5, 1..4),
        any::<u32>(),
        proptest::collection::vec((gap, time, 0usize..REASONS.len()), 0..300),
        proptest::option::of((0usize..300, 0usize..5)),
    )
        .prop_map(|(updates, start, raw, breaker)| {
            let mut serial = u64::from(start);
            let mut pushes: Vec<Push> = raw
                .into_iter()
                .map(|(gap, time, r)| {
                    serial = serial.saturating_add(gap);
                    Push {
                        magnitude: serial.to_be_bytes().to_vec(),
                        time: 1_600_000_000 + time,
                        reason: REASONS[r],
                        partition: 0,
                    }
                })
                .collect();
            if let Some((at, kind)) = breaker {
                let at = at % (pushes.len() + 1);
                let last = at.checked_sub(1).map(|i| pushes[i].clone());
                let mut p = last.clone().unwrap_or(Push {
                    magnitude: 5u64.to_be_bytes().to_vec(),
                    time: 1_600_000_000,
                    reason: None,
                    partition: 0,
                });
                match kind {
                    0 => p.partition = updates.len() - 1,
                    1 => {} // the same serial again: a duplicate
                    2 => p.magnitude = 1u64.to_be_bytes().to_vec(),
                    3 => p.magnitude = u64::MAX.to_be_bytes().to_vec(),
                    _ => p.time = 1_000_000_000,
                }
                pushes.insert(at, p);
            }
            (updates, pushes)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Entries pushed in serial order give the same file as the same entries in any other
    /// order (the lean form is only a way of holding them), and agree with the model.
    #[test]
    fn ordered_pushes_agree_with_model_and_with_any_order(
        (updates, pushes) in ordered_pushes(),
        seed in any::<u64>(),
    ) {
        let m = model(&updates, &pushes);
        let snap = build(&updates, &pushes).finish().unwrap();
        check_against(&snap, &m, &updates, &pushes, &[]);
        // Reversed, then rotated: the builder sorts and merges them instead.
        let mut other = pushes.clone();
        other.reverse();
        if !other.is_empty() {
            let k = (seed % other.len() as u64) as usize;
            other.rotate_left(k);
        }
        let sorted = build(&updates, &other).finish().unwrap();
        // Equal duplicates may merge differently only in which copy they keep; without
        // duplicates the files are the same bytes.
        if snap.duplicates() == 0 {
            prop_assert_eq!(snap.as_bytes(), sorted.as_bytes());
        }
        check_against(&sorted, &m, &updates, &other, &[]);
        let dir = tempfile::tempdir().unwrap();
        let pending = build(&updates, &pushes).write_pending(dir.path(), 1).unwrap();
        let written = Snapshot::open(&pending.commit().unwrap()).unwrap();
        prop_assert_eq!(written.as_bytes(), snap.as_bytes());
    }
}

#[test]
fn rebuild_from_previous_snapshot_keeps_entries() {
    let updates = [0, 1];
    let pushes: Vec<Push> = (0..1000u64)
        .map(|i| Push {
            magnitude: (0x2000 + i * 3).to_be_bytes().to_vec(),
            time: 1_650_000_000 + i as i64,
            reason: Some(3),
            partition: (i % 2) as usize,
        })
        .collect();
    let old = build(&updates, &pushes).finish().unwrap();
    // crl-sync's path: carry partition 0 over, replace partition 1 with an empty CRL.
    let mut b = IndexBuilder::new(KEY).unwrap();
    let kept = b.add_partition(old.partitions()[0].clone()).unwrap();
    let _fresh = b.add_partition(meta(1, 1_700_000_500)).unwrap();
    for e in old.entries().filter(|e| e.partition == 0) {
        b.push_entry(&e, kept).unwrap();
    }
    let new = b.finish().unwrap();
    assert_eq!(new.len(), 500);
    assert_eq!(new.partitions()[0].entries, 500);
    let d = delta(&old, &new);
    assert_eq!(d.removed.len(), 500);
    assert!(d.removed.iter().all(|e| e.partition == 1));
    assert!(d.added.is_empty() && d.changed.is_empty());
}

#[test]
fn empty_snapshot() {
    let b = IndexBuilder::new(KEY).unwrap();
    let s = b.finish().unwrap();
    assert!(s.is_empty());
    assert_eq!(s.lookup(&Serial::from_u64(1)), None);
    assert!(!s.is_fresh(0, 0));
    assert_eq!(s.entries().count(), 0);
}

fn check_delta(u1: &[i64], p1: &[Push], u2: &[i64], p2: &[Push]) -> Result<(), TestCaseError> {
    let m1 = model(u1, p1);
    let m2 = model(u2, p2);
    let a = build(u1, p1).finish().unwrap();
    let b = build(u2, p2).finish().unwrap();
    let d = delta(&a, &b);
    let added: Vec<Serial> = m2.keys().filter(|k| !m1.contains_key(k)).copied().collect();
    let removed: Vec<Serial> = m1.keys().filter(|k| !m2.contains_key(k)).copied().collect();
    let changed: Vec<Serial> = m1
        .iter()
        .filter(|(k, r)| {
            m2.get(k)
                .is_some_and(|r2| (r2.revoked_at, r2.reason) != (r.revoked_at, r.reason))
        })
        .map(|(k, _)| *k)
        .collect();
    prop_assert_eq!(d.added.iter().map(|e| e.serial).collect::<Vec<_>>(), added);
    prop_assert_eq!(d.removed.iter().map(|e| e.serial).collect::<Vec<_>>(), removed);
    prop_assert_eq!(
        d.changed.iter().map(|(o, _)| o.serial).collect::<Vec<_>>(),
        changed
    );
    for e in &d.added {
        let r = m2[&e.serial];
        prop_assert_eq!(
            (e.revoked_at, e.reason, e.partition),
            (r.revoked_at, r.reason, r.partition)
        );
        prop_assert_eq!(
            d.partition_name(e.partition),
            Some(format!("partition-{}", e.partition))
        );
    }
    for e in &d.removed {
        let r = m1[&e.serial];
        prop_assert_eq!(
            (e.revoked_at, e.reason, e.partition),
            (r.revoked_at, r.reason, r.partition)
        );
    }
    let from_empty = revocation::delta_from_empty(&b);
    prop_assert_eq!(from_empty.added.len(), m2.len());
    prop_assert!(from_empty.removed.is_empty());
    prop_assert!(delta(&b, &b).is_empty());
    Ok(())
}
