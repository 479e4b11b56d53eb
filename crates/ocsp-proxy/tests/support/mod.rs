//! The responder under test, started in process on a snapshot directory, with the simulator's CAs,
//! an ECDSA P-256 responder certificate and, when asked, J-LIS's responder (the simulator's) as the
//! relay's upstream; and the clients the tests use (OpenSSL's CLI, reqwest).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jlis_sim::Simulator;
use jpki::{Reason, Serial};
use ocsp_proxy::config::Config;
use ocsp_proxy::server::{OcspServer, start};
use revocation::{IndexBuilder, PartitionMeta};
use testkit::openssl::run_in;

pub const GOOD: u64 = 0x1001;
pub const REVOKED: u64 = 0x1002;
pub const LATER: u64 = 0x1003;
/// `OCSPResponse { responseStatus malformedRequest }` and `tryLater`.
pub const MALFORMED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x01];
pub const TRY_LATER: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x03];

pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run_in(dir, args);
    assert!(ok, "openssl {args:?}:\n{text}");
    text
}

pub struct Env {
    pub _tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub sim: PathBuf,
    pub snap: PathBuf,
    pub url: String,
    pub server: Arc<OcspServer>,
    pub generation: u64,
}

impl Env {
    pub fn ca_pem(&self, ca: &str) -> String {
        self.sim
            .join("ca")
            .join(ca)
            .join("root.pem")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Writes a new snapshot generation for every served CA key: one partition from
    /// `this_update` for `hours`, listing `revoked`.
    pub fn publish(&mut self, this_update: i64, hours: i64, revoked: &[u64]) {
        self.generation += 1;
        for ca in self.server.issuers.cas() {
            let mut b = IndexBuilder::new(ca.key_id()).unwrap();
            b.add_partition(PartitionMeta {
                id: "all".into(),
                dp_name: None,
                crl_number: vec![u8::try_from(self.generation).unwrap()],
                this_update,
                next_update: this_update + hours * 3600,
                source_sha256: [0; 32],
                entries: 0,
            })
            .unwrap();
            for s in revoked {
                b.push_serial(
                    &Serial::from_u64(*s),
                    this_update - 60,
                    Some(Reason::KeyCompromise),
                    0,
                )
                .unwrap();
            }
            b.write_atomically(&self.snap, 3).unwrap();
        }
    }

    /// Waits until the server has swapped in generation `self.generation`.
    pub async fn swapped(&self) {
        for _ in 0..100 {
            let set = self.server.index.load();
            if set.is_some_and(|s| s.snapshots().all(|x| x.generation() == Some(self.generation))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("generation {} was not swapped in", self.generation);
    }

    /// `openssl ocsp` against the server (POST), trusting the responder certificate directly.
    pub fn ask(&self, ca: &str, serial: u64, nonce: bool) -> String {
        let ca_pem = self.ca_pem(ca);
        let serial = format!("{serial:#x}");
        let (_, text) = run_in(
            &self.work,
            [
                "ocsp",
                "-issuer",
                &ca_pem,
                "-serial",
                &serial,
                "-url",
                &self.url,
                "-VAfile",
                "responder.pem",
                if nonce { "-nonce" } else { "-no_nonce" },
                "-timeout",
                "10",
            ],
        );
        text
    }
}

/// Where the relay goes.
pub enum Upstream {
    /// No relay: stale answers are tryLater.
    None,
    /// The simulator's own responder (J-LIS in tests).
    Simulator,
    /// A URL nothing listens on.
    Down,
}

pub async fn env(max_signings: usize) -> Env {
    env_with(max_signings, Upstream::None).await.0
}

pub async fn env_with(max_signings: usize, upstream: Upstream) -> (Env, Arc<Simulator>) {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let now = time::OffsetDateTime::now_utc();
    let (simulator, _) =
        Simulator::init(&sim, "ocsp-proxy-server", now - time::Duration::days(30), false).unwrap();
    let simulator = Arc::new(simulator);
    let upstream = match upstream {
        Upstream::None => String::new(),
        Upstream::Simulator => {
            let (addr, http) =
                jlis_sim::serve::start(Arc::clone(&simulator), "127.0.0.1:0".parse().unwrap()).unwrap();
            tokio::spawn(http);
            format!("[upstream]\nurl = \"http://{addr}/ocsp\"\ntimeout_ms = 2000\n")
        }
        Upstream::Down => format!(
            "[upstream]\nurl = \"http://127.0.0.1:{}/ocsp\"\ntimeout_ms = 500\n",
            testkit::free_port()
        ),
    };
    let work = tmp.path().join("work");
    let snap = tmp.path().join("snap");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&snap).unwrap();
    // The PF's own responder certificate (not delegated by J-LIS): SPs trust it directly.
    openssl(
        &work,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "responder.key",
            "-out",
            "responder.pem",
            "-days",
            "30",
            "-subj",
            "/C=JP/O=JPKI-PF/CN=PF OCSP",
            "-addext",
            "extendedKeyUsage=OCSPSigning",
            "-addext",
            "keyUsage=critical,digitalSignature",
        ],
    );
    let cas: Vec<String> = ["sign-2023", "sign-2026", "auth-2023"]
        .iter()
        .map(|ca| format!("{:?}", sim.join("ca").join(ca).join("root.pem").to_str().unwrap()))
        .collect();
    let text = format!(
        "listen = \"127.0.0.1:0\"\nworkers = 1\nsnapshot_dir = {snap:?}\nca_certs = [{cas}]\n\
         [responder]\ncert = {cert:?}\nkey = {key:?}\n[index]\nreload_interval_ms = 100\n\
         [limits]\nmax_signings_in_flight = {max_signings}\n{upstream}",
        snap = snap.to_str().unwrap(),
        cas = cas.join(", "),
        cert = work.join("responder.pem").to_str().unwrap(),
        key = work.join("responder.key").to_str().unwrap(),
    );
    let config = Config::from_sources(&text, []).unwrap();
    let server = Arc::new(OcspServer::build(config).unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr, http) = start(Arc::clone(&server), listener).unwrap();
    tokio::spawn(http);
    let mut env = Env {
        _tmp: tmp,
        work,
        sim,
        snap,
        url: format!("http://{addr}/"),
        server,
        generation: 0,
    };
    env.publish(now.unix_timestamp() - 600, 48, &[REVOKED]);
    env.swapped().await;
    (env, simulator)
}

pub fn hash_alg(oid: &str) -> x509_cert::spki::AlgorithmIdentifierOwned {
    x509_cert::spki::AlgorithmIdentifierOwned {
        oid: der::asn1::ObjectIdentifier::new_unwrap(oid),
        parameters: None,
    }
}

pub async fn post(url: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/ocsp-request")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

/// A holder's signing certificate serial from the simulator (generation 2023).
pub fn issue(sim: &Simulator) -> Serial {
    sim.issue(&jlis_sim::IssueRequest {
        generation: None,
        smartphone: false,
        test: false,
        person: jlis_sim::PersonInput::default(),
        at: time::OffsetDateTime::now_utc() - time::Duration::days(1),
    })
    .unwrap()
    .sign
    .serial
}
