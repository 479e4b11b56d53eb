//! Test harness: one J-LIS simulator per test binary, a real `redis-server` and a real gateway
//! bound on loopback per test, snapshots built from the simulator's CRLs by
//! [`testkit::snapshots`] (the gateway's tests do not depend on crl-sync).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jlis_sim::{HashAlg, IssueRequest, PersonInput, Simulator};
use jpki::CertKind;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sp_gateway::{Config, Gateway, Shared};
use testkit::RedisServer;
use time::OffsetDateTime;

pub mod webhooks;

pub const KEY_A: &str = "sk_test_bank_a_3f9c1e7d5b2a4c6e8f0a1b2c3d4e5f60";
pub const KEY_A_OLD: &str = "sk_test_bank_a_revoked_0000000000000000000000";
pub const KEY_B: &str = "sk_test_bank_b_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c40";
pub const KEY_SLOW: &str = "sk_test_bank_slow_11112222333344445555666677778888";
pub const KEY_STATUS_ONLY: &str = "sk_test_bank_status_aaaabbbbccccddddeeeeffff0000";
pub const PRODUCTION_CAS: [&str; 6] = [
    "sign-2019",
    "sign-2023",
    "sign-2026",
    "auth-2019",
    "auth-2023",
    "auth-2026",
];

pub fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

/// The simulator shared by the tests of one binary.
pub struct Sim {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub sim: Arc<Simulator>,
}

/// Publishing CRLs and reading them must not interleave between tests.
static CRL_LOCK: Mutex<()> = Mutex::new(());

pub fn sim() -> &'static Sim {
    static S: OnceLock<Sim> = OnceLock::new();
    S.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sim");
        let at = now() - time::Duration::days(30);
        let (sim, _) = Simulator::init(&dir, "sp-gateway-tests", at, false).unwrap();
        Sim {
            _tmp: tmp,
            dir,
            sim: Arc::new(sim),
        }
    })
}

/// A card holder.
pub struct Holder {
    pub id: String,
    pub sign_der: Vec<u8>,
    pub auth_der: Vec<u8>,
}

impl Sim {
    pub fn issue(&self, generation: &str, test: bool) -> Holder {
        self.issue_person(generation, test, PersonInput::default())
    }

    /// A holder living in `municipality` (a code such as `131016`), so that their certificates
    /// belong to that municipality's CRL partitions.
    pub fn issue_in(&self, generation: &str, municipality: &str) -> Holder {
        self.issue_person(
            generation,
            false,
            PersonInput {
                municipality: Some(municipality.to_owned()),
                ..Default::default()
            },
        )
    }

    fn issue_person(&self, generation: &str, test: bool, person: PersonInput) -> Holder {
        let issued = self
            .sim
            .issue(&IssueRequest {
                generation: (!test).then(|| generation.to_owned()),
                smartphone: false,
                test,
                person,
                at: now() - time::Duration::days(1),
            })
            .unwrap();
        Holder {
            sign_der: self
                .sim
                .holder_certificate_der(&issued.holder, CertKind::Signing)
                .unwrap(),
            auth_der: self
                .sim
                .holder_certificate_der(&issued.holder, CertKind::UserAuthentication)
                .unwrap(),
            id: issued.holder,
        }
    }

    pub fn sign(&self, h: &Holder, data: &[u8]) -> Vec<u8> {
        self.sim.sign_data(&h.id, data, HashAlg::Sha256).unwrap()
    }

    pub fn root_path(&self, ca: &str) -> PathBuf {
        self.dir.join("ca").join(ca).join("root.der")
    }

    /// Publishes CRLs at `at` (valid `hours`) and builds snapshots from them into `out`.
    pub fn build_snapshots(&self, out: &Path, at: OffsetDateTime, hours: u32) {
        self.build_snapshots_except(out, at, hours, &[]);
    }

    /// [`Sim::build_snapshots`] with the CRLs of the partitions in `failed` left out, as when
    /// their download fails: a snapshot already in `out` keeps their previous CRL (entries,
    /// thisUpdate and nextUpdate). Partition ids are `<ca>/<municipality>`.
    pub fn build_snapshots_except(&self, out: &Path, at: OffsetDateTime, hours: u32, failed: &[&str]) {
        let _g = self.crl_lock();
        self.sim.publish_crls(at, hours).unwrap();
        let mut crls = Vec::new();
        for p in self.sim.partitions() {
            let partition = format!("{}/{}", p.ca, p.municipality);
            if let Some(f) = &p.crl_file
                && !failed.contains(&partition.as_str())
            {
                crls.push(testkit::snapshots::Crl {
                    partition,
                    der: std::fs::read(f).unwrap(),
                });
            }
        }
        testkit::snapshots::build(out, &crls, 3);
    }

    /// Held while publishing CRLs and reading them, which must not interleave between tests.
    pub fn crl_lock(&self) -> std::sync::MutexGuard<'static, ()> {
        CRL_LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The delta stream crl-sync writes to and the gateway's webhook worker reads, in tests.
pub const DELTA_STREAM: &str = "test:crl-delta";

/// One SP in the test configuration.
fn sp_toml(id: &str, key: &str, purposes: &str, rps: f64, burst: u64, extra: &str) -> String {
    format!(
        "[[sp]]\nid = \"{id}\"\nname = \"{id}\"\napi_key_sha256 = [\"{}\"]\n{extra}purposes = [{purposes}]\nrequests_per_second = {rps}\nburst = {burst}\n",
        pf_server::registry::hash_key(key)
    )
}

/// A running gateway with its own Redis, snapshot directory and audit log.
pub struct Gw {
    pub base: String,
    pub redis: RedisServer,
    pub dir: tempfile::TempDir,
    pub snap: PathBuf,
    pub audit: PathBuf,
    /// The configuration file (for the CLI's operator commands).
    pub config: PathBuf,
    pub gw: Shared,
    pub http: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

/// Options for a gateway under test.
#[derive(Default)]
pub struct Opts {
    /// Build no snapshot (index not loaded).
    pub no_snapshot: bool,
    /// Publish the CRLs this long ago (hours) with this validity; default: now, 48 h.
    pub crl_age_hours: Option<(i64, u32)>,
    /// J-LIS base URL.
    pub jlis: Option<String>,
    /// Lines of a `[server.tls]` table (HTTPS; `base` is then `https://`).
    pub tls: Option<String>,
    /// Extra lines in bank-a's and bank-b's `[[sp]]` tables.
    pub sp_extra: [String; 2],
    /// Extra lines in the `[index]` table (e.g. `crl_dp_partitions`).
    pub index_extra: String,
    /// Lines of an `[upstream]` table (J-LIS's OCSP responder for live checks).
    pub upstream: Option<String>,
}

pub async fn start(opts: Opts) -> Gw {
    let s = sim();
    let redis = tokio::task::spawn_blocking(RedisServer::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshots");
    std::fs::create_dir_all(&snap).unwrap();
    if !opts.no_snapshot {
        let (age, hours) = opts.crl_age_hours.unwrap_or((0, 48));
        let at = now() - time::Duration::hours(age) - time::Duration::minutes(5);
        let snap2 = snap.clone();
        tokio::task::spawn_blocking(move || sim().build_snapshots(&snap2, at, hours))
            .await
            .unwrap();
    }
    let secret = dir.path().join("id.secret");
    std::fs::write(&secret, [42u8; 32]).unwrap();
    let audit = dir.path().join("audit/audit.jsonl");
    let roots: Vec<String> = PRODUCTION_CAS
        .iter()
        .map(|ca| format!("{{ path = \"{}\" }}", s.root_path(ca).display()))
        .collect();
    let all = "\"kyc\", \"login\", \"status\", \"basic_info\"";
    let revoked = format!(
        "revoked_api_key_sha256 = [\"{}\"]\n",
        pf_server::registry::hash_key(KEY_A_OLD)
    );
    let jlis = opts
        .jlis
        .map(|u| format!("[jlis]\nbase_url = \"{u}\"\ntimeout_ms = 3000\n"))
        .unwrap_or_default();
    let upstream = opts
        .upstream
        .map(|u| format!("[upstream]\n{u}\n"))
        .unwrap_or_default();
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let tls = opts
        .tls
        .map(|t| format!("[server.tls]\n{t}\n"))
        .unwrap_or_default();
    let text = format!(
        "listen = \"127.0.0.1:0\"\nworkers = 2\nsnapshot_dir = \"{}\"\naudit_log = \"{}\"\nid_secret_file = \"{}\"\n\
         {tls}[trust]\nroots = [{}]\n[redis]\nurl = \"{}\"\ntimeout_ms = 300\nprobe_interval_ms = 200\n[index]\nreload_interval_ms = 100\n{}\
         [limits]\nmax_json_bytes = 65536\nmax_bulk_json_bytes = 16777216\n[login]\nchallenge_ttl_secs = 5\n\
         [webhooks]\ndelta_stream = \"{DELTA_STREAM}\"\nblock_ms = 100\ntimeout_ms = 1000\nclaim_idle_ms = 2500\n\
         max_attempts = 4\nbackoff_initial_ms = 100\nbackoff_max_ms = 400\n{jlis}{upstream}{}{}{}{}",
        snap.display(),
        audit.display(),
        secret.display(),
        roots.join(", "),
        redis.url(),
        opts.index_extra,
        sp_toml(
            "bank-a",
            KEY_A,
            all,
            10_000.0,
            10_000,
            &format!("{revoked}{}", opts.sp_extra[0])
        ),
        sp_toml("bank-b", KEY_B, all, 10_000.0, 10_000, &opts.sp_extra[1]),
        sp_toml("bank-slow", KEY_SLOW, all, 0.5, 3, ""),
        sp_toml("bank-status", KEY_STATUS_ONLY, "\"status\"", 100.0, 100, ""),
    );
    let config = dir.path().join("sp-gateway.toml");
    std::fs::write(&config, &text).unwrap();
    let cfg = Config::from_toml(&text).unwrap();
    cfg.validate().unwrap();
    let gw: Shared = Arc::new(Gateway::build(cfg).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr, server) = sp_gateway::server::start(Arc::clone(&gw), listener).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    Gw {
        base: format!("{scheme}://{addr}"),
        redis,
        dir,
        snap,
        audit,
        config,
        gw,
        http: reqwest::Client::new(),
        handle,
    }
}

impl Gw {
    pub async fn stop(&self) {
        self.handle.stop(true).await;
        self.gw.audit.close();
    }

    /// POST JSON with a key; returns status, headers and JSON body.
    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut r = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (StatusCode, Value) {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// A KYC verification of `h` signing `data`.
    pub async fn kyc(&self, key: &str, h: &Holder, data: &[u8]) -> (StatusCode, Value) {
        let sig = sim().sign(h, data);
        self.post(
            "/v1/verifications",
            Some(key),
            &json!({"certificate": b64(&h.sign_der), "signature": b64(&sig), "data": b64(data), "hash": "sha256"}),
        )
        .await
    }

    /// `GET /metrics`, as Prometheus scrapes it.
    pub async fn metrics(&self) -> String {
        scrape(&self.http, &self.base).await
    }

    /// One sample of `/metrics` (see [`sample`]).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        sample(&self.metrics().await, series)
    }

    /// Another replica of this gateway's deployment: the same configuration (snapshot directory,
    /// Redis, id secret, SPs) with its own audit log and listener, as a second process would run.
    pub async fn replica(&self, name: &str) -> Replica {
        let mut cfg = Config::from_toml(&std::fs::read_to_string(&self.config).unwrap()).unwrap();
        cfg.audit_log = self.dir.path().join(format!("audit/{name}.jsonl"));
        cfg.validate().unwrap();
        let gw: Shared = Arc::new(Gateway::build(cfg).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (addr, server) = sp_gateway::server::start(Arc::clone(&gw), listener).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        Replica {
            base: format!("http://{addr}"),
            gw,
            http: reqwest::Client::new(),
            handle,
        }
    }

    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit).unwrap_or_default()
    }
}

/// A second gateway of a deployment (see [`Gw::replica`]); plain HTTP.
pub struct Replica {
    pub base: String,
    pub gw: Shared,
    pub http: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl Replica {
    pub async fn stop(&self) {
        self.handle.stop(true).await;
        self.gw.audit.close();
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn metrics(&self) -> String {
        scrape(&self.http, &self.base).await
    }
}

/// `GET {base}/metrics`.
pub async fn scrape(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of one sample of a Prometheus text exposition: `series` is the metric name with its
/// labels as rendered (`name{label="value"}`), or the bare name of a metric without labels.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Runs the `sp-gateway` binary with `args` (off the async threads); returns the exit code,
/// stdout and stderr.
pub async fn cli(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        // Set for sp-gateway's own tests only; other crates that share this harness do not run
        // the binary.
        let Some(exe) = option_env!("CARGO_BIN_EXE_sp-gateway") else {
            panic!("the sp-gateway binary is built for sp-gateway's own tests only");
        };
        let out = std::process::Command::new(exe)
            .args(&args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// JSON lines.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Asserts an error body: `{error: {code, message}}`.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
