//! The answer rule ([`revocation::status`]) agrees with a simple model: random partitions, times,
//! graces, listed serials and partition hints.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::collections::BTreeMap;

use jpki::{Basis, CertStatus, Reason, Serial, UnknownReason};
use proptest::prelude::*;
use revocation::{IndexBuilder, PartitionMeta, Policy, SnapshotSet};

const KEY: &[u8] = &[0x11, 0x22];
const OTHER_KEY: &[u8] = &[0x33];

#[derive(Clone, Debug)]
struct Part {
    this_update: i64,
    next_update: i64,
}

#[derive(Clone, Debug)]
struct Case {
    parts: Vec<Part>,
    /// serial → (partition index, revocation time)
    listed: BTreeMap<u64, (usize, i64)>,
    serial: u64,
    at: i64,
    grace: i64,
    /// Partition hints: `Ok(i)` names partition i, `Err(n)` a name the snapshot does not have.
    hints: Vec<Result<usize, u8>>,
}

fn case() -> impl Strategy<Value = Case> {
    let part = (0i64..1000, 0i64..1000).prop_map(|(t, len)| Part {
        this_update: t,
        next_update: t + len,
    });
    (proptest::collection::vec(part, 0..6), any::<u64>()).prop_flat_map(|(parts, _)| {
        let n = parts.len().max(1);
        (
            Just(parts),
            proptest::collection::btree_map(0u64..40, (0..n, 0i64..2000), 0..20),
            0u64..48,
            -100i64..2200,
            prop_oneof![Just(0i64), -50i64..0, 0i64..400],
            proptest::collection::vec(prop_oneof![(0..n).prop_map(Ok), any::<u8>().prop_map(Err)], 0..3),
        )
            .prop_map(|(parts, listed, serial, at, grace, hints)| Case {
                parts,
                listed,
                serial,
                at,
                grace,
                hints,
            })
    })
}

fn id(i: usize) -> String {
    format!("part-{i}")
}

fn hint_names(c: &Case) -> Vec<String> {
    c.hints
        .iter()
        .map(|h| match h {
            Ok(i) => id(*i),
            Err(n) => format!("absent-{n}"),
        })
        .collect()
}

fn set(c: &Case) -> SnapshotSet {
    let mut b = IndexBuilder::new(KEY).unwrap();
    for (i, p) in c.parts.iter().enumerate() {
        b.add_partition(PartitionMeta {
            id: id(i),
            dp_name: None,
            crl_number: vec![1],
            this_update: p.this_update,
            next_update: p.next_update,
            source_sha256: [0; 32],
            entries: 0,
        })
        .unwrap();
    }
    if !c.parts.is_empty() {
        for (serial, (p, t)) in &c.listed {
            b.push_serial(
                &Serial::from_u64(*serial),
                *t,
                Some(Reason::KeyCompromise),
                *p as u16,
            )
            .unwrap();
        }
    }
    SnapshotSet::new(vec![b.finish().unwrap()]).unwrap()
}

/// The rule, written as plainly as possible.
fn model(c: &Case) -> (&'static str, Option<(usize, Basis)>) {
    if c.parts.is_empty() {
        return ("unknown", None);
    }
    if let Some((p, _)) = c.listed.get(&c.serial) {
        return ("revoked", Some((*p, Basis::ListingCrl)));
    }
    let own = c.hints.iter().find_map(|h| h.ok());
    let (p, basis) = match own {
        Some(p) if p < c.parts.len() => (p, Basis::OwnPartition),
        _ => {
            // The earliest nextUpdate; the first of equals.
            let mut best = 0;
            for (i, p) in c.parts.iter().enumerate() {
                if p.next_update < c.parts[best].next_update {
                    best = i;
                }
            }
            (best, Basis::StalestPartition)
        }
    };
    let part = &c.parts[p];
    let grace = c.grace.max(0);
    let good = part.this_update <= c.at && c.at < part.next_update + grace;
    (if good { "good" } else { "unknown" }, Some((p, basis)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_rule_agrees_with_the_model(c in case()) {
        let set = set(&c);
        let serial = Serial::from_u64(c.serial);
        let hints = hint_names(&c);
        let got = revocation::status(Some(&set), KEY, &serial, c.at, &hints, Policy::with_grace(c.grace));
        let (label, source) = model(&c);
        prop_assert_eq!(got.label(), label, "{:?}", got);
        match source {
            Some((p, basis)) => {
                let f = got.freshness().unwrap();
                prop_assert_eq!(f.partition.to_string(), id(p));
                prop_assert_eq!(f.basis, basis);
                prop_assert_eq!(f.this_update, c.parts[p].this_update);
                prop_assert_eq!(f.next_update, c.parts[p].next_update);
            }
            None => prop_assert_eq!(got.freshness(), None),
        }
        if let CertStatus::Revoked { revoked_at, .. } = got {
            prop_assert_eq!(revoked_at, c.listed[&c.serial].1);
        }
        if let CertStatus::Unknown { reason, freshness: Some(f) } = &got {
            let expected = if c.at < f.this_update { UnknownReason::NotYetValid } else { UnknownReason::Stale };
            prop_assert_eq!(reason, &expected);
        }
        // The same through the set and the snapshot; another key and no index are unknown.
        prop_assert_eq!(&set.status(KEY, &serial, c.at, &hints, Policy::with_grace(c.grace)), &got);
        prop_assert_eq!(
            set.status(OTHER_KEY, &serial, c.at, &hints, Policy::default()),
            CertStatus::unknown(UnknownReason::NoSnapshot)
        );
        prop_assert_eq!(
            revocation::status(None, KEY, &serial, c.at, &hints, Policy::default()),
            CertStatus::unknown(UnknownReason::NoIndex)
        );
    }
}

#[test]
fn revoked_wins_over_a_stale_crl_and_good_needs_both_halves() {
    let c = Case {
        parts: vec![
            Part {
                this_update: 100,
                next_update: 200,
            },
            Part {
                this_update: 150,
                next_update: 400,
            },
        ],
        listed: BTreeMap::from([(7, (0, 90))]),
        serial: 7,
        at: 10_000,
        grace: 0,
        hints: vec![],
    };
    let set = set(&c);
    let at = |serial: u64, at: i64, hints: &[&str], grace: i64| {
        set.status(
            KEY,
            &Serial::from_u64(serial),
            at,
            hints,
            Policy::with_grace(grace),
        )
    };
    assert!(matches!(
        at(7, 10_000, &[], 0),
        CertStatus::Revoked { revoked_at: 90, .. }
    ));
    // Own partition: good inside [thisUpdate, nextUpdate + grace).
    assert_eq!(at(8, 300, &["part-1"], 0).label(), "good");
    assert_eq!(at(8, 149, &["part-1"], 0).label(), "unknown");
    assert_eq!(at(8, 400, &["part-1"], 0).label(), "unknown");
    assert_eq!(at(8, 459, &["part-1"], 60).label(), "good");
    // Unknown partition: the stalest (part-0) decides.
    let s = at(8, 300, &["nowhere"], 0);
    assert_eq!(s.label(), "unknown");
    assert_eq!(s.freshness().unwrap().basis, Basis::StalestPartition);
    assert_eq!(&*s.freshness().unwrap().partition, "part-0");
    assert_eq!(at(8, 150, &[], 0).label(), "good");
}

/// A partition is found by its id, or by the name its CRL gives itself (issuingDistributionPoint),
/// whatever the case and spacing; the name survives the file (format 4).
#[test]
fn partitions_are_found_by_their_distribution_point_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = IndexBuilder::new(KEY).unwrap();
    let name = "C=JP, O=JPKI, OU=JPKI for digital signature, OU=CRL Distribution Points, OU=Tokyo-to, CN=Kiyose-shi CRLDP";
    for (id, dp_name, this_update) in [("a", None, 100), ("b", Some(name), 200)] {
        b.add_partition(PartitionMeta {
            id: id.into(),
            dp_name: dp_name.map(str::to_owned),
            crl_number: vec![1],
            this_update,
            next_update: 1000,
            source_sha256: [0; 32],
            entries: 0,
        })
        .unwrap();
    }
    b.write_atomically(dir.path(), 1).unwrap();
    let set = SnapshotSet::open_dir(dir.path()).unwrap();
    let snap = set.get(KEY).unwrap();
    assert_eq!(snap.partitions()[1].dp_name.as_deref(), Some(name));
    assert_eq!(snap.partitions()[0].dp_name, None);
    assert_eq!(snap.partition_index("b"), Some(1));
    assert_eq!(snap.partition_index(name), Some(1));
    let respelled = "c=jp,o=jpki, ou=JPKI for digital  signature, OU=CRL Distribution Points, OU=Tokyo-to, CN=Kiyose-shi CRLDP";
    assert_eq!(snap.partition_index(respelled), Some(1));
    assert_eq!(snap.partition_index("CN=Kiyose-shi CRLDP"), None);
    let s = set.status(KEY, &Serial::from_u64(1), 500, &[name], Policy::default());
    let f = s.freshness().unwrap();
    assert_eq!(
        (&*f.partition, f.basis, f.this_update),
        ("b", Basis::OwnPartition, 200)
    );
}
