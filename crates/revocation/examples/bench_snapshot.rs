//! Writes a snapshot for the OCSP benchmark (`scripts/bench-ocsp.sh`): one partition covering now
//! for two days, listing every tenth serial of a file (hex, one per line) as keyCompromise.
//!
//! `cargo run --release -p revocation --example bench_snapshot -- KEY_ID_HEX SERIALS_FILE OUT_DIR`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use jpki::{Reason, Serial};
use revocation::{IndexBuilder, PartitionMeta};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, key_hex, serials, out] = args.as_slice() else {
        eprintln!("usage: bench_snapshot KEY_ID_HEX SERIALS_FILE OUT_DIR");
        std::process::exit(64);
    };
    let key: Vec<u8> = (0..key_hex.len() / 2)
        .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).expect("hex key id"))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut b = IndexBuilder::new(&key).unwrap();
    b.add_partition(PartitionMeta {
        id: "bench".into(),
        dp_name: None,
        crl_number: vec![1],
        this_update: now - 3600,
        next_update: now + 2 * 86_400,
        source_sha256: [0; 32],
        entries: 0,
    })
    .unwrap();
    let text = std::fs::read_to_string(serials).unwrap();
    for (i, line) in text.lines().enumerate() {
        if i % 10 == 0 {
            let serial = Serial::from_hex(line.trim()).unwrap();
            b.push_serial(&serial, now - 86_400, Some(Reason::KeyCompromise), 0)
                .unwrap();
        }
    }
    std::fs::create_dir_all(out).unwrap();
    b.write_atomically(std::path::Path::new(out), 1).unwrap();
}
