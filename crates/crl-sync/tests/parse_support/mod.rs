//! Hand-built DER for the parse tests: revoked entries and unsigned CRLs with a fake signature.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

/// One DER element with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// The minimal DER INTEGER content of an unsigned big-endian magnitude.
pub fn uint_content(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude.iter().position(|b| *b != 0).unwrap_or(magnitude.len());
    let m = &magnitude[start..];
    match m.first() {
        None => vec![0],
        Some(b) if b & 0x80 != 0 => [&[0u8][..], m].concat(),
        Some(_) => m.to_vec(),
    }
}

/// (year, month, day) from days since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A Time TLV as RFC 5280 wants it: UTCTime for 1950..=2049, GeneralizedTime otherwise.
pub fn time(unix: i64) -> Vec<u8> {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    let (hh, mm, ss) = (s / 3600, s / 60 % 60, s % 60);
    if (1950..2050).contains(&y) {
        tlv(
            0x17,
            format!("{:02}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z", y % 100).as_bytes(),
        )
    } else {
        tlv(
            0x18,
            format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z").as_bytes(),
        )
    }
}

pub fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = if critical { tlv(0x01, &[0xff]) } else { Vec::new() };
    seq(&[&tlv(0x06, oid), &crit, &tlv(0x04, value)])
}

/// One revokedCertificates entry.
pub fn entry(serial_content: &[u8], revoked_at: i64, reason: Option<u8>) -> Vec<u8> {
    let exts = match reason {
        Some(r) => seq(&[&extension(&[0x55, 0x1d, 0x15], false, &tlv(0x0a, &[r]))]),
        None => Vec::new(),
    };
    seq(&[&tlv(0x02, serial_content), &time(revoked_at), &exts])
}

pub const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];

pub fn issuer() -> Vec<u8> {
    // C=JP, O=JPKI
    let c = tlv(0x31, &seq(&[&tlv(0x06, &[0x55, 0x04, 0x06]), &tlv(0x13, b"JP")]));
    let o = tlv(
        0x31,
        &seq(&[&tlv(0x06, &[0x55, 0x04, 0x0a]), &tlv(0x13, b"JPKI")]),
    );
    seq(&[&c, &o])
}

/// An unsigned v2 CRL around `revoked_content` (the concatenated entries; `None` leaves the field
/// out), with cRLNumber `number` and the extra CRL extensions given.
pub fn crl(revoked_content: Option<&[u8]>, number: &[u8], extra_exts: &[Vec<u8>]) -> Vec<u8> {
    let alg = seq(&[&tlv(0x06, SHA256_WITH_RSA), &[0x05, 0x00]]);
    let mut exts = vec![extension(&[0x55, 0x1d, 0x14], false, &tlv(0x02, number))];
    exts.extend_from_slice(extra_exts);
    let exts = tlv(0xa0, &seq(&exts.iter().map(Vec::as_slice).collect::<Vec<_>>()));
    let revoked = revoked_content.map(|r| tlv(0x30, r)).unwrap_or_default();
    let tbs = seq(&[
        &tlv(0x02, &[1]),
        &alg,
        &issuer(),
        &time(1_767_225_600), // 2026-01-01
        &time(1_769_904_000), // 2026-02-01
        &revoked,
        &exts,
    ]);
    seq(&[&tbs, &alg, &tlv(0x03, &[0, 0xde, 0xad, 0xbe, 0xef])])
}
