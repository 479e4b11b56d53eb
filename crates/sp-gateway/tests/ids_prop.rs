//! Property tests of the verification ids SPs send back (outside bytes) and of the Redis values
//! that carry registered certificates: whatever is sealed opens to the same certificate under the
//! same SP only; any other text opens to nothing, never panics; values round-trip.
#![allow(clippy::unwrap_used)] // test code

use jpki::Serial;
use proptest::prelude::*;
use sp_gateway::ids::{CertRef, IdSealer, MAX_ID_LEN, partition_fits};

fn serial() -> impl Strategy<Value = Serial> {
    prop_oneof![
        any::<u64>().prop_map(Serial::from_u64),
        proptest::collection::vec(any::<u8>(), 1..=20).prop_map(|b| Serial::from_magnitude(&b).unwrap()),
    ]
}

fn partition() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[a-z0-9/_.-]{1,64}".prop_map(Some),
        // Anything at all, fitting or not (a colon, a comma, control characters, too long).
        ".{0,80}".prop_map(Some),
    ]
}

fn cert() -> impl Strategy<Value = CertRef> {
    (any::<[u8; 4]>(), serial(), partition()).prop_map(|(tag, serial, partition)| CertRef {
        tag,
        serial,
        partition,
    })
}

/// What a sealed id or a stored value keeps of a certificate: a partition only if it fits.
fn kept(c: &CertRef) -> CertRef {
    CertRef {
        partition: c.fitting_partition().map(str::to_owned),
        ..c.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sealed_ids_open_for_their_sp_only(c in cert(), sp in "[a-z-]{1,20}", other in "[a-z-]{1,20}") {
        let sealer = IdSealer::new(&[7u8; 32]);
        let id = sealer.seal(&sp, Some(&c)).unwrap();
        prop_assert!(id.len() <= MAX_ID_LEN, "{} > {}", id.len(), MAX_ID_LEN);
        prop_assert_eq!(sealer.open(&sp, &id).unwrap().cert, Some(kept(&c)));
        if other != sp {
            prop_assert!(sealer.open(&other, &id).is_none());
        }
        prop_assert!(IdSealer::new(&[8u8; 32]).open(&sp, &id).is_none());
        let bare = sealer.seal(&sp, None).unwrap();
        prop_assert_eq!(sealer.open(&sp, &bare).unwrap().cert, None);
    }

    /// Changing, dropping or adding one character of an id makes it open to nothing.
    #[test]
    fn edited_ids_open_to_nothing(c in cert(), at in any::<usize>(), ch in any::<char>(), edit in 0u8..3) {
        let sealer = IdSealer::new(&[7u8; 32]);
        let id = sealer.seal("bank-a", Some(&c)).unwrap();
        let mut chars: Vec<char> = id.chars().collect();
        let i = at % chars.len();
        match edit {
            0 => chars[i] = ch,
            1 => { chars.remove(i); }
            _ => chars.insert(i, ch),
        }
        let edited: String = chars.into_iter().collect();
        if edited != id {
            prop_assert!(sealer.open("bank-a", &edited).is_none());
        }
    }

    /// Arbitrary text, with or without the prefix, never panics and (without the key) never opens.
    #[test]
    fn arbitrary_text_never_opens(text in ".{0,200}", b64 in "[A-Za-z0-9_-]{0,200}") {
        let sealer = IdSealer::new(&[7u8; 32]);
        prop_assert!(sealer.open("bank-a", &text).is_none());
        let prefixed = format!("vf_{b64}");
        prop_assert!(sealer.open("bank-a", &prefixed).is_none());
    }

    #[test]
    fn redis_values_round_trip(c in cert()) {
        let k = kept(&c);
        prop_assert_eq!(CertRef::from_value(&c.to_value()), Some(k.clone()));
        prop_assert_eq!(CertRef::from_serials_entry(&c.serials_entry(), c.serial), Some(k.clone()));
        // The key never carries the partition.
        prop_assert_eq!(CertRef::from_value(&c.to_key()), Some(CertRef { partition: None, ..k }));
        prop_assert!(!c.serials_entry().contains(','));
        if let Some(p) = &c.partition {
            prop_assert_eq!(c.fitting_partition().is_some(), partition_fits(p));
        }
    }

    #[test]
    fn arbitrary_redis_values_never_panic(text in ".{0,120}", s in serial()) {
        if let Some(c) = CertRef::from_value(&text) {
            prop_assert!(c.partition.as_deref().is_none_or(partition_fits));
        }
        if let Some(c) = CertRef::from_serials_entry(&text, s) {
            prop_assert!(c.partition.as_deref().is_none_or(partition_fits));
        }
    }
}
