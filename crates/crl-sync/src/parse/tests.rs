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
