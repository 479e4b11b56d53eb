//! Redis stopped mid-test: verifications and status checks by id keep working from the index;
//! everything that must write (or read) Redis answers 503 with nothing half-written; readiness
//! says so; after a restart everything works again with the data intact (AOF).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{KEY_A, KEY_SLOW, assert_error, sim, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_test() {
    let s = sim();
    let h = s.issue("2023", false);
    let h2 = s.issue("2023", false);
    let mut gw = start(Default::default()).await;
    let (st, v) = gw.kyc(KEY_A, &h, b"before the outage").await;
    assert_eq!(st, 200);
    let id = v["id"].as_str().unwrap().to_owned();
    let uid = v["user_id"].as_str().unwrap().to_owned();
    let (st, _) = gw.get("/readyz", None).await;
    assert_eq!(st, 200);

    let redis = &mut gw.redis;
    tokio::task::block_in_place(|| redis.stop());

    // Verification: the verdict from the index, nothing registered, no id.
    let (st, v) = gw.kyc(KEY_A, &h2, b"during the outage").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["registered"], false);
    assert!(v["id"].is_null() && v["user_id"].is_null());
    assert_eq!(v["revocation"]["status"], "good");

    // Status by id: from the sealed id and the index alone.
    let (st, r) = gw
        .post("/v1/certificate-status", Some(KEY_A), &json!({"ids": [id]}))
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["results"][0]["status"], "good");
    let (st, r) = gw
        .get(&format!("/v1/verifications/{id}/status"), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{r}");

    // What needs Redis: 503 with a stable code and Retry-After.
    let (st, e) = gw
        .post("/v1/certificate-status", Some(KEY_A), &json!({"user_ids": [uid]}))
        .await;
    assert_error(st, &e, 503, "STORE_UNAVAILABLE");
    let (st, e) = gw.post("/v1/challenges", Some(KEY_A), &json!({})).await;
    assert_error(st, &e, 503, "STORE_UNAVAILABLE");
    let (st, e) = gw.get(&format!("/v1/verifications/{id}"), Some(KEY_A)).await;
    assert_error(st, &e, 503, "STORE_UNAVAILABLE");
    let resp = gw
        .http
        .post(format!("{}/v1/challenges", gw.base))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let (st, ready) = gw.get("/readyz", None).await;
    assert_eq!(st, 503);
    assert_eq!(ready["checks"]["redis"]["ok"], false);
    assert_eq!(ready["checks"]["index"]["ok"], true);

    // Rate limits fall back to process memory: still enforced, per replica.
    let mut limited = 0;
    for _ in 0..6 {
        let (st, _) = gw
            .post("/v1/certificate-status", Some(KEY_SLOW), &json!({"ids": [id]}))
            .await;
        if st == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 2, "{limited}");

    // Back up: the data is there, and registration works again.
    let redis = &mut gw.redis;
    tokio::task::block_in_place(|| redis.restart());
    let mut ok = false;
    for _ in 0..50 {
        let (st, _) = gw.get(&format!("/v1/verifications/{id}"), Some(KEY_A)).await;
        if st == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "Redis did not come back");
    let (_, v) = gw.kyc(KEY_A, &h2, b"after the outage").await;
    assert_eq!(v["registered"], true, "{v}");
    let (_, r) = gw
        .post("/v1/certificate-status", Some(KEY_A), &json!({"user_ids": [uid]}))
        .await;
    assert_eq!(r["results"][0]["status"], "good", "{r}");
    gw.stop().await;
    assert!(sp_gateway::audit::verify(&gw.audit).unwrap().ok);
}
