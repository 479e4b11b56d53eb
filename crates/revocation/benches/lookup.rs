//! Lookup, delta and build at the design size: 20 M near-sequential serials (random gaps 1..8),
//! random probes, half present and half absent.
//!
//! `cargo bench -p revocation --bench lookup` (`REVOCATION_BENCH_ENTRIES` to change the size).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test and bench code

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
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

fn entries() -> usize {
    std::env::var("REVOCATION_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000)
}

fn serials(n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut x = 0x1000_0000u64;
    (0..n)
        .map(|_| {
            x += 1 + rng.next() % 8;
            x
        })
        .collect()
}

/// CRL order: a shuffle of the serials.
fn crl_order(serials: &[u64], rng: &mut Rng) -> Vec<u64> {
    let mut order = serials.to_vec();
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn build(order: &[u64]) -> Snapshot {
    let mut b = IndexBuilder::new(&[1, 2, 3, 4]).unwrap();
    b.reserve(order.len());
    let p = b
        .add_partition(PartitionMeta {
            id: "all".into(),
            dp_name: None,
            crl_number: vec![1],
            this_update: 1_750_000_000,
            next_update: 1_750_090_000,
            source_sha256: [0; 32],
            entries: 0,
        })
        .unwrap();
    for &s in order {
        b.push(
            &s.to_be_bytes(),
            1_700_000_000 + (s % 10_000_000) as i64,
            Some(1),
            p,
        )
        .unwrap();
    }
    b.finish().unwrap()
}

fn probes(all: &[u64], count: usize, rng: &mut Rng) -> Vec<Serial> {
    let (lo, hi) = (all[0], all[all.len() - 1]);
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                Serial::from_u64(all[(rng.next() % all.len() as u64) as usize])
            } else {
                loop {
                    let v = lo + rng.next() % (hi - lo);
                    if all.binary_search(&v).is_err() {
                        break Serial::from_u64(v);
                    }
                }
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let n = entries();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let all = serials(n, &mut rng);
    let order = crl_order(&all, &mut rng);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.snap");
    std::fs::write(&path, build(&order).as_bytes()).unwrap();
    let probes = probes(&all, 1 << 20, &mut rng);

    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(probes.len() as u64));
    for (name, snap) in [
        ("mmap", Snapshot::open(&path).unwrap()),
        ("load", Snapshot::load(&path).unwrap()),
    ] {
        g.bench_function(format!("single/{name}"), |b| {
            b.iter(|| probes.iter().filter(|p| snap.lookup(p).is_some()).count())
        });
        let mut out = Vec::with_capacity(probes.len());
        g.bench_function(format!("batch/{name}"), |b| {
            b.iter(|| {
                out.clear();
                snap.lookup_batch(&probes, &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("index");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let old = Snapshot::open(&path).unwrap();
    // The next day: every 97th entry expired, 200 k new revocations above the old maximum.
    let mut next: Vec<u64> = all.iter().copied().filter(|s| s % 97 != 0).collect();
    let mut x = all[n - 1];
    for _ in 0..200_000 {
        x += 1 + rng.next() % 8;
        next.push(x);
    }
    let new = build(&crl_order(&next, &mut rng));
    g.bench_function("delta", |b| b.iter(|| black_box(delta(&old, &new).added.len())));
    g.bench_function("build", |b| {
        b.iter_batched(
            || order.clone(),
            |o| black_box(build(&o).len()),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(lookup, benches);
criterion_main!(lookup);
