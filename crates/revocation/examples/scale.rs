//! Full-scale timings: build (sort) 20 M entries, write, open, lookups, delta.
//!
//! `cargo run --release -p revocation --example scale [-- ENTRIES]`
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test and bench code

use std::time::Instant;

use jpki::Serial;
use revocation::{IndexBuilder, PartitionMeta, Snapshot, delta};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Nanoseconds this thread spent on a CPU (the machine may be shared; wall time misleads).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn meta(id: &str) -> PartitionMeta {
    PartitionMeta {
        id: id.into(),
        dp_name: None,
        crl_number: vec![1],
        this_update: 1_750_000_000,
        next_update: 1_750_090_000,
        source_sha256: [0; 32],
        entries: 0,
    }
}

fn serials(n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut s = Vec::with_capacity(n);
    let mut x = 0x1000_0000u64;
    for _ in 0..n {
        x += 1 + rng.next() % 8;
        s.push(x);
    }
    s
}

fn build(
    serials: &[u64],
    rng: &mut Rng,
    skip_every: u64,
) -> (Snapshot, std::time::Duration, std::time::Duration) {
    // CRL order: shuffled.
    let mut order: Vec<u64> = serials
        .iter()
        .copied()
        .filter(|s| skip_every == 0 || s % skip_every != 0)
        .collect();
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let t = Instant::now();
    let mut b = IndexBuilder::new(&[1, 2, 3, 4]).unwrap();
    b.reserve(order.len());
    let p = b.add_partition(meta("all")).unwrap();
    for &s in &order {
        b.push(
            &s.to_be_bytes(),
            1_700_000_000 + (s % 10_000_000) as i64,
            Some(1 + (s % 5) as u8),
            p,
        )
        .unwrap();
    }
    let pushed = t.elapsed();
    let t = Instant::now();
    let snap = b.finish().unwrap();
    (snap, pushed, t.elapsed())
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let all = serials(n, &mut rng);
    let (snap, pushed, finished) = build(&all, &mut rng, 0);
    println!(
        "entries {n}: push {:.2?}, sort+dedup+encode+validate {:.2?}",
        pushed, finished
    );
    println!(
        "file {} bytes = {:.2} bytes/entry (13 for entries + directory)",
        snap.file_len(),
        snap.file_len() as f64 / n as f64
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.snap");
    let t = Instant::now();
    std::fs::write(&path, snap.as_bytes()).unwrap();
    let w = t.elapsed();
    let t = Instant::now();
    let opened = Snapshot::open(&path).unwrap();
    println!(
        "write {:.2?}, open (mmap + full validation) {:.2?}",
        w,
        t.elapsed()
    );
    let t = Instant::now();
    let loaded = Snapshot::load(&path).unwrap();
    println!(
        "load (read into huge pages + full validation) {:.2?}",
        t.elapsed()
    );
    if let Ok(r) = std::fs::read_to_string("/proc/self/smaps_rollup") {
        for l in r
            .lines()
            .filter(|l| l.starts_with("AnonHugePages") || l.starts_with("FilePmdMapped"))
        {
            println!("  {l}");
        }
    }

    // Probes: half present, half absent (just above max or random in the range, likely absent).
    let max = *all.last().unwrap();
    let probes: Vec<Serial> = (0..4_000_000)
        .map(|i| {
            if i % 2 == 0 {
                Serial::from_u64(all[(rng.next() % n as u64) as usize])
            } else {
                Serial::from_u64(0x1000_0000 + rng.next() % (max - 0x1000_0000 + 1000))
            }
        })
        .collect();
    for (name, s) in [("finish", &snap), ("open (mmap)", &opened), ("load", &loaded)] {
        for _ in 0..2 {
            let (t, c) = (Instant::now(), cpu_ns());
            let mut hits = 0usize;
            for p in &probes {
                hits += usize::from(s.lookup(p).is_some());
            }
            let (e, c) = (t.elapsed(), cpu_ns() - c);
            let m = probes.len() as f64 / 1e6;
            println!(
                "lookup {name}: {:.1} M/s wall, {:.1} M/s per CPU-second ({} hits of {})",
                m / e.as_secs_f64(),
                m / (c as f64 / 1e9),
                hits,
                probes.len()
            );
            let (t, c) = (Instant::now(), cpu_ns());
            let mut out = Vec::with_capacity(probes.len());
            s.lookup_batch(&probes, &mut out);
            let (e, c) = (t.elapsed(), cpu_ns() - c);
            let bh = out.iter().filter(|r| r.is_some()).count();
            assert_eq!(bh, hits);
            println!(
                "lookup_batch {name}: {:.1} M/s wall, {:.1} M/s per CPU-second",
                m / e.as_secs_f64(),
                m / (c as f64 / 1e9)
            );
        }
    }

    // Delta: new snapshot drops every 97th serial (expired) and adds 200 k new ones at the top.
    let mut next = all.clone();
    let mut x = max;
    for _ in 0..200_000 {
        x += 1 + rng.next() % 8;
        next.push(x);
    }
    let (snap2, _, _) = build(&next, &mut rng, 97);
    drop(snap);
    let t = Instant::now();
    let d = delta(&opened, &snap2);
    println!(
        "delta {} vs {}: {:.2?} (+{} -{} ~{})",
        opened.len(),
        snap2.len(),
        t.elapsed(),
        d.added.len(),
        d.removed.len(),
        d.changed.len()
    );
}
