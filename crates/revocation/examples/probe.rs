//! Random lookups in the snapshots of a directory, half present and half absent, timed in CPU time
//! of this thread: single lookups in the issuer's snapshot (checked by `make bench`), the same
//! through a holder reader and through a full `ArcSwap` guard per lookup (for information), and
//! batched lookups (checked). Snapshots are read into huge pages as servers load them
//! ([`SnapshotSet::load_dir`]); `PROBE_MAPPED=1` maps the files instead.
//!
//! `cargo run --release -p revocation --example probe -- DIR [PROBES]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // bench code

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use jpki::Serial;
use revocation::{SnapshotHolder, SnapshotSet};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: probe DIR [PROBES]"));
    let probes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4_000_000);
    let private = std::env::var_os("PROBE_MAPPED").is_none();
    let set = if private {
        SnapshotSet::load_dir(&dir)
    } else {
        SnapshotSet::open_dir(&dir)
    };
    let holder = SnapshotHolder::with_set(set.unwrap());
    let set = holder.load_full().unwrap();
    let snap = set.snapshots().max_by_key(|s| s.len()).unwrap();
    let key = snap.issuer_key_id().to_vec();
    let n = snap.len();
    assert!(n > 0, "empty snapshot");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (lo, hi) = (
        snap.entry(0).unwrap().serial.as_u64().unwrap_or(0),
        snap.entry(n - 1).unwrap().serial.as_u64().unwrap_or(u64::MAX),
    );
    let list: Vec<Serial> = (0..probes)
        .map(|i| {
            if i % 2 == 0 {
                snap.entry((rng.next() % n as u64) as usize).unwrap().serial
            } else {
                Serial::from_u64(lo + rng.next() % (hi - lo + 1))
            }
        })
        .collect();
    println!(
        "snapshot {} entries, {} bytes; {} probes",
        n,
        snap.file_len(),
        probes
    );
    // Single lookups in the snapshot of the issuer, as a request handler does once it has
    // resolved the issuer: the figure `make bench` checks.
    let mut best_direct = 0f64;
    for round in 0..3 {
        let (t, c) = (Instant::now(), cpu_ns());
        let mut hits = 0usize;
        for p in &list {
            hits += usize::from(black_box(snap.lookup(p)).is_some());
        }
        let (wall, cpu) = (t.elapsed().as_secs_f64(), (cpu_ns() - c) as f64 / 1e9);
        let m = probes as f64 / 1e6;
        let per_cpu = if cpu > 0.0 { m / cpu } else { m / wall };
        best_direct = best_direct.max(per_cpu);
        println!(
            "direct round {round}: {:.1} M lookups/s wall, {per_cpu:.1} M per CPU-second ({hits} hits)",
            m / wall
        );
    }
    if std::env::var_os("PROBE_DIRECT_ONLY").is_some() {
        return;
    }
    // Single lookups as a server worker thread does them: through its reader of the holder (one
    // pointer comparison per lookup picks up a swapped-in set), then the snapshot of the issuer.
    let mut best = 0f64;
    let mut reader = holder.reader();
    for round in 0..3 {
        let (t, c) = (Instant::now(), cpu_ns());
        let mut hits = 0usize;
        for p in &list {
            let set = reader.load().unwrap();
            hits += usize::from(black_box(set.lookup(&key, p)).is_some());
        }
        let (wall, cpu) = (t.elapsed().as_secs_f64(), (cpu_ns() - c) as f64 / 1e9);
        let m = probes as f64 / 1e6;
        let per_cpu = if cpu > 0.0 { m / cpu } else { m / wall };
        best = best.max(per_cpu);
        println!(
            "round {round}: {:.1} M lookups/s wall, {:.1} M per CPU-second ({hits} hits)",
            m / wall,
            per_cpu
        );
    }
    // For comparison: a full `ArcSwap` guard per lookup (atomic read-modify-writes, which stop
    // consecutive lookups from overlapping their misses).
    let (t, c) = (Instant::now(), cpu_ns());
    let mut hits = 0usize;
    for p in &list {
        let set = holder.load();
        hits += usize::from(black_box(set.as_ref().unwrap().lookup(&key, p)).is_some());
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), (cpu_ns() - c) as f64 / 1e9);
    println!(
        "guard per lookup: {:.1} M/s wall, {:.1} M per CPU-second ({hits} hits)",
        probes as f64 / 1e6 / wall,
        probes as f64 / 1e6 / cpu.max(1e-9)
    );
    // Batched, as a bulk status check does: the lookups of a batch overlap their cache misses.
    let mut best_batch = 0f64;
    let mut out = Vec::with_capacity(list.len());
    for round in 0..3 {
        out.clear();
        let (t, c) = (Instant::now(), cpu_ns());
        for chunk in list.chunks(4096) {
            snap.lookup_batch(chunk, &mut out);
        }
        let (wall, cpu) = (t.elapsed().as_secs_f64(), (cpu_ns() - c) as f64 / 1e9);
        let hits = black_box(&out).iter().filter(|r| r.is_some()).count();
        let m = probes as f64 / 1e6;
        let per_cpu = if cpu > 0.0 { m / cpu } else { m / wall };
        best_batch = best_batch.max(per_cpu);
        println!(
            "batch round {round}: {:.1} M lookups/s wall, {:.1} M per CPU-second ({hits} hits)",
            m / wall,
            per_cpu
        );
    }
    // The next day's list: every 97th entry expired off the CRL, 200,000 newly revoked on top.
    let mut b = revocation::IndexBuilder::new(&key).unwrap();
    b.reserve(n + 200_000);
    let mut map = std::collections::BTreeMap::new();
    for meta in snap.partitions() {
        map.insert(meta.id.clone(), b.add_partition(meta.clone()).unwrap());
    }
    let mut top = 0u64;
    for (i, e) in snap.entries().enumerate() {
        top = top.max(e.serial.as_u64().unwrap_or(0));
        if i % 97 != 0 {
            let to = map[&snap.partitions()[usize::from(e.partition)].id];
            b.push_entry(&e, to).unwrap();
        }
    }
    let first = *map.values().next().unwrap();
    for i in 1..=200_000u64 {
        b.push(&(top + i * 2).to_be_bytes(), 1_790_000_000, Some(4), first)
            .unwrap();
    }
    let next = b.finish().unwrap();
    let t = Instant::now();
    let d = revocation::delta(snap, &next);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "delta {} vs {} entries: +{} -{} in {secs:.3}s",
        snap.len(),
        next.len(),
        d.added.len(),
        d.removed.len()
    );
    println!("delta next-day seconds {secs:.3}");
    println!("lookup via holder reader per-cpu-M/s {best:.1}");
    println!("lookup single per-cpu-M/s {best_direct:.1}");
    println!("lookup batch per-cpu-M/s {best_batch:.1}");
}
