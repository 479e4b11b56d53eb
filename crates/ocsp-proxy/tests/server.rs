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

mod support;

use base64::Engine;
use jpki::Serial;
use support::{GOOD, LATER, MALFORMED, REVOKED, TRY_LATER, env, hash_alg, openssl, post};
use testkit::openssl::run_in;

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
