//! Live status checks at J-LIS's OCSP responder (the simulator's real responder, `jlis-sim
//! serve`): `"live": true` answers from a verified OCSP answer (a revocation the CRL index has not
//! seen yet included), a responder that is down answers `unknown` / `TRY_LATER` and never `good`,
//! no `[upstream]` refuses `live` with `LIVE_CHECK_NOT_CONFIGURED`, `relay_stale` turns a stale
//! partition's `unknown` into the OCSP answer, and the OCSP checks are metered apart from the CRL
//! ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::net::TcpListener;
use std::time::Duration;

use jpki::{Reason, Serial};
use serde_json::{Value, json};
use support::{Gw, Holder, KEY_A, Opts, assert_error, json_lines, now, sample, sim, start};

/// Starts the simulator's HTTP server (its OCSP responder) in this test's runtime; returns the
/// OCSP URL.
fn jlis_ocsp() -> String {
    let (addr, server) = jlis_sim::serve::start(sim().sim.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
    tokio::spawn(server);
    format!("http://{addr}/ocsp")
}

/// A URL where nothing listens.
fn nothing_listening() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/ocsp")
}

fn upstream(url: &str, extra: &str) -> Option<String> {
    Some(format!("url = \"{url}\"\ntimeout_ms = 2000\n{extra}"))
}

/// KYC-registers `h` under bank-a; returns the verification id and the serial (hex).
async fn register(gw: &Gw, h: &Holder) -> (String, String) {
    let (st, v) = gw.kyc(KEY_A, h, b"account opening").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["verdict"], "valid", "{v}");
    (
        v["id"].as_str().unwrap().to_owned(),
        v["certificate"]["serial"].as_str().unwrap().to_owned(),
    )
}

async fn status(gw: &Gw, body: Value) -> Vec<Value> {
    let (st, r) = gw.post("/v1/certificate-status", Some(KEY_A), &body).await;
    assert_eq!(st, 200, "{r}");
    r["results"].as_array().unwrap().clone()
}

fn checks(text: &str, method: &str, status: &str) -> f64 {
    sample(
        text,
        &format!(
            "sp_gateway_revocation_checks_total{{method=\"{method}\",purpose=\"liveness_check\",sp=\"bank-a\",status=\"{status}\"}}"
        ),
    )
    .unwrap_or(0.0)
}

fn live_checks(text: &str, source: &str) -> f64 {
    sample(
        text,
        &format!("sp_gateway_live_checks_total{{source=\"{source}\",sp=\"bank-a\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_checks_answer_from_jlis_and_are_metered_apart() {
    let s = sim();
    let alice = s.issue("2023", false);
    let bob = s.issue("2023", false);
    let gw = start(Opts {
        upstream: upstream(&jlis_ocsp(), ""),
        ..Default::default()
    })
    .await;
    let (alice_id, _) = register(&gw, &alice).await;
    let (bob_id, bob_serial) = register(&gw, &bob).await;
    // J-LIS revokes Bob; the PF's CRL index has not seen it yet.
    s.sim
        .revoke(
            &Serial::from_hex(&bob_serial).unwrap(),
            None,
            Reason::KeyCompromise,
            now() - time::Duration::minutes(10),
        )
        .unwrap();
    let ids = json!([alice_id, bob_id]);
    let from_index = status(&gw, json!({"ids": ids})).await;
    for item in &from_index {
        assert_eq!(item["status"], "good", "{item}");
        assert_eq!(item["check_method"], "crl", "{item}");
    }

    let live = status(&gw, json!({"ids": ids, "live": true})).await;
    assert_eq!(live[0]["status"], "good", "{live:?}");
    assert_eq!(live[0]["check_method"], "ocsp");
    assert!(live[0]["source_updated_at"].as_str().is_some(), "{live:?}");
    assert!(live[0]["source_next_update"].as_str().is_some(), "{live:?}");
    assert!(live[0].get("source_basis").is_none(), "{live:?}");
    assert!(live[0].get("live_error").is_none(), "{live:?}");
    assert_eq!(live[1]["status"], "revoked", "{live:?}");
    assert_eq!(live[1]["check_method"], "ocsp");
    assert_eq!(live[1]["reason"], "keyCompromise");
    assert!(live[1]["revoked_at"].as_str().is_some());
    assert_eq!(live[1]["serial"], bob_serial.as_str());

    // One id with ?live=true: the verified answer kept until its nextUpdate serves it.
    let (st, one) = gw
        .get(
            &format!("/v1/verifications/{bob_id}/status?live=true"),
            Some(KEY_A),
        )
        .await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["status"], "revoked", "{one}");
    assert_eq!(one["check_method"], "ocsp");
    assert_eq!(one["id"], bob_id.as_str());
    let (st, one) = gw
        .get(&format!("/v1/verifications/{bob_id}/status"), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["check_method"], "crl", "{one}");
    assert_eq!(one["status"], "good", "{one}");
    let (st, e) = gw
        .get(
            &format!("/v1/verifications/{bob_id}/status?live=maybe"),
            Some(KEY_A),
        )
        .await;
    assert_error(st, &e, 400, "INVALID_REQUEST");

    let m = gw.metrics().await;
    assert_eq!(checks(&m, "crl", "good"), 3.0, "{m}");
    assert_eq!(checks(&m, "ocsp", "good"), 1.0, "{m}");
    assert_eq!(checks(&m, "ocsp", "revoked"), 2.0, "{m}");
    assert_eq!(live_checks(&m, "upstream"), 2.0, "{m}");
    assert_eq!(live_checks(&m, "cache"), 1.0, "{m}");
    assert_eq!(live_checks(&m, "failed"), 0.0, "{m}");

    gw.stop().await;
    let audit = json_lines(&gw.audit_text());
    let checks: Vec<&Value> = audit.iter().filter(|l| l["event"] == "status_check").collect();
    let live_line = checks
        .iter()
        .find(|l| l["live"] == true && l["items"] == 2)
        .unwrap_or_else(|| panic!("{checks:?}"));
    assert_eq!(live_line["live_checks"], 2, "{live_line}");
    assert_eq!(live_line["check_method"], "ocsp", "{live_line}");
    assert_eq!(live_line["live_sources"]["upstream"], 2, "{live_line}");
    let text = serde_json::to_string(live_line).unwrap();
    assert!(!text.contains(&bob_serial), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_jlis_down_is_unknown_never_good() {
    let h = sim().issue("2023", false);
    let gw = start(Opts {
        upstream: upstream(&nothing_listening(), "max_live_items = 2\n"),
        ..Default::default()
    })
    .await;
    let (id, _) = register(&gw, &h).await;
    let items = status(&gw, json!({"ids": [id], "serials": ["7fffffff"], "live": true})).await;
    let item = &items[0];
    assert_eq!(item["status"], "unknown", "{item}");
    assert_eq!(item["reason_code"], "TRY_LATER");
    assert_eq!(item["check_method"], "ocsp");
    assert_eq!(item["live_error"], "OCSP_UPSTREAM_UNREACHABLE", "{item}");
    assert_eq!(items[1]["status"], "not_found");
    let (st, one) = gw
        .get(&format!("/v1/verifications/{id}/status?live=true"), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["status"], "unknown", "{one}");
    assert_eq!(one["live_error"], "OCSP_UPSTREAM_UNREACHABLE", "{one}");
    // Without live the index answers as before.
    assert_eq!(status(&gw, json!({"ids": [id]})).await[0]["status"], "good");
    // At most max_live_items items with live.
    let (st, e) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"ids": [id, id, id], "live": true}),
        )
        .await;
    assert_error(st, &e, 413, "PAYLOAD_TOO_LARGE");
    let m = gw.metrics().await;
    assert_eq!(live_checks(&m, "failed"), 2.0, "{m}");
    assert_eq!(checks(&m, "ocsp", "unknown"), 2.0, "{m}");
    assert_eq!(checks(&m, "ocsp", "good"), 0.0, "{m}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_without_upstream_is_refused() {
    let h = sim().issue("2023", false);
    let gw = start(Default::default()).await;
    let (id, _) = register(&gw, &h).await;
    let (st, e) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"ids": [id], "live": true}),
        )
        .await;
    assert_error(st, &e, 400, "LIVE_CHECK_NOT_CONFIGURED");
    let (st, e) = gw
        .get(&format!("/v1/verifications/{id}/status?live=true"), Some(KEY_A))
        .await;
    assert_error(st, &e, 400, "LIVE_CHECK_NOT_CONFIGURED");
    // `live: false` is the default.
    let items = status(&gw, json!({"ids": [id], "live": false})).await;
    assert_eq!(items[0]["check_method"], "crl");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_stale_answers_a_stale_partition_from_jlis() {
    let s = sim();
    let h = s.issue("2023", false);
    // Valid for 1 h from 5 minutes ago: fresh at registration.
    let gw = start(Opts {
        crl_age_hours: Some((0, 1)),
        upstream: upstream(&jlis_ocsp(), "relay_stale = true\n"),
        ..Default::default()
    })
    .await;
    let (id, _) = register(&gw, &h).await;
    let item = &status(&gw, json!({"ids": [id]})).await[0];
    assert_eq!(item["check_method"], "crl", "{item}");
    assert_eq!(item["status"], "good", "{item}");
    // Replace the snapshot with one that expired a minute ago (built elsewhere and copied in:
    // an older thisUpdate is a rollback the builder refuses in place).
    let stale_dir = gw.dir.path().join("stale");
    let sd = stale_dir.clone();
    tokio::task::spawn_blocking(move || sim().build_snapshots(&sd, now() - time::Duration::minutes(61), 1))
        .await
        .unwrap();
    for e in std::fs::read_dir(&gw.snap).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    for e in std::fs::read_dir(&stale_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "snap") {
            std::fs::copy(&p, gw.snap.join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut relayed = None;
    for _ in 0..100 {
        let item = status(&gw, json!({"ids": [id]})).await.remove(0);
        if item["check_method"] == "ocsp" {
            relayed = Some(item);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let item = relayed.expect("the stale partition was never relayed");
    assert_eq!(item["status"], "good", "{item}");
    assert!(item["source_next_update"].as_str().is_some(), "{item}");
    assert!(item.get("reason_code").is_none(), "{item}");
    let m = gw.metrics().await;
    assert_eq!(live_checks(&m, "upstream"), 1.0, "{m}");
    assert_eq!(checks(&m, "ocsp", "good"), 1.0, "{m}");
    gw.stop().await;
}

#[test]
fn openapi_lists_every_live_error_and_the_ocsp_method() {
    let doc: Value = serde_json::from_str(sp_gateway::routes::ops::OPENAPI).unwrap();
    let schemas = &doc["components"]["schemas"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect()
    };
    for schema in ["StatusItem", "Revocation"] {
        let props = &schemas[schema]["properties"];
        assert_eq!(
            strings(&props["live_error"]["enum"]),
            ocsp_client::OcspClientError::CODES.to_vec(),
            "{schema}"
        );
        assert!(
            strings(&props["check_method"]["enum"]).contains(&"ocsp".to_owned()),
            "{schema}"
        );
    }
    assert_eq!(schemas["StatusRequest"]["properties"]["live"]["type"], "boolean");
}
