//! The HTTP services: CRLs, OCSP (checked with `openssl ocsp`) and 4-info provision.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine;
use jlis_sim::serve::{ServeOptions, start, start_with};
use jlis_sim::{IssueRequest, PersonInput, Simulator};
use jpki::ocsp::{CertStatus, OcspResponse, ResponseStatus};
use serde_json::{Value, json};
use time::OffsetDateTime;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jlis-sim-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn issue(sim: &Simulator, at: OffsetDateTime) -> jlis_sim::Issued {
    issue_gen(sim, at, None)
}

fn issue_gen(sim: &Simulator, at: OffsetDateTime, generation: Option<&str>) -> jlis_sim::Issued {
    sim.issue(&IssueRequest {
        generation: generation.map(str::to_owned),
        smartphone: false,
        test: false,
        person: PersonInput::default(),
        at,
    })
    .unwrap()
}

fn sim_bin(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_jlis-sim"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `openssl ocsp` against the responder; returns stdout + stderr.
fn openssl_ocsp(dir: &Path, cert: &Path, url: &str) -> String {
    openssl_ocsp_ca(dir, "sign-2023", cert, url)
}

fn openssl_ocsp_ca(dir: &Path, ca: &str, cert: &Path, url: &str) -> String {
    let root = dir.join(format!("ca/{ca}/root.pem"));
    let out = Command::new("openssl")
        .arg("ocsp")
        .arg("-issuer")
        .arg(&root)
        .arg("-cert")
        .arg(cert)
        .arg("-url")
        .arg(url)
        .arg("-CAfile")
        .arg(&root)
        .arg("-resp_text")
        .output()
        .unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_ocsp_and_4info() {
    let dir = fresh_dir("main");
    let now = OffsetDateTime::now_utc();
    let (sim, _) = Simulator::init(&dir, "serve", now, false).unwrap();
    let alice = issue(&sim, now);
    let bob = issue(&sim, now);
    let carol = issue_gen(&sim, now, Some("2026"));
    sim.publish_crls(now, 48).unwrap();
    let sim = Arc::new(sim);
    let (addr, server) = start(sim.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    // Health.
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // CRLs: 200, then 304 with the ETag; index; traversal and unknown are 404.
    let rec = sim.certificate_by_serial(&alice.sign.serial).unwrap();
    let url = format!("{base}/crl/{}/{}.crl", rec.ca, rec.municipality);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pkix-crl");
    assert!(r.headers().contains_key("last-modified"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body = r.bytes().await.unwrap();
    let file = std::fs::read(dir.join(format!("crl/{}/{}.crl", rec.ca, rec.municipality))).unwrap();
    assert_eq!(body.as_ref(), file.as_slice());
    assert_eq!(etag, format!("\"{}\"", hex::encode(openssl::sha::sha256(&file))));
    let r = http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let lm = r.headers()["last-modified"].to_str().unwrap().to_owned();
    let r = http
        .get(&url)
        .header("If-Modified-Since", &lm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = http
        .get(&url)
        .header("If-None-Match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for bad in [
        "/crl/sign-2023/999999.crl",
        "/crl/nope/131016.crl",
        "/crl/..%2F..%2Fstate.json/131016.crl",
        "/crl/sign-2023/..%2F..%2Fstate.json",
    ] {
        let r = http.get(format!("{base}{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let idx: Value = http
        .get(format!("{base}/crl/index.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        idx["partitions"].as_array().unwrap().iter().any(|p| p["url"]
            == format!("/crl/{}/{}.crl", rec.ca, rec.municipality)
            && p["published"] == true)
    );

    // OCSP with openssl: good, then revoked after a CLI revoke.
    let ocsp_url = format!("{base}/ocsp");
    let cert_path = sim.path(&rec.cert_path);
    let text = openssl_ocsp(&dir, &cert_path, &ocsp_url);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": good"), "{text}");
    assert!(text.contains("Next Update"), "{text}");
    let serial_hex = alice.sign.serial.to_hex();
    let dir_s = dir.to_str().unwrap();
    sim_bin(&[
        "revoke",
        "--dir",
        dir_s,
        "--serial",
        &serial_hex,
        "--reason",
        "keyCompromise",
    ]);
    let text = openssl_ocsp(&dir, &cert_path, &ocsp_url);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": revoked"), "{text}");
    assert!(text.contains("Reason: keyCompromise"), "{text}");

    // The ECDSA P-384 generation: ecdsa-with-SHA384 responder.
    let carol_cert = sim.path(&sim.certificate_by_serial(&carol.sign.serial).unwrap().cert_path);
    let text = openssl_ocsp_ca(&dir, "sign-2026", &carol_cert, &ocsp_url);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": good"), "{text}");
    assert!(text.contains("ecdsa-with-SHA384"), "{text}");

    // Two issuers in one request: the first chooses the responder, the other is unknown.
    let out = Command::new("openssl")
        .args(["ocsp", "-issuer"])
        .arg(dir.join("ca/sign-2023/root.pem"))
        .arg("-cert")
        .arg(&cert_path)
        .arg("-issuer")
        .arg(dir.join("ca/sign-2026/root.pem"))
        .arg("-cert")
        .arg(&carol_cert)
        .arg("-url")
        .arg(&ocsp_url)
        .arg("-CAfile")
        .arg(dir.join("ca/sign-2023/root.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(": revoked"), "{text}");
    assert!(text.contains(": unknown"), "{text}");

    // GET form, URL-safe base64 of a request openssl wrote.
    let req_path = dir.join("req.der");
    let out = Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(dir.join("ca/sign-2023/root.pem"))
        .arg("-cert")
        .arg(sim.path(&sim.certificate_by_serial(&bob.sign.serial).unwrap().cert_path))
        .arg("-reqout")
        .arg(&req_path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let req_der = std::fs::read(&req_path).unwrap();
    for enc in [
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&req_der),
        base64::engine::general_purpose::STANDARD
            .encode(&req_der)
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D"),
    ] {
        let r = http.get(format!("{ocsp_url}/{enc}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/ocsp-response");
        let resp = OcspResponse::from_der(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(resp.response_status, ResponseStatus::Successful);
        let basic = resp.basic().unwrap().unwrap();
        assert!(matches!(
            basic.tbs_response_data.responses[0].cert_status,
            CertStatus::Good(_)
        ));
    }

    // Garbage → malformedRequest.
    for r in [
        http.post(&ocsp_url)
            .header("Content-Type", "application/ocsp-request")
            .body(b"not DER at all".to_vec()),
        http.get(format!("{ocsp_url}/!!!")),
    ] {
        let r = r.send().await.unwrap();
        let resp = OcspResponse::from_der(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(resp.response_status, ResponseStatus::MalformedRequest);
    }

    // 4-info provision.
    let r = http
        .post(format!("{base}/4info/v1/consents"))
        .json(&json!({"sp_id": "sp-1", "holder": "H999999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "UNKNOWN_HOLDER"
    );
    let r = http
        .post(format!("{base}/4info/v1/consents"))
        .json(&json!({"sp_id": "sp-1", "holder": bob.holder}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let consent: Value = r.json().await.unwrap();
    let cid = consent["consent_id"].as_str().unwrap().to_owned();
    assert_eq!(consent["holder"], bob.holder.as_str());
    assert!(consent["expires_at"].as_str().unwrap() > consent["created_at"].as_str().unwrap());

    let provide = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/4info/v1/provisions");
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let bob_old = bob.sign.serial.to_hex();
    let (s, v) = provide(json!({"consent_id": cid, "serial": bob_old})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("NO_CHANGE")));
    let (s, v) = provide(json!({"consent_id": cid, "serial": serial_hex})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("CONSENT_MISMATCH")));
    let (s, v) = provide(json!({"consent_id": "C999999", "serial": bob_old})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("UNKNOWN_CONSENT")));
    let (s, v) = provide(json!({"consent_id": cid, "serial": "7fffffff"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("UNKNOWN_SERIAL")));
    let r = http
        .post(format!("{base}/4info/v1/provisions"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "BAD_REQUEST");

    let new_address = "大阪府大阪市北区中之島１丁目３番２０号";
    let moved = sim_bin(&[
        "move",
        "--dir",
        dir_s,
        "--holder",
        &bob.holder,
        "--address",
        new_address,
    ]);
    let (s, v) = provide(json!({"consent_id": cid, "serial": bob_old})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["serial"], moved["new"]["serial"]);
    assert_eq!(v["basic_info"]["address"], new_address);
    assert!(v["issued_at"].is_string());

    let r = http
        .delete(format!("{base}/4info/v1/consents/{cid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .delete(format!("{base}/4info/v1/consents/C999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (s, v) = provide(json!({"consent_id": cid, "serial": bob_old})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (410, Some("CONSENT_WITHDRAWN")));

    // A second server with a PF token: /4info needs the bearer token, the rest does not.
    let opts = ServeOptions {
        pf_token: Some("s3cret".into()),
        workers: Some(1),
    };
    let (addr2, server2) = start_with(sim.clone(), "127.0.0.1:0".parse().unwrap(), opts).unwrap();
    let handle2 = server2.handle();
    tokio::spawn(server2);
    let consents = format!("http://{addr2}/4info/v1/consents");
    let body = json!({"sp_id": "sp-2", "holder": alice.holder});
    let r = http.post(&consents).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&consents)
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&consents)
        .bearer_auth("s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http.get(format!("http://{addr2}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    assert!(start(sim.clone(), "0.0.0.0:0".parse().unwrap()).is_err());
    handle.stop(true).await;
    handle2.stop(true).await;
    let _ = std::fs::remove_dir_all(&dir);
}
