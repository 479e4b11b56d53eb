//! Unit tests of the CRL reader.

use super::pem::decode_base64;
use super::*;

#[test]
fn times() {
    assert_eq!(parse_time(TAG_UTC_TIME, b"700101000000Z"), Ok(0));
    assert_eq!(parse_time(TAG_UTC_TIME, b"491231235959Z"), Ok(2_524_607_999));
    assert_eq!(parse_time(TAG_UTC_TIME, b"500101000000Z"), Ok(-631_152_000));
    assert_eq!(
        parse_time(TAG_GENERALIZED_TIME, b"20500101000000Z"),
        Ok(2_524_608_000)
    );
    assert_eq!(
        parse_time(TAG_GENERALIZED_TIME, b"20240229120000Z"),
        Ok(1_709_208_000)
    );
    assert!(parse_time(TAG_GENERALIZED_TIME, b"20230229120000Z").is_err());
    assert!(parse_time(TAG_UTC_TIME, b"241301000000Z").is_err());
    assert!(parse_time(TAG_UTC_TIME, b"240101240000Z").is_err());
    assert!(parse_time(TAG_UTC_TIME, b"2401010000Z").is_err());
    assert!(parse_time(TAG_UTC_TIME, b"240101000000+").is_err());
    assert!(parse_time(TAG_GENERALIZED_TIME, b"20240101000000.5Z").is_err());
    assert!(parse_time(TAG_INTEGER, b"700101000000Z").is_err());
}

#[test]
fn integers() {
    assert_eq!(unsigned_integer(&[0x05]), Ok((&[0x05][..], true)));
    assert_eq!(unsigned_integer(&[0x00, 0x80]), Ok((&[0x00, 0x80][..], true)));
    assert_eq!(
        unsigned_integer(&[0x00, 0x00, 0x80]),
        Ok((&[0x00, 0x80][..], false))
    );
    assert_eq!(unsigned_integer(&[0x00, 0x01]), Ok((&[0x01][..], false)));
    assert_eq!(unsigned_integer(&[0x00]), Ok((&[0x00][..], true)));
    assert!(unsigned_integer(&[]).is_err());
    assert!(unsigned_integer(&[0x80]).is_err());
    assert!(unsigned_integer(&[0x7f; 21]).is_err());
    let mut twenty = vec![0x00];
    twenty.extend([0xff; 20]);
    assert!(unsigned_integer(&twenty).is_ok());
}

#[test]
fn base64() {
    assert_eq!(decode_base64(b"TWFu", 10).unwrap(), b"Man");
    assert_eq!(decode_base64(b"TWE=", 10).unwrap(), b"Ma");
    assert_eq!(decode_base64(b"TQ==\n", 10).unwrap(), b"M");
    assert_eq!(decode_base64(b"TQ", 10).unwrap(), b"M");
    assert!(decode_base64(b"T===", 10).is_err());
    assert!(decode_base64(b"TQ==TQ==", 10).is_err());
    assert!(decode_base64(b"T", 10).is_err());
    assert!(matches!(
        decode_base64(b"TWFuTWFu", 4),
        Err(CrlError::TooLarge { .. })
    ));
}

#[test]
fn lengths() {
    let mut r = Reader::new(&[0x04, 0x81, 0x01, 0xaa], 0);
    assert_eq!(r.read().unwrap().content, &[0xaa]);
    assert!(Reader::new(&[0x04, 0x80, 0x00, 0x00], 0).read().is_err());
    assert!(Reader::new(&[0x04, 0x85, 0, 0, 0, 0, 1, 0], 0).read().is_err());
    assert!(
        Reader::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], 0)
            .read()
            .is_err()
    );
    assert!(Reader::new(&[0x04, 0x02, 0x00], 0).read().is_err());
    assert!(Reader::new(&[0x1f, 0x01, 0x00], 0).read().is_err());
}

/// One entry of mostly the common shape, with the ways it can differ: serial length, sign,
/// leading zeros, time digits and calendar, reason code, extra or other extensions.
fn entry_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    (
        proptest::collection::vec(any::<u8>(), 0..12),
        (0u8..100, 1u8..13, 1u8..29, 0u8..24, 0u8..60, 0u8..60),
        prop_oneof![Just(None), (0u8..12).prop_map(Some)],
        0u8..16,
        any::<u8>(),
    )
        .prop_map(|(mut serial, (yy, mm, dd, hh, mi, ss), reason, variant, noise)| {
            // Mostly non-negative serials; sometimes a negative one, sometimes padded.
            if let Some(first) = serial.first_mut()
                && noise % 7 != 0
            {
                *first &= 0x7f;
            }
            if variant == 6 {
                serial.insert(0, 0);
            }
            // Sometimes an impossible date (the 29th-31st of any month, or the 30th of February).
            let dd = if variant == 7 { 29 + noise % 3 } else { dd };
            let mm = if variant == 7 && noise % 2 == 0 { 2 } else { mm };
            let mut time = format!("{yy:02}{mm:02}{dd:02}{hh:02}{mi:02}{ss:02}Z").into_bytes();
            let mut body = vec![0x02, serial.len() as u8];
            body.extend_from_slice(&serial);
            match variant {
                // GeneralizedTime instead of UTCTime.
                1 => {
                    time.splice(0..0, *b"20");
                    body.extend_from_slice(&[0x18, time.len() as u8]);
                }
                // A time digit replaced by noise.
                2 => {
                    if let Some(b) = time.get_mut(usize::from(noise % 12)) {
                        *b = noise;
                    }
                    body.extend_from_slice(&[0x17, 0x0d]);
                }
                _ => body.extend_from_slice(&[0x17, 0x0d]),
            }
            body.extend_from_slice(&time);
            if let Some(code) = reason {
                let mut ext = vec![
                    0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, code,
                ];
                if variant == 3 {
                    // Explicitly non-critical.
                    ext = vec![
                        0x30, 0x0d, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x01, 0x01, 0x00, 0x04, 0x03, 0x0a, 0x01,
                        code,
                    ];
                }
                if variant == 4 {
                    // A second, unknown non-critical extension.
                    ext.extend_from_slice(&[0x30, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x01, noise]);
                }
                body.push(0x30);
                body.push(ext.len() as u8);
                body.extend_from_slice(&ext);
            }
            let mut entry = vec![0x30, body.len() as u8];
            entry.extend_from_slice(&body);
            if variant == 5 {
                // A damaged length.
                entry[1] = entry[1].wrapping_add(noise % 3).wrapping_sub(1);
            }
            entry
        })
}

type Seen = Vec<(Vec<u8>, i64, Option<u8>)>;

fn walk_with<const FAST: bool>(list: &[u8]) -> (Result<WalkStats, String>, Seen) {
    let mut seen = Seen::new();
    let mut visitor = |serial: &[u8], at: i64, reason: Option<u8>| -> Result<(), CrlError> {
        seen.push((serial.to_vec(), at, reason));
        Ok(())
    };
    let r = walk_entries::<_, FAST>(list, 100, &mut visitor).map_err(|e| e.to_string());
    (r, seen)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// The common-shape fast path accepts, rejects and reports exactly what the general reader
    /// does, entry for entry.
    #[test]
    fn fast_path_agrees_with_the_general_reader(entries in proptest::collection::vec(entry_strategy(), 1..20)) {
        let list: Vec<u8> = entries.concat();
        let (fast, fast_seen) = walk_with::<true>(&list);
        let (slow, slow_seen) = walk_with::<false>(&list);
        proptest::prop_assert_eq!(fast, slow);
        proptest::prop_assert_eq!(fast_seen, slow_seen);
    }
}

/// A visitor that takes narrow serials as integers, as the index builder does, and checks each
/// against its DER content.
#[derive(Default)]
struct NarrowChecker {
    seen: Seen,
    mismatches: usize,
}

impl RevokedVisitor for NarrowChecker {
    fn entry(&mut self, serial: &[u8], at: i64, reason: Option<u8>) -> Result<(), CrlError> {
        self.seen.push((serial.to_vec(), at, reason));
        Ok(())
    }

    fn narrow_entry(
        &mut self,
        value: u64,
        serial: &[u8],
        at: i64,
        reason: Option<u8>,
    ) -> Result<(), CrlError> {
        let magnitude = serial.strip_prefix(&[0]).unwrap_or(serial);
        let decoded =
            (magnitude.len() <= 8).then(|| magnitude.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)));
        self.mismatches += usize::from(decoded != Some(value));
        self.entry(serial, at, reason)
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// A visitor taking narrow serials as integers sees the same entries, each integer equal to
    /// its DER content.
    #[test]
    fn narrow_entries_carry_their_serial_value(entries in proptest::collection::vec(entry_strategy(), 1..20)) {
        let list: Vec<u8> = entries.concat();
        let (whole, whole_seen) = walk_with::<true>(&list);
        let mut checker = NarrowChecker::default();
        let r = walk_entries::<_, true>(&list, 100, &mut checker).map_err(|e| e.to_string());
        proptest::prop_assert_eq!(r, whole);
        proptest::prop_assert_eq!(checker.seen, whole_seen);
        proptest::prop_assert_eq!(checker.mismatches, 0);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// Entries fed in arbitrary pieces (as chunks of a file arrive) give what one walk over the
    /// whole list gives: the same entries, statistics and first error with its offset.
    #[test]
    fn entries_fed_in_pieces_walk_like_the_whole_list(
        entries in proptest::collection::vec(entry_strategy(), 1..20),
        cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let list: Vec<u8> = entries.concat();
        let (whole, whole_seen) = walk_with::<true>(&list);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (list.len() + 1)).collect();
        cuts.push(list.len());
        cuts.sort_unstable();
        let mut seen = Seen::new();
        let mut visitor = |serial: &[u8], at: i64, reason: Option<u8>| -> Result<(), CrlError> {
            seen.push((serial.to_vec(), at, reason));
            Ok(())
        };
        let mut stream = EntryStream::default();
        let mut from = 0usize;
        let mut result = Ok(());
        for cut in cuts {
            if let Err(e) = stream.feed(&list[from..cut], 100 + from, &mut visitor) {
                result = Err(e);
                break;
            }
            from = cut;
        }
        let pieces = match result {
            Ok(()) => stream.finish(&mut visitor).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        proptest::prop_assert_eq!(pieces, whole);
        proptest::prop_assert_eq!(seen, whole_seen);
    }
}
