//! The gateway under load, for `scripts/bench-gateway.sh`: a simulator with a few holders,
//! snapshots built from its CRLs (`testkit::snapshots`), a real `redis-server`, and the gateway on loopback with
//! one SP whose limits do not get in the way. Writes into OUT_DIR:
//! - `ready.json`: `{base, key, id}` once serving;
//! - `status.json`: a single-id certificate-status body;
//! - `bulk.json`: a 100,000-id certificate-status body (ids sealed for the registered
//!   certificates, as the gateway hands them out: checking them needs no Redis);
//! - `kyc.json`: a KYC verification body (a valid signature, so each request verifies, writes
//!   Redis and the audit log).
//!
//! Then it serves until stdin closes. `BENCH_WORKERS` sets the gateway's workers (default 2, the
//! machine's cores), to see how the figures move with it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jlis_sim::{HashAlg, IssueRequest, PersonInput, Simulator};
use jpki::CertKind;
use serde_json::json;
use sp_gateway::ids::CertRef;
use sp_gateway::{Config, Gateway};

/// The allocator the `sp-gateway` binary uses (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "sk_bench_0123456789abcdef0123456789abcdef";

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: bench_gateway OUT_DIR"));
    std::fs::create_dir_all(&out).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (sim, _) = Simulator::init(
        &tmp.path().join("sim"),
        "bench",
        now - time::Duration::days(30),
        false,
    )
    .unwrap();
    let mut holders = Vec::new();
    for _ in 0..4 {
        let i = sim
            .issue(&IssueRequest {
                generation: Some("2023".into()),
                smartphone: false,
                test: false,
                person: PersonInput::default(),
                at: now - time::Duration::days(1),
            })
            .unwrap();
        holders.push(i.holder);
    }
    sim.publish_crls(now - time::Duration::minutes(5), 48).unwrap();
    let snap = tmp.path().join("snapshots");
    let crls: Vec<_> = sim
        .partitions()
        .into_iter()
        .filter_map(|p| {
            Some(testkit::snapshots::Crl {
                partition: format!("{}/{}", p.ca, p.municipality),
                der: std::fs::read(p.crl_file?).unwrap(),
            })
        })
        .collect();
    testkit::snapshots::build(&snap, &crls, 2);

    let redis = testkit::RedisServer::start();
    let secret = tmp.path().join("id.secret");
    std::fs::write(&secret, [7u8; 32]).unwrap();
    let roots: Vec<String> = [
        "sign-2019",
        "sign-2023",
        "sign-2026",
        "auth-2019",
        "auth-2023",
        "auth-2026",
    ]
    .iter()
    .map(|ca| {
        format!(
            "{{ path = \"{}\" }}",
            tmp.path().join("sim/ca").join(ca).join("root.der").display()
        )
    })
    .collect();
    let text = format!(
        "listen = \"127.0.0.1:0\"\nworkers = {}\nsnapshot_dir = \"{}\"\naudit_log = \"{}\"\nid_secret_file = \"{}\"\n\
         [trust]\nroots = [{}]\n[redis]\nurl = \"{}\"\n[limits]\nmax_bulk_json_bytes = 16777216\n\
         [[sp]]\nid = \"bench\"\nname = \"bench\"\napi_key_sha256 = [\"{}\"]\npurposes = [\"kyc\", \"login\", \"status\"]\n\
         requests_per_second = 1000000\nburst = 1000000\nitems_per_second = 1000000\nitems_burst = 10000000\n",
        std::env::var("BENCH_WORKERS").unwrap_or_else(|_| "2".into()),
        snap.display(),
        out.join("audit.jsonl").display(),
        secret.display(),
        roots.join(", "),
        redis.url(),
        pf_server::registry::hash_key(KEY),
    );
    let cfg = Config::from_toml(&text).unwrap();
    cfg.validate().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let gw = Arc::new(Gateway::build(cfg).unwrap());
        let (addr, server) = sp_gateway::server::start(Arc::clone(&gw), TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        let base = format!("http://{addr}");
        let http = reqwest::Client::new();
        let mut refs = Vec::new();
        let mut first_id = String::new();
        let mut kyc_body = json!({});
        for h in &holders {
            let der = sim.holder_certificate_der(h, CertKind::Signing).unwrap();
            let data = b"bench: account opening";
            let sig = sim.sign_data(h, data, HashAlg::Sha256).unwrap();
            let body = json!({"certificate": STANDARD.encode(&der), "signature": STANDARD.encode(&sig), "data": STANDARD.encode(data), "hash": "sha256"});
            let v: serde_json::Value = http
                .post(format!("{base}/v1/verifications"))
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["verdict"], "valid", "{v}");
            let id = v["id"].as_str().unwrap().to_owned();
            refs.push(gw.ids.open("bench", &id).unwrap().cert.unwrap());
            if first_id.is_empty() {
                first_id = id;
                kyc_body = body;
            }
        }
        let ids: Vec<String> = (0..100_000)
            .map(|i| gw.ids.seal("bench", Some::<&CertRef>(&refs[i % refs.len()])).unwrap())
            .collect();
        std::fs::write(out.join("bulk.json"), json!({ "ids": ids }).to_string()).unwrap();
        std::fs::write(out.join("status.json"), json!({ "ids": [first_id] }).to_string()).unwrap();
        std::fs::write(out.join("kyc.json"), kyc_body.to_string()).unwrap();
        std::fs::write(
            out.join("ready.json"),
            json!({"base": base, "key": KEY, "id": first_id}).to_string(),
        )
        .unwrap();
        println!("{}", json!({"base": base}));
        // Serve until stdin closes.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
        handle.stop(true).await;
        gw.audit.close();
    });
    drop(redis);
}
