//! The responder over HTTP: `openssl ocsp -url` against a running server (POST), GET with the
//! request in the path, RFC 5019 cache headers and the response cache, a snapshot swap while
//! serving, a stale partition (`tryLater`, never good), load shedding, and bad input answered with
//! the right OCSP status or HTTP status.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jlis_sim::Simulator;
use jpki::{Reason, Serial};
use ocsp_proxy::config::Config;
use ocsp_proxy::server::{OcspServer, start};
use revocation::{IndexBuilder, PartitionMeta};
use testkit::openssl::run_in;

const GOOD: u64 = 0x1001;
const REVOKED: u64 = 0x1002;
const LATER: u64 = 0x1003;
/// `OCSPResponse { responseStatus malformedRequest }` and `tryLater`.
const MALFORMED: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x01];
const TRY_LATER: &[u8] = &[0x30, 0x03, 0x0a, 0x01, 0x03];

fn openssl(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run_in(dir, args);
    assert!(ok, "openssl {args:?}:\n{text}");
    text
}

struct Env {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    sim: PathBuf,
    snap: PathBuf,
    url: String,
    server: Arc<OcspServer>,
    generation: u64,
}

impl Env {
    fn ca_pem(&self, ca: &str) -> String {
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
    fn publish(&mut self, this_update: i64, hours: i64, revoked: &[u64]) {
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
    async fn swapped(&self) {
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
    fn ask(&self, ca: &str, serial: u64, nonce: bool) -> String {
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
enum Upstream {
    /// No relay: stale answers are tryLater.
    None,
    /// The simulator's own responder (J-LIS in tests).
    Simulator,
    /// A URL nothing listens on.
    Down,
}

async fn env(max_signings: usize) -> Env {
    env_with(max_signings, Upstream::None).await.0
}

async fn env_with(max_signings: usize, upstream: Upstream) -> (Env, Arc<Simulator>) {
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

fn hash_alg(oid: &str) -> x509_cert::spki::AlgorithmIdentifierOwned {
    x509_cert::spki::AlgorithmIdentifierOwned {
        oid: der::asn1::ObjectIdentifier::new_unwrap(oid),
        parameters: None,
    }
}

async fn post(url: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/ocsp-request")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_gets_good_revoked_and_unknown_over_http() {
    let mut e = env(64).await;
    for ca in ["sign-2023", "sign-2026"] {
        for nonce in [false, true] {
            let text = e.ask(ca, GOOD, nonce);
            assert!(text.contains("Response verify OK"), "{ca} {nonce}\n{text}");
            assert!(text.contains(&format!("{GOOD:#x}: good")), "{ca} {nonce}\n{text}");
            let text = e.ask(ca, REVOKED, nonce);
            assert!(text.contains(&format!("{REVOKED:#x}: revoked")), "{ca}\n{text}");
            assert!(text.contains("Reason: keyCompromise"), "{ca}\n{text}");
        }
    }
    // An issuer we do not serve: unknown.
    openssl(
        &e.work,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "o.key",
            "-out",
            "other.pem",
            "-days",
            "1",
            "-subj",
            "/CN=Other CA",
        ],
    );
    let (_, text) = run_in(
        &e.work,
        [
            "ocsp",
            "-issuer",
            "other.pem",
            "-serial",
            "0x5",
            "-url",
            &e.url,
            "-VAfile",
            "responder.pem",
            "-no_nonce",
        ],
    );
    assert!(text.contains("0x5: unknown"), "{text}");

    // Asked again without a nonce: the same signed response, from the cache.
    assert!(
        e.ask("sign-2023", GOOD, false)
            .contains(&format!("{GOOD:#x}: good"))
    );
    // A newer snapshot is swapped in while serving: the cached good answer is not served again.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(!e.server.cache.is_empty());
    e.publish(now - 60, 48, &[REVOKED, GOOD]);
    e.swapped().await;
    let text = e.ask("sign-2023", GOOD, false);
    assert!(text.contains(&format!("{GOOD:#x}: revoked")), "{text}");

    // A stale partition: tryLater, never good.
    e.publish(now - 7200, 1, &[REVOKED, GOOD]);
    e.swapped().await;
    let text = e.ask("sign-2023", LATER, false);
    assert!(
        text.contains("trylater") || text.contains("tryLater") || text.contains("try later"),
        "{text}"
    );
    assert!(!text.contains(": good"), "{text}");
    let metrics = reqwest::get(format!("{}metrics", e.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ocsp_proxy_responses_total{source=\"cache\",status=\"successful\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_proxy_responses_total{source=\"none\",status=\"try_later\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_proxy_index_ca_stale_partitions"),
        "{metrics}"
    );
    assert_eq!(
        reqwest::get(format!("{}readyz", e.url)).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{}healthz", e.url)).await.unwrap().status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_requests_carry_rfc5019_cache_headers() {
    let e = env(64).await;
    let ca_pem = e.ca_pem("sign-2023");
    let serial = format!("{GOOD:#x}");
    openssl(
        &e.work,
        &[
            "ocsp",
            "-issuer",
            &ca_pem,
            "-serial",
            &serial,
            "-no_nonce",
            "-reqout",
            "get.der",
        ],
    );
    let der = std::fs::read(e.work.join("get.der")).unwrap();
    // Standard base64 with `/` and `+` percent-encoded, and the URL-safe form, both answered.
    let standard = base64::engine::general_purpose::STANDARD.encode(&der);
    let encoded = standard
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
    let mut bodies = Vec::new();
    for path in [encoded, url_safe, format!("ocsp/{standard}")] {
        let res = reqwest::get(format!("{}{path}", e.url)).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert_eq!(h["content-type"], "application/ocsp-response");
        let cc = h["cache-control"].to_str().unwrap();
        assert!(cc.starts_with("max-age=") && cc.contains("public"), "{cc}");
        assert!(h.contains_key("etag") && h.contains_key("last-modified") && h.contains_key("expires"));
        bodies.push(res.bytes().await.unwrap().to_vec());
    }
    // The same signed response each time (from the cache), which OpenSSL accepts.
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    std::fs::write(e.work.join("get-resp.der"), &bodies[0]).unwrap();
    let text = openssl(
        &e.work,
        &[
            "ocsp",
            "-respin",
            "get-resp.der",
            "-VAfile",
            "responder.pem",
            "-issuer",
            &ca_pem,
            "-serial",
            &serial,
            "-no_nonce",
        ],
    );
    assert!(text.contains(&format!("{serial}: good")), "{text}");
    // With a nonce: signed for this request, not cacheable.
    openssl(
        &e.work,
        &[
            "ocsp",
            "-issuer",
            &ca_pem,
            "-serial",
            &serial,
            "-nonce",
            "-reqout",
            "nonce.der",
        ],
    );
    let res = reqwest::Client::new()
        .post(&e.url)
        .body(std::fs::read(e.work.join("nonce.der")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_status_and_never_a_panic() {
    let e = env(64).await;
    assert_eq!(post(&e.url, Vec::new()).await, (200, MALFORMED.to_vec()));
    assert_eq!(post(&e.url, b"garbage".to_vec()).await, (200, MALFORMED.to_vec()));
    let ca_pem = e.ca_pem("sign-2023");
    openssl(
        &e.work,
        &[
            "ocsp",
            "-issuer",
            &ca_pem,
            "-serial",
            "0x1001",
            "-no_nonce",
            "-reqout",
            "r.der",
        ],
    );
    let der = std::fs::read(e.work.join("r.der")).unwrap();
    assert_eq!(
        post(&e.url, der[..der.len() / 2].to_vec()).await,
        (200, MALFORMED.to_vec())
    );
    // A megabyte: refused before parsing.
    assert_eq!(post(&e.url, vec![0x30; 1 << 20]).await.0, 413);
    // More CertIDs than the limit (32), and far more (10,000: over the size limit as well).
    for n in [33usize, 10_000] {
        let mut args: Vec<String> = ["ocsp", "-issuer", &ca_pem]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for i in 0..n.min(200) {
            args.push("-serial".into());
            args.push(format!("{:#x}", 0x2000 + i));
        }
        args.extend(["-no_nonce".into(), "-reqout".into(), "many.der".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(&e.work, &args);
        let mut body = std::fs::read(e.work.join("many.der")).unwrap();
        if n == 10_000 {
            body = jpki::ocsp::OcspRequest::build(
                (0..n)
                    .map(|i| {
                        jpki::ocsp::CertId::new(
                            hash_alg("1.3.14.3.2.26"),
                            &[1; 20],
                            &[2; 20],
                            Serial::from_u64(u64::try_from(i).unwrap() + 1),
                        )
                        .unwrap()
                    })
                    .collect(),
                None,
            )
            .unwrap()
            .to_der()
            .unwrap();
        }
        let (status, body) = post(&e.url, body).await;
        assert!(status == 413 || body == MALFORMED, "{n}: {status}");
    }
    // An unknown CertID hash algorithm: unknown, signed.
    let odd = jpki::ocsp::OcspRequest::build(
        vec![jpki::ocsp::CertId::new(hash_alg("1.2.3.4"), &[1; 20], &[2; 20], Serial::from_u64(1)).unwrap()],
        None,
    )
    .unwrap()
    .to_der()
    .unwrap();
    let (status, body) = post(&e.url, odd).await;
    assert_eq!(status, 200);
    let parsed = jpki::ocsp::OcspResponse::from_der(&body).unwrap();
    let basic = parsed.basic().unwrap().unwrap();
    assert!(matches!(
        basic.tbs_response_data.responses[0].cert_status,
        jpki::ocsp::CertStatus::Unknown(_)
    ));
    // Bad base64 in GET.
    let res = reqwest::get(format!("{}not*base64!", e.url)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), MALFORMED);
    // Still serving.
    assert!(e.ask("sign-2023", GOOD, false).contains(": good"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_signers_shed_load_with_try_later() {
    // No signing slot at all: every answer that needs a signature is shed at once.
    let e = env(0).await;
    let ca_pem = e.ca_pem("sign-2023");
    openssl(
        &e.work,
        &[
            "ocsp", "-issuer", &ca_pem, "-serial", "0x1001", "-nonce", "-reqout", "r.der",
        ],
    );
    let res = reqwest::Client::new()
        .post(&e.url)
        .body(std::fs::read(e.work.join("r.der")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(res.bytes().await.unwrap().to_vec(), TRY_LATER);
    let metrics = reqwest::get(format!("{}metrics", e.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ocsp_proxy_signings_shed_total 1"), "{metrics}");
}

/// A holder's signing certificate serial from the simulator (generation 2023).
fn issue(sim: &Simulator) -> Serial {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_partition_is_relayed_to_jlis_verified_and_counted() {
    let (mut e, sim) = env_with(64, Upstream::Simulator).await;
    let good = issue(&sim);
    let revoked = issue(&sim);
    let now = time::OffsetDateTime::now_utc();
    sim.revoke(
        &revoked,
        None,
        Reason::KeyCompromise,
        now - time::Duration::hours(5),
    )
    .unwrap();
    // Every partition stale: the CRL data cannot vouch, J-LIS's responder is asked.
    e.publish(now.unix_timestamp() - 7200, 1, &[]);
    e.swapped().await;
    let as_u64 = |s: Serial| u64::from_str_radix(&s.to_hex(), 16).unwrap();
    for nonce in [true, false] {
        let text = e.ask("sign-2023", as_u64(good), nonce);
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(&format!("{:#x}: good", as_u64(good))), "{text}");
    }
    let text = e.ask("sign-2023", as_u64(revoked), true);
    assert!(
        text.contains(&format!("{:#x}: revoked", as_u64(revoked))),
        "{text}"
    );
    assert!(text.contains("Reason: keyCompromise"), "{text}");
    let metrics = reqwest::get(format!("{}metrics", e.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Two certificates asked upstream; the second question about `good` came from the verified cache.
    assert!(
        metrics.contains("ocsp_proxy_relay_total{result=\"upstream\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_proxy_relay_total{result=\"cache\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_proxy_responses_total{source=\"upstream\",status=\"successful\"} 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_partition_with_jlis_down_is_try_later_never_good() {
    let (mut e, _) = env_with(64, Upstream::Down).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    e.publish(now - 7200, 1, &[]);
    e.swapped().await;
    let text = e.ask("sign-2023", GOOD, true);
    assert!(text.to_lowercase().contains("trylater"), "{text}");
    assert!(!text.contains(": good"), "{text}");
    let metrics = reqwest::get(format!("{}metrics", e.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ocsp_proxy_relay_total{result=\"OCSP_UPSTREAM_UNREACHABLE\"} 1"),
        "{metrics}"
    );
}

/// Python's `cryptography` reads our responses (good, revoked, unknown issuer) and verifies their
/// signature with the responder's key: an implementation we did not write, besides OpenSSL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cryptography_loads_and_verifies_our_responses() {
    let e = env(64).await;
    let ca_pem = e.ca_pem("sign-2026");
    for (serial, expected) in [(GOOD, "GOOD"), (REVOKED, "REVOKED")] {
        let serial = format!("{serial:#x}");
        openssl(
            &e.work,
            &[
                "ocsp",
                "-issuer",
                &ca_pem,
                "-serial",
                &serial,
                "-nonce",
                "-reqout",
                "py-req.der",
            ],
        );
        let (status, body) = post(&e.url, std::fs::read(e.work.join("py-req.der")).unwrap()).await;
        assert_eq!(status, 200);
        std::fs::write(e.work.join("py-resp.der"), &body).unwrap();
        let script = r#"
import sys
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.hazmat.primitives.asymmetric import ec
r = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, r.response_status
cert = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
cert.public_key().verify(r.signature, r.tbs_response_bytes, ec.ECDSA(r.signature_hash_algorithm))
assert r.next_update_utc is not None and r.this_update_utc <= r.next_update_utc
print(r.certificate_status.name, hex(r.serial_number))
"#;
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(e.work.join("py-resp.der"))
            .arg(e.work.join("responder.pem"))
            .output()
            .expect("python3");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "python cryptography refused it:\n{text}");
        assert!(text.starts_with(&format!("{expected} {serial}")), "{text}");
    }
}
