//! Every bad input gets `{error: {code, message}}` with a stable code: malformed JSON, bad base64,
//! oversize bodies, unknown fields, wrong content type, missing/invalid/revoked keys, a purpose
//! the SP may not use, unknown routes and methods, rate-limit bursts and bulk sizes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Gw, KEY_A, KEY_A_OLD, KEY_SLOW, KEY_STATUS_ONLY, assert_error, b64, sim, start};

async fn raw(gw: &Gw, path: &str, key: Option<&str>, ct: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut r = gw.http.post(format!("{}{path}", gw.base)).body(body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    let resp = r.send().await.unwrap();
    let st = resp.status();
    (st, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let json_ct = Some("application/json");
    let v = "/v1/verifications";

    let (st, e) = raw(&gw, v, Some(KEY_A), json_ct, b"{\"certificate\": ".to_vec()).await;
    assert_error(st, &e, 400, "MALFORMED_JSON");
    let (st, e) = raw(&gw, v, Some(KEY_A), json_ct, b"not json at all".to_vec()).await;
    assert_error(st, &e, 400, "MALFORMED_JSON");
    let (st, e) = raw(&gw, v, Some(KEY_A), json_ct, Vec::new()).await;
    assert_error(st, &e, 400, "MALFORMED_JSON");
    let (st, e) = raw(&gw, v, Some(KEY_A), json_ct, b"[1,2,3]".to_vec()).await;
    assert_error(st, &e, 400, "INVALID_REQUEST");

    let sig = s.sign(&h, b"d");
    let good = json!({"certificate": b64(&h.sign_der), "signature": b64(&sig), "data": b64(b"d")});
    let mut extra = good.clone();
    extra["name"] = json!("Taro");
    let (st, e) = gw.post(v, Some(KEY_A), &extra).await;
    assert_error(st, &e, 400, "UNKNOWN_FIELD");
    assert!(e["error"]["message"].as_str().unwrap().contains("name"));

    let mut bad = good.clone();
    bad["signature"] = json!("not*base64!");
    let (st, e) = gw.post(v, Some(KEY_A), &bad).await;
    assert_error(st, &e, 400, "INVALID_BASE64");
    assert!(e["error"]["message"].as_str().unwrap().contains("signature"));
    let mut bad = good.clone();
    bad["certificate"] = json!("@@@@");
    let (st, e) = gw.post(v, Some(KEY_A), &bad).await;
    assert_error(st, &e, 400, "INVALID_BASE64");

    let mut bad = good.clone();
    bad["signature"] = json!(42);
    let (st, e) = gw.post(v, Some(KEY_A), &bad).await;
    assert_error(st, &e, 400, "INVALID_REQUEST");
    let (st, e) = gw
        .post(v, Some(KEY_A), &json!({"certificate": b64(&h.sign_der)}))
        .await;
    assert_error(st, &e, 400, "INVALID_REQUEST");
    let mut both = good.clone();
    both["digest"] = json!(b64(&[0u8; 32]));
    let (st, e) = gw.post(v, Some(KEY_A), &both).await;
    assert_error(st, &e, 400, "INVALID_REQUEST");
    let mut sha1 = good.clone();
    sha1["hash"] = json!("md4");
    let (st, e) = gw.post(v, Some(KEY_A), &sha1).await;
    assert_error(st, &e, 400, "INVALID_REQUEST");

    // Garbage that is valid base64 is judged, not refused: MALFORMED_INPUT, 200.
    let mut junk = good.clone();
    junk["certificate"] = json!(b64(b"definitely not DER"));
    let (st, r) = gw.post(v, Some(KEY_A), &junk).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["verdict"], "invalid");
    assert_eq!(r["reason"], "MALFORMED_INPUT");

    // Wrong content types.
    let body = serde_json::to_vec(&good).unwrap();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (st, e) = raw(&gw, v, Some(KEY_A), ct, body.clone()).await;
        assert_error(st, &e, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    let (st, r) = raw(&gw, v, Some(KEY_A), Some("application/json; charset=utf-8"), body).await;
    assert_eq!(st, 200, "{r}");

    // Oversize: announced, and streamed without a length.
    let big = vec![b' '; 70_000];
    let (st, e) = raw(&gw, v, Some(KEY_A), json_ct, big.clone()).await;
    assert_error(st, &e, 413, "PAYLOAD_TOO_LARGE");
    let stream = futures_util::stream::iter((0..70).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let resp = gw
        .http
        .post(format!("{}{v}", gw.base))
        .bearer_auth(KEY_A)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let st = resp.status();
    assert_error(st, &resp.json().await.unwrap(), 413, "PAYLOAD_TOO_LARGE");

    // Status: unknown field, empty, too many items, bad serial.
    let s_ = "/v1/certificate-status";
    let (st, e) = gw
        .post(s_, Some(KEY_A), &json!({"ids": [], "fingerprints": []}))
        .await;
    assert_error(st, &e, 400, "UNKNOWN_FIELD");
    let (st, e) = gw.post(s_, Some(KEY_A), &json!({})).await;
    assert_error(st, &e, 400, "INVALID_REQUEST");
    let (st, e) = gw.post(s_, Some(KEY_A), &json!({"serials": ["xyz"]})).await;
    assert_error(st, &e, 400, "INVALID_REQUEST");
    let ids: Vec<String> = (0..100_001).map(|i| format!("{i:x}")).collect();
    let (st, e) = gw.post(s_, Some(KEY_A), &json!({ "serials": ids })).await;
    assert_error(st, &e, 413, "PAYLOAD_TOO_LARGE");

    // Logins: a challenge that is not one.
    let (st, e) = gw
        .post(
            "/v1/logins",
            Some(KEY_A),
            &json!({"challenge": "short", "certificate": b64(&h.auth_der), "signature": b64(b"x")}),
        )
        .await;
    assert_error(st, &e, 400, "INVALID_CHALLENGE");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_purposes_routes_and_methods() {
    let gw = start(Default::default()).await;
    let body = json!({"serials": ["01"]});
    let p = "/v1/certificate-status";
    let (st, e) = gw.post(p, None, &body).await;
    assert_error(st, &e, 401, "UNAUTHENTICATED");
    let (st, e) = gw.post(p, Some("sk_wrong"), &body).await;
    assert_error(st, &e, 401, "UNAUTHENTICATED");
    let (st, e) = gw.post(p, Some(KEY_A_OLD), &body).await;
    assert_error(st, &e, 401, "UNAUTHENTICATED");
    let resp = gw
        .http
        .post(format!("{}{p}", gw.base))
        .header("authorization", format!("Basic {KEY_A}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    // A status-only SP may not run KYC.
    let (st, e) = gw
        .post("/v1/verifications", Some(KEY_STATUS_ONLY), &json!({}))
        .await;
    assert_error(st, &e, 403, "PURPOSE_NOT_ALLOWED");
    let (st, _) = gw.post(p, Some(KEY_STATUS_ONLY), &body).await;
    assert_eq!(st, 200);
    // Unknown route, wrong method.
    let (st, e) = gw.get("/v1/nothing-here", Some(KEY_A)).await;
    assert_error(st, &e, 404, "NOT_FOUND");
    let (st, e) = gw.get("/v1/verifications", Some(KEY_A)).await;
    assert_error(st, &e, 405, "METHOD_NOT_ALLOWED");
    gw.stop().await;
    // Refusals are audited, without the key.
    let audit = gw.audit_text();
    assert!(audit.contains("\"why\":\"revoked\""), "{audit}");
    assert!(audit.contains("\"why\":\"unknown\""));
    assert!(audit.contains("\"why\":\"missing\""));
    assert!(audit.contains("\"why\":\"purpose_not_allowed\""));
    assert!(!audit.contains(KEY_A_OLD) && !audit.contains("sk_wrong"));
    assert!(sp_gateway::audit::verify(&gw.audit).unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_burst_and_bulk_size() {
    let gw = start(Default::default()).await;
    let body = json!({"serials": ["01"]});
    let p = "/v1/certificate-status";
    // bank-slow: burst 3, then one request every 2 s.
    for _ in 0..3 {
        let (st, r) = gw.post(p, Some(KEY_SLOW), &body).await;
        assert_eq!(st, 200, "{r}");
    }
    let resp = gw
        .http
        .post(format!("{}{p}", gw.base))
        .bearer_auth(KEY_SLOW)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        &resp.json().await.unwrap(),
        429,
        "RATE_LIMITED",
    );
    // Other SPs are not affected.
    let (st, _) = gw.post(p, Some(KEY_A), &body).await;
    assert_eq!(st, 200);
    // A bulk request counts by its size: 60,000 items pass, 60,000 more exceed the item burst
    // of 100,000, one more item still fits.
    let serials: Vec<String> = (1..=60_000u32).map(|i| format!("{i:x}")).collect();
    let bulk = json!({ "serials": serials });
    let (st, r) = gw.post(p, Some(KEY_A), &bulk).await;
    assert_eq!(st, 200);
    assert_eq!(r["count"], 60_000);
    let (st, e) = gw.post(p, Some(KEY_A), &bulk).await;
    assert_error(st, &e, 429, "RATE_LIMITED");
    let (st, _) = gw.post(p, Some(KEY_A), &body).await;
    assert_eq!(st, 200);
    gw.stop().await;
    let m = gw.gw.metrics.render();
    assert!(
        m.contains("sp_gateway_rate_limited_total{sp=\"bank-slow\"} 1"),
        "{m}"
    );
}
