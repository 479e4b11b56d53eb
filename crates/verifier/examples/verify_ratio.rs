//! Full verification rate (warm chain cache, 4-info parse, revocation lookup in a memory-mapped
//! snapshot of 1,000,000 revoked serials per CA key through the platform's answer rule) against
//! `openssl speed -seconds 3 rsa2048 ecdsap384` verify/s, single-threaded, for RSA-2048 and ECDSA
//! P-384 (the ECDSA rate is also compared with OpenSSL's own P-384 verify rate).
//!
//! `cargo run --release -p verifier --example verify_ratio`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;
use std::time::{Duration, Instant};

use jlis_sim::Simulator;
use jlis_sim::issue::IssueRequest;
use jlis_sim::sign::{SignInput, SignRequest};
use jpki::CertKind;
use openssl::x509::X509;
use revocation::{IndexBuilder, PartitionMeta, Policy, SnapshotSet};
use time::macros::datetime;
use verifier::{Limits, Payload, RevocationSource, Scheme, SignatureRequest, TrustStore, Verifier};

/// verify/s for RSA-2048 and ECDSA P-384 from one `openssl speed` run.
fn openssl_verify_per_s() -> (f64, f64) {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa2048", "ecdsap384"])
        .output()
        .expect("openssl speed");
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut rsa, mut ec) = (None, None);
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // "rsa 2048 bits 0.000560s 0.000016s   1785.7  62500.0"
        if cols.len() >= 7 && cols[0] == "rsa" && cols[1] == "2048" && cols[2] == "bits" {
            rsa = cols[6].parse().ok();
        }
        // " 384 bits ecdsa (nistp384)   0.0010s   0.0008s   1000.0   1250.0"
        if cols.len() >= 8 && cols[0] == "384" && cols[2] == "ecdsa" {
            ec = cols[7].parse().ok();
        }
    }
    match (rsa, ec) {
        (Some(r), Some(e)) => (r, e),
        _ => panic!("cannot parse openssl speed output:\n{text}"),
    }
}

/// One snapshot per CA key, 1 M revoked serials each (not the measured certificates), as
/// `crl-sync` writes them.
fn snapshot_dir(dir: &std::path::Path, sim_dir: &std::path::Path, at: i64) -> SnapshotSet {
    std::fs::create_dir_all(dir).unwrap();
    for ca in ["sign-2019", "sign-2023", "sign-2026"] {
        let pem = std::fs::read(sim_dir.join("ca").join(ca).join("root.pem")).unwrap();
        let cert = X509::from_pem(&pem).unwrap();
        let key_id = cert.subject_key_id().unwrap().as_slice().to_vec();
        let mut b = IndexBuilder::new(&key_id).unwrap();
        let p = b
            .add_partition(PartitionMeta {
                id: format!("{ca}/all"),
                dp_name: None,
                crl_number: vec![1],
                this_update: at - 3600,
                next_update: at + 86_400,
                source_sha256: [0; 32],
                entries: 0,
            })
            .unwrap();
        for i in 0..1_000_000u64 {
            b.push(&(0x7000_0000 + i * 3).to_be_bytes(), at - 7200, Some(1), p)
                .unwrap();
        }
        b.write_atomically(dir, 1).unwrap();
    }
    SnapshotSet::open_dir(dir).unwrap()
}

fn measure(v: &Verifier, src: &dyn RevocationSource, cert: &[u8], sig: &[u8], data: &[u8], at: i64) -> f64 {
    let req = SignatureRequest {
        cert_der: cert,
        kind: Some(CertKind::Signing),
        payload: Payload::Data {
            bytes: data,
            hash: None,
        },
        signature: sig,
        scheme: Scheme::Auto,
        at_unix: at,
    };
    let first = v.verify_signature(&req, src);
    assert!(first.is_valid());
    assert_eq!(
        serde_json::to_value(&first).unwrap()["revocation"]["status"],
        "good"
    );
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(3) {
        for _ in 0..64 {
            let r = v.verify_signature(&req, src);
            assert!(r.basic_info.is_some());
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
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
    let v = Verifier::new(store, Limits::default());
    let set = snapshot_dir(&tmp.path().join("snap"), &dir, at);
    let src = |key: &[u8], serial: &jpki::Serial, points: &[String], at: i64| {
        set.status(key, serial, at, points, Policy::default())
    };
    let data = b"application form #42".to_vec();
    let mut rates = Vec::new();
    for generation in ["2023", "2026"] {
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
        rates.push(measure(&v, &src, &cert, &sig, &data, at));
    }
    let (rsa, ec) = openssl_verify_per_s();
    println!("openssl speed rsa2048 verify/s:   {rsa:.0}");
    println!("openssl speed ecdsap384 verify/s: {ec:.0}");
    println!(
        "ours RSA-2048 full verify/s:    {:.0}  ratio to openssl rsa2048 {:.2}",
        rates[0],
        rates[0] / rsa
    );
    println!(
        "ours ECDSA P-384 full verify/s: {:.0}  ratio to openssl rsa2048 {:.3}, to openssl ecdsap384 {:.2}",
        rates[1],
        rates[1] / rsa,
        rates[1] / ec
    );
}
