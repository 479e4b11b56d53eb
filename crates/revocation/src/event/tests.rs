#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
use super::*;
use proptest::prelude::*;

fn revoked() -> DeltaEvent {
    DeltaEvent::Revoked(RevokedCertificate {
        issuer_key_id: vec![0xAB, 0x01],
        serial: Serial::from_u64(0x0102_0304),
        reason: Some(Reason::AffiliationChanged),
        revoked_at: 1_800_000_000,
        partition: "sign-2023/131016".into(),
        crl_number: "07+1A".into(),
    })
}

fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn the_stream_format_is_the_one_crl_sync_has_always_written() {
    let f = revoked().to_fields();
    let want = [
        ("event", "revoked"),
        ("issuer_key_id", "ab01"),
        ("serial", "01020304"),
        ("reason", "affiliationChanged"),
        ("revoked_at", "1800000000"),
        ("partition", "sign-2023/131016"),
        ("crl_number", "07+1A"),
    ];
    assert_eq!(f.iter().map(|(n, v)| (*n, v.as_str())).collect::<Vec<_>>(), want);
    let b = DeltaEvent::Baseline(PartitionBaseline {
        issuer_key_id: vec![0xFF],
        partition: "p2".into(),
        crl_number: "07".into(),
        entries: 3,
        this_update: 1_800_000_000,
    });
    let want = [
        ("event", "baseline"),
        ("issuer_key_id", "ff"),
        ("partition", "p2"),
        ("crl_number", "07"),
        ("entries", "3"),
        ("this_update", "1800000000"),
    ];
    assert_eq!(
        b.to_fields()
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(DeltaEvent::from_fields(owned(&want)).unwrap(), b);
}

#[test]
fn unknown_fields_are_ignored_and_order_does_not_matter() {
    let mut f = revoked().to_fields();
    f.reverse();
    f.push(("added_later", "x".into()));
    assert_eq!(DeltaEvent::from_fields(f).unwrap(), revoked());
}

#[test]
fn upper_case_key_ids_and_an_empty_reason_are_read() {
    let e = DeltaEvent::from_fields(owned(&[
        ("event", "revoked"),
        ("issuer_key_id", "AB01"),
        ("serial", "0a"),
        ("reason", ""),
        ("revoked_at", "-5"),
        ("partition", ""),
        ("crl_number", ""),
    ]))
    .unwrap();
    let DeltaEvent::Revoked(r) = e else { panic!() };
    assert_eq!(r.issuer_key_id, vec![0xAB, 0x01]);
    assert_eq!(r.serial, Serial::from_u64(10));
    assert_eq!((r.reason, r.revoked_at), (None, -5));
}

#[test]
fn malformed_entries_name_their_field() {
    let base = revoked().to_fields();
    let with = |name: &str, value: &str| {
        let f: Vec<(String, String)> = base
            .iter()
            .map(|(n, v)| {
                let v = if *n == name { value.to_owned() } else { v.clone() };
                ((*n).to_owned(), v)
            })
            .collect();
        DeltaEvent::from_fields(f).unwrap_err()
    };
    let code = |e: EventError| e.code();
    assert_eq!(code(with("event", "renamed")), "DELTA_EVENT_UNKNOWN_KIND");
    assert_eq!(code(with("issuer_key_id", "abc")), "DELTA_EVENT_BAD_HEX");
    assert_eq!(code(with("issuer_key_id", "zz")), "DELTA_EVENT_BAD_HEX");
    assert_eq!(code(with("issuer_key_id", "")), "DELTA_EVENT_EMPTY_FIELD");
    assert_eq!(
        code(with("issuer_key_id", &"ab".repeat(33))),
        "DELTA_EVENT_FIELD_TOO_LONG"
    );
    assert_eq!(code(with("serial", "0x01")), "DELTA_EVENT_BAD_HEX");
    assert_eq!(code(with("serial", &"01".repeat(21))), "DELTA_EVENT_BAD_SERIAL");
    assert_eq!(
        code(with("serial", &"01".repeat(22))),
        "DELTA_EVENT_FIELD_TOO_LONG"
    );
    assert_eq!(code(with("reason", "lostCard")), "DELTA_EVENT_BAD_REASON");
    assert_eq!(code(with("revoked_at", "+1")), "DELTA_EVENT_BAD_NUMBER");
    assert_eq!(
        code(with("revoked_at", "99999999999999999999")),
        "DELTA_EVENT_BAD_NUMBER"
    );
    assert_eq!(
        code(with("partition", &"p".repeat(1025))),
        "DELTA_EVENT_FIELD_TOO_LONG"
    );
    assert_eq!(code(with("crl_number", "07,08")), "DELTA_EVENT_BAD_HEX");
    let missing: Vec<_> = base.iter().filter(|(n, _)| *n != "serial").cloned().collect();
    assert_eq!(
        DeltaEvent::from_fields(missing).unwrap_err(),
        EventError::MissingField { field: "serial" }
    );
    let mut twice = base.clone();
    twice.push(("serial", "02".into()));
    assert_eq!(
        code(DeltaEvent::from_fields(twice).unwrap_err()),
        "DELTA_EVENT_DUPLICATE_FIELD"
    );
    let mut twice = base.clone();
    twice.push(("x", String::new()));
    twice.push(("x", String::new()));
    assert_eq!(
        code(DeltaEvent::from_fields(twice).unwrap_err()),
        "DELTA_EVENT_DUPLICATE_FIELD"
    );
    let many: Vec<(String, String)> = (0..MAX_FIELDS)
        .map(|i| (format!("x{i}"), String::new()))
        .collect();
    let many = base.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).chain(many);
    assert_eq!(
        code(DeltaEvent::from_fields(many).unwrap_err()),
        "DELTA_EVENT_TOO_MANY_FIELDS"
    );
    let not_text = vec![(b"event".to_vec(), vec![0xFF, 0xFE])];
    assert_eq!(
        DeltaEvent::from_fields(not_text).unwrap_err(),
        EventError::NotText { field: "event" }
    );
}

fn key_id_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..=MAX_KEY_ID_LEN)
}

fn serial_strategy() -> impl Strategy<Value = Serial> {
    prop_oneof![
        any::<u64>().prop_map(Serial::from_u64),
        proptest::collection::vec(any::<u8>(), 0..=MAX_SERIAL_OCTETS)
            .prop_map(|m| Serial::from_magnitude(&m).unwrap()),
    ]
}

fn crl_numbers() -> impl Strategy<Value = String> {
    proptest::collection::vec("[0-9A-F]{0,40}", 0..4).prop_map(|v| v.join("+"))
}

prop_compose! {
    fn revoked_strategy()(
        issuer_key_id in key_id_strategy(),
        serial in serial_strategy(),
        reason in proptest::option::of(proptest::sample::select(Reason::ALL.to_vec())),
        revoked_at in any::<i64>(),
        partition in ".{0,40}",
        crl_number in crl_numbers(),
    ) -> DeltaEvent {
        DeltaEvent::Revoked(RevokedCertificate { issuer_key_id, serial, reason, revoked_at, partition, crl_number })
    }
}

prop_compose! {
    fn baseline_strategy()(
        issuer_key_id in key_id_strategy(),
        partition in ".{0,40}",
        crl_number in "[0-9A-Fa-f]{0,42}",
        entries in any::<u64>(),
        this_update in any::<i64>(),
    ) -> DeltaEvent {
        DeltaEvent::Baseline(PartitionBaseline { issuer_key_id, partition, crl_number, entries, this_update })
    }
}

/// A field list near the real ones: known and unknown names, valid and broken values.
fn fields_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    let name = prop_oneof![
        proptest::sample::select(KNOWN.to_vec()).prop_map(|n| n.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    let value = prop_oneof![
        proptest::sample::select(vec![
            "revoked",
            "baseline",
            "affiliationChanged",
            "",
            "0",
            "-1",
            "00",
            "ab",
            "AB",
            "07+08",
            "+",
        ])
        .prop_map(|v| v.as_bytes().to_vec()),
        "[0-9a-fA-F+-]{0,50}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..50),
    ];
    proptest::collection::vec((name, value), 0..40)
}

proptest! {
    #[test]
    fn events_round_trip_through_their_fields(e in prop_oneof![revoked_strategy(), baseline_strategy()]) {
        prop_assert_eq!(e.validate(), Ok(()));
        let fields = e.to_fields();
        prop_assert_eq!(DeltaEvent::from_fields(fields).unwrap(), e);
    }

    #[test]
    fn any_field_list_decodes_to_a_canonical_event_or_an_error(fields in fields_strategy()) {
        if let Ok(e) = DeltaEvent::from_fields(fields) {
            let again = DeltaEvent::from_fields(e.to_fields()).unwrap();
            prop_assert_eq!(again.to_fields(), e.to_fields());
            prop_assert_eq!(again, e);
        }
    }

    #[test]
    fn a_valid_event_with_one_field_garbled_never_panics(
        e in prop_oneof![revoked_strategy(), baseline_strategy()],
        which in any::<prop::sample::Index>(),
        garbage in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut fields: Vec<(&str, Vec<u8>)> =
            e.to_fields().into_iter().map(|(n, v)| (n, v.into_bytes())).collect();
        let i = which.index(fields.len());
        fields[i].1 = garbage;
        if let Ok(d) = DeltaEvent::from_fields(fields) {
            prop_assert_eq!(DeltaEvent::from_fields(d.to_fields()).unwrap(), d);
        }
    }
}
