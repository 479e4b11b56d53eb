//! Walk throughput on a hand-built, unsigned CRL with 20 M entries (about 820 MB of DER).
//!
//! Ignored by default; run in release:
//! `cargo test --release -p crl-sync --test parse_throughput -- --ignored --nocapture`
//! (`CRL_BENCH_ENTRIES` sets the entry count).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod parse_support;

use std::time::Instant;

use crl_sync::parse::parse_crl;
use parse_support::{crl, entry};

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn walk_twenty_million_entries() {
    let n: u64 = std::env::var("CRL_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000);

    // Fixed-width entries: an 8-octet serial (JPKI-like, near-sequential), a UTCTime and a
    // reasonCode; the serial and reason octets are patched into a template.
    let template = entry(&[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0], 1_767_225_600, Some(1));
    let width = template.len();
    let build = Instant::now();
    let mut revoked = Vec::with_capacity(width * n as usize);
    for i in 0..n {
        let start = revoked.len();
        revoked.extend_from_slice(&template);
        revoked[start + 8..start + 12].copy_from_slice(&(i as u32).to_be_bytes());
        revoked[start + width - 1] = [1u8, 3, 4, 5, 6][(i % 5) as usize];
    }
    let der = crl(Some(&revoked), &[0x01], &[]);
    drop(revoked);
    println!(
        "built {n} entries, {} bytes of DER, {width} bytes per entry, in {:?}",
        der.len(),
        build.elapsed()
    );

    let start = Instant::now();
    let header = parse_crl(&der, usize::MAX).unwrap();
    let mut checksum = 0u64;
    let stats = header
        .walk_revoked(&mut |serial: &[u8], at: i64, reason: Option<u8>| {
            checksum = checksum
                .wrapping_add(u64::from(*serial.last().unwrap()))
                .wrapping_add(at as u64)
                .wrapping_add(u64::from(reason.unwrap_or(0)));
            Ok(())
        })
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(stats.entries, n);
    assert_eq!(stats.with_reason, n);
    println!(
        "walked {} entries in {elapsed:?}: {:.1} M entries/s, {:.0} MB/s (checksum {checksum})",
        stats.entries,
        stats.entries as f64 / elapsed.as_secs_f64() / 1e6,
        der.len() as f64 / elapsed.as_secs_f64() / 1e6,
    );

    // For scale: SHA-256 over the signed bytes, as the signature check does it.
    let start = Instant::now();
    let mut sha = openssl::sha::Sha256::new();
    for chunk in header.tbs.chunks(1 << 20) {
        sha.update(chunk);
    }
    let digest = sha.finish();
    let elapsed = start.elapsed();
    println!(
        "SHA-256 of the {}-byte TBSCertList in {elapsed:?}: {:.0} MB/s ({:02x?}..)",
        header.tbs.len(),
        header.tbs.len() as f64 / elapsed.as_secs_f64() / 1e6,
        &digest[..4]
    );
}
