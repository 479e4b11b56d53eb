//! Property tests of the CRL walker and header parser on hand-built DER.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod parse_support;

use crl_sync::error::CrlError;
use crl_sync::parse::{parse_crl, pem_or_der, walk_revoked};
use parse_support::{crl, entry, extension, seq, tlv, uint_content};
use proptest::prelude::*;

type Entry = (Vec<u8>, i64, Option<u8>);

/// 1950-01-01 ..= 9999-12-31T23:59:59.
const MIN_TIME: i64 = -631_152_000;
const MAX_TIME: i64 = 253_402_300_799;

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    let serial = prop::collection::vec(any::<u8>(), 1..=20).prop_map(|m| uint_content(&m));
    let reason = prop::option::of(prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 8, 9, 10]));
    prop::collection::vec((serial, MIN_TIME..=MAX_TIME, reason), 0..200)
}

fn collect(revoked: &[u8]) -> Result<Vec<Entry>, CrlError> {
    let mut out = Vec::new();
    walk_revoked(revoked, &mut |s: &[u8], t: i64, r: Option<u8>| {
        out.push((s.to_vec(), t, r));
        Ok(())
    })?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn walk_returns_what_was_built(list in entries()) {
        let revoked: Vec<u8> = list.iter().flat_map(|(s, t, r)| entry(s, *t, *r)).collect();
        let walked = collect(&revoked).unwrap();
        prop_assert_eq!(&walked, &list);
        for (s, _, _) in &walked {
            prop_assert!(jpki::Serial::from_der_content(s).is_ok());
        }

        // The same entries inside a whole CRL, through the header.
        let der = crl(Some(&revoked), &[0x01], &[]);
        let header = parse_crl(&der, der.len()).unwrap();
        let mut n = 0u64;
        let mut again = Vec::new();
        let stats = header
            .walk_revoked(&mut |s: &[u8], t: i64, r: Option<u8>| {
                n += 1;
                again.push((s.to_vec(), t, r));
                Ok(())
            })
            .unwrap();
        prop_assert_eq!(stats.entries, list.len() as u64);
        prop_assert_eq!(stats.with_reason, list.iter().filter(|e| e.2.is_some()).count() as u64);
        prop_assert_eq!(again, list);
    }

    #[test]
    fn non_minimal_serials_are_handed_on_minimal(mag in prop::collection::vec(any::<u8>(), 1..=20), pad in 1usize..4) {
        let minimal = uint_content(&mag);
        let padded = [vec![0u8; pad], minimal.clone()].concat();
        let revoked = entry(&padded, 0, None);
        let mut got = Vec::new();
        let stats = walk_revoked(&revoked, &mut |s: &[u8], _t: i64, _r: Option<u8>| {
            got = s.to_vec();
            Ok(())
        })
        .unwrap();
        prop_assert_eq!(got, minimal);
        prop_assert_eq!(stats.non_minimal_serials, 1);
    }

    #[test]
    fn walk_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = collect(&bytes);
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(h) = parse_crl(&bytes, 1 << 20) {
            let _ = collect(h.revoked);
        }
        let _ = pem_or_der(&bytes, 1 << 20);
    }

    #[test]
    fn mutated_crls_never_panic(list in entries(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let revoked: Vec<u8> = list.iter().flat_map(|(s, t, r)| entry(s, *t, *r)).collect();
        let mut der = crl(Some(&revoked), &[0x01], &[]);
        for (i, b) in flips {
            let i = i.index(der.len());
            der[i] = b;
        }
        if let Ok(h) = parse_crl(&der, der.len()) {
            let _ = h.walk_revoked(&mut |_: &[u8], _: i64, _: Option<u8>| Ok(()));
        }
    }

    #[test]
    fn pem_round_trip(list in entries()) {
        let revoked: Vec<u8> = list.iter().flat_map(|(s, t, r)| entry(s, *t, *r)).collect();
        let der = crl(Some(&revoked), &[0x01], &[]);
        let b64 = openssl::base64::encode_block(&der);
        let mut pem = String::from("junk before\n-----BEGIN X509 CRL-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push_str("\r\n");
        }
        pem.push_str("-----END X509 CRL-----\n");
        let decoded = pem_or_der(pem.as_bytes(), der.len()).unwrap();
        prop_assert_eq!(decoded.as_ref(), &der[..]);
        let too_large = matches!(pem_or_der(pem.as_bytes(), der.len() - 1), Err(CrlError::TooLarge { .. }));
        prop_assert!(too_large);
    }
}

fn first_error(revoked: &[u8]) -> CrlError {
    collect(revoked).unwrap_err()
}

#[test]
fn entry_errors_carry_the_entry_offset() {
    let good = entry(&[0x01], 0, None);
    let bad = entry(&[0xff], 0, None); // negative
    let revoked = [good.clone(), good.clone(), bad].concat();
    match first_error(&revoked) {
        CrlError::BadEntry { offset, .. } => assert_eq!(offset, 2 * good.len()),
        e => panic!("{e:?}"),
    }
    // Through the header, the offset is into the CRL.
    let der = crl(Some(&revoked), &[0x01], &[]);
    let header = parse_crl(&der, der.len()).unwrap();
    match header.walk_revoked(&mut |_: &[u8], _: i64, _: Option<u8>| Ok(())) {
        Err(e @ CrlError::BadEntry { offset, .. }) => {
            assert_eq!(offset, header.revoked_offset + 2 * good.len());
            assert_eq!(der[offset], 0x30);
            assert_eq!(e.code(), "CRL_BAD_ENTRY");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn entry_rules() {
    let t = tlv(0x17, b"260101000000Z");
    // Reason 7 and 11 are refused.
    for r in [7u8, 11] {
        assert!(matches!(
            first_error(&entry(&[1], 0, Some(r))),
            CrlError::BadEntry { .. }
        ));
    }
    // Serial too long (21 octets of magnitude).
    assert!(matches!(
        first_error(&entry(&[0x7f; 21], 0, None)),
        CrlError::BadEntry { .. }
    ));
    // Empty serial.
    assert!(matches!(
        first_error(&seq(&[&tlv(0x02, &[]), &t])),
        CrlError::BadEntry { .. }
    ));
    // certificateIssuer → indirect CRL.
    let ci = seq(&[&extension(&[0x55, 0x1d, 0x1d], true, &seq(&[]))]);
    assert!(matches!(
        first_error(&seq(&[&tlv(0x02, &[1]), &t, &ci])),
        CrlError::IndirectCrl { offset: 0 }
    ));
    // Unknown critical entry extension; the same non-critical is ignored.
    let crit = seq(&[&extension(&[0x2a, 0x03, 0x04], true, &[0x05, 0x00])]);
    match first_error(&seq(&[&tlv(0x02, &[1]), &t, &crit])) {
        CrlError::UnknownCriticalEntryExtension { oid, .. } => assert_eq!(oid, "1.2.3.4"),
        e => panic!("{e:?}"),
    }
    let noncrit = seq(&[
        &extension(&[0x2a, 0x03, 0x04], false, &[0x05, 0x00]),
        &extension(&[0x55, 0x1d, 0x18], false, &tlv(0x18, b"20260101000000Z")),
        &extension(&[0x55, 0x1d, 0x15], false, &tlv(0x0a, &[3])),
    ]);
    let got = collect(&seq(&[&tlv(0x02, &[1]), &t, &noncrit])).unwrap();
    assert_eq!(got, vec![(vec![1], 1_767_225_600, Some(3))]);
    // Duplicate reasonCode.
    let dup = seq(&[
        &extension(&[0x55, 0x1d, 0x15], false, &tlv(0x0a, &[3])),
        &extension(&[0x55, 0x1d, 0x15], false, &tlv(0x0a, &[3])),
    ]);
    assert!(matches!(
        first_error(&seq(&[&tlv(0x02, &[1]), &t, &dup])),
        CrlError::BadEntry { .. }
    ));
    // Trailing element after the extensions.
    assert!(matches!(
        first_error(&seq(&[&tlv(0x02, &[1]), &t, &seq(&[]), &tlv(0x05, &[])])),
        CrlError::BadEntry { .. }
    ));
    // A visitor error stops the walk and comes back unchanged.
    let two = [entry(&[1], 0, None), entry(&[2], 0, None)].concat();
    let mut seen = 0;
    let e = walk_revoked(&two, &mut |_: &[u8], _: i64, _: Option<u8>| {
        seen += 1;
        Err(CrlError::Visitor("full".into()))
    })
    .unwrap_err();
    assert_eq!((seen, e.code()), (1, "CRL_VISITOR_REFUSED"));
}

#[test]
fn header_rules() {
    let ok = crl(None, &[0x01], &[]);
    let h = parse_crl(&ok, ok.len()).unwrap();
    assert!(h.revoked.is_empty());
    assert_eq!(h.crl_number, Some(&[0x01][..]));
    assert_eq!(h.crl_number_hex().as_deref(), Some("01"));
    assert_eq!((h.this_update, h.next_update), (1_767_225_600, 1_769_904_000));
    assert_eq!(h.signature, &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(h.issuer.to_string(), "O=JPKI,C=JP");

    assert!(matches!(
        parse_crl(&ok, ok.len() - 1),
        Err(CrlError::TooLarge { .. })
    ));
    let trailing = [ok.clone(), vec![0]].concat();
    assert!(matches!(
        parse_crl(&trailing, 1 << 20),
        Err(CrlError::Malformed { .. })
    ));

    let delta = extension(&[0x55, 0x1d, 0x1b], true, &tlv(0x02, &[1]));
    let d = crl(None, &[0x02], &[delta]);
    assert!(matches!(parse_crl(&d, 1 << 20), Err(CrlError::DeltaCrl)));

    let crit = extension(&[0x2a, 0x03, 0x04], true, &[0x05, 0x00]);
    let c = crl(None, &[0x02], &[crit]);
    match parse_crl(&c, 1 << 20) {
        Err(e @ CrlError::UnknownCriticalExtension { .. }) => {
            assert_eq!(e.code(), "CRL_UNKNOWN_CRITICAL_EXTENSION");
            assert!(e.to_string().contains("1.2.3.4"));
        }
        other => panic!("{other:?}"),
    }
    let noncrit = extension(&[0x2a, 0x03, 0x04], false, &[0x05, 0x00]);
    let idp = extension(&[0x55, 0x1d, 0x1c], true, &seq(&[]));
    let aki = extension(&[0x55, 0x1d, 0x23], false, &seq(&[&tlv(0x80, &[9; 20])]));
    let fine = crl(None, &[0x00, 0x80], &[noncrit, idp, aki.clone()]);
    let h = parse_crl(&fine, 1 << 20).unwrap();
    assert_eq!(h.authority_key_id, Some(&[9u8; 20][..]));
    assert_eq!(h.issuing_distribution_point, Some(&[0x30, 0x00][..]));
    assert_eq!(h.crl_number_hex().as_deref(), Some("80"));

    let twice = crl(None, &[0x01], &[aki.clone(), aki]);
    assert!(matches!(
        parse_crl(&twice, 1 << 20),
        Err(CrlError::BadExtension { .. })
    ));
    let negative = crl(None, &[0x80], &[]);
    assert!(matches!(
        parse_crl(&negative, 1 << 20),
        Err(CrlError::BadExtension { .. })
    ));
    let too_long = crl(None, &[0x7f; 21], &[]);
    assert!(matches!(
        parse_crl(&too_long, 1 << 20),
        Err(CrlError::BadExtension { .. })
    ));
}
