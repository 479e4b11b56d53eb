//! Full verification of a signing-certificate signature in process: chain with a warm CA cache,
//! profile checks, the signature, 4-info parsing and a revocation lookup in an in-memory
//! `revocation` index of 100,000 entries. RSA-2048 PKCS#1 SHA-256 and ECDSA P-384 SHA-384.
//!
//! `cargo bench -p verifier --bench verify`; the ratio to `openssl speed rsa2048` comes from
//! `cargo run --release -p verifier --example verify_ratio`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../tests/common/mod.rs"]
mod common;
use common::Pretty;
use criterion::{Criterion, criterion_group, criterion_main};
use jlis_sim::Simulator;
use jlis_sim::issue::IssueRequest;
use jlis_sim::sign::{SignInput, SignRequest};
use jpki::{CertKind, Serial};
use openssl::x509::X509;
use revocation::{IndexBuilder, PartitionMeta, Policy, SnapshotSet};
use time::macros::datetime;
use verifier::{
    CertStatus, Limits, Payload, RevocationSource, Scheme, SignatureRequest, TrustStore, Verifier,
};

/// The CRL snapshots of every CA key, answered through the platform's rule.
struct Index(SnapshotSet);

impl RevocationSource for Index {
    fn status(&self, key_id: &[u8], serial: &Serial, points: &[String], at: i64) -> CertStatus {
        self.0.status(key_id, serial, at, points, Policy::default())
    }
}

fn index(key_ids: &[Vec<u8>]) -> Index {
    Index(
        SnapshotSet::new(
            key_ids
                .iter()
                .map(|k| {
                    let mut b = IndexBuilder::new(k).unwrap();
                    let p = b
                        .add_partition(PartitionMeta {
                            id: "all".into(),
                            dp_name: None,
                            crl_number: vec![1],
                            this_update: 0,
                            next_update: i64::from(u32::MAX),
                            source_sha256: [0; 32],
                            entries: 0,
                        })
                        .unwrap();
                    for i in 0..100_000u64 {
                        b.push(&(0x7000_0000 + i * 3).to_be_bytes(), 1000, Some(1), p)
                            .unwrap();
                    }
                    b.finish().unwrap()
                })
                .collect(),
        )
        .unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sim");
    let now = datetime!(2026-06-01 00:00 UTC);
    let at = now.unix_timestamp() + 86_400;
    let (sim, _) = Simulator::init(&dir, jlis_sim::DEFAULT_SEED, now, false).unwrap();
    let mut store = TrustStore::production();
    for ca in ["sign-2019", "sign-2023", "sign-2026"] {
        store
            .add_root(&std::fs::read(dir.join("ca").join(ca).join("root.der")).unwrap())
            .unwrap();
    }
    let keys: Vec<Vec<u8>> = store.roots().iter().map(|r| r.key_id().to_vec()).collect();
    let idx = index(&keys);
    let v = Verifier::new(store, Limits::default());
    let data = b"application form #42".to_vec();
    let mut group = c.benchmark_group("full_verify");
    for (generation, label) in [("2023", "rsa2048_pkcs1_sha256"), ("2026", "ecdsa_p384_sha384")] {
        let issued = sim
            .issue(&IssueRequest {
                generation: Some(generation.into()),
                smartphone: false,
                test: false,
                person: Default::default(),
                at: now,
            })
            .unwrap();
        let cert = X509::from_pem(&std::fs::read(&issued.sign.cert).unwrap())
            .unwrap()
            .to_der()
            .unwrap();
        let sig = sim
            .sign(&SignRequest {
                holder: issued.holder.clone(),
                key: CertKind::Signing,
                input: SignInput::Data(data.clone()),
                hash: None,
                pss: false,
                cms: None,
            })
            .unwrap();
        let req = SignatureRequest {
            cert_der: &cert,
            kind: Some(CertKind::Signing),
            payload: Payload::Data {
                bytes: &data,
                hash: None,
            },
            signature: &sig,
            scheme: Scheme::Auto,
            at_unix: at,
        };
        // Warm the CA cache, and make sure it is the valid path that is measured.
        let r = v.verify_signature(&req, &idx);
        assert!(r.is_valid() && r.basic_info.is_some(), "{}", r.to_json_pretty());
        group.bench_function(label, |b| {
            b.iter(|| v.verify_signature(std::hint::black_box(&req), &idx))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
