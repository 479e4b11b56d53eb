//! The 4-info relay against the simulator's J-LIS service: consent, move (new signing
//! certificate), latest 4 info relayed and never kept, the user id carried over to the new
//! certificate, withdrawal, isolation; and the webhook setting.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::json;
use support::{KEY_A, KEY_B, Opts, assert_error, now, sim, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_move_relay_and_stable_user_id() {
    let s = sim();
    let h = s.issue("2023", false);
    let (addr, server) = jlis_sim::serve::start(s.sim.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let jlis_handle = server.handle();
    tokio::spawn(server);
    let gw = start(Opts {
        jlis: Some(format!("http://{addr}")),
        ..Default::default()
    })
    .await;
    let (_, v) = gw.kyc(KEY_A, &h, b"onboarding").await;
    let vid = v["id"].as_str().unwrap().to_owned();
    let uid = v["user_id"].as_str().unwrap().to_owned();
    let old_serial = v["certificate"]["serial"].as_str().unwrap().to_owned();

    let (st, c) = gw
        .post(
            "/v1/consents",
            Some(KEY_A),
            &json!({"verification_id": vid, "holder": h.id}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["status"], "active");
    assert_eq!(c["user_id"], uid.as_str());
    assert_eq!(c["serial"], old_serial.as_str());
    let cid = c["id"].as_str().unwrap().to_owned();
    let (st, _) = gw.get(&format!("/v1/consents/{cid}"), Some(KEY_A)).await;
    assert_eq!(st, 200);
    let (st, e) = gw.get(&format!("/v1/consents/{cid}"), Some(KEY_B)).await;
    assert_error(st, &e, 404, "NOT_FOUND");
    let (st, e) = gw
        .get(&format!("/v1/consents/{cid}/basic-info"), Some(KEY_B))
        .await;
    assert_error(st, &e, 404, "NOT_FOUND");
    // B cannot consent on A's verification.
    let (st, e) = gw
        .post(
            "/v1/consents",
            Some(KEY_B),
            &json!({"verification_id": vid, "holder": h.id}),
        )
        .await;
    assert_error(st, &e, 404, "NOT_FOUND");
    let (_, list) = gw.get("/v1/consents", Some(KEY_A)).await;
    assert_eq!(list["consents"].as_array().unwrap().len(), 1);

    // Nothing changed yet: J-LIS's answer is relayed with its code.
    let (st, e) = gw
        .get(&format!("/v1/consents/{cid}/basic-info"), Some(KEY_A))
        .await;
    assert_error(st, &e, 409, "NO_CHANGE");

    // The holder moves: J-LIS revokes the old certificate and issues a new one.
    let new_address = "大阪府大阪市北区中之島１丁目３番２０号";
    let moved = s
        .sim
        .move_holder(&h.id, new_address, None, now() - time::Duration::minutes(1))
        .unwrap();
    let (st, info) = gw
        .get(&format!("/v1/consents/{cid}/basic-info"), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["serial"], moved.new.serial.to_hex());
    assert_eq!(info["previous_serial"], old_serial.as_str());
    assert_eq!(info["user_id"], uid.as_str());
    assert_eq!(info["basic_info"]["address"], new_address);

    // The user verifies with the new certificate: same user id.
    let new_holder = support::Holder {
        id: h.id.clone(),
        sign_der: s
            .sim
            .holder_certificate_der(&h.id, jpki::CertKind::Signing)
            .unwrap(),
        auth_der: h.auth_der.clone(),
    };
    let (_, v2) = gw.kyc(KEY_A, &new_holder, b"re-KYC").await;
    assert_eq!(v2["verdict"], "valid", "{v2}");
    assert_eq!(v2["certificate"]["serial"], moved.new.serial.to_hex());
    assert_eq!(v2["user_id"], uid.as_str());
    // The user's status now follows the new certificate.
    let (_, r) = gw
        .post("/v1/certificate-status", Some(KEY_A), &json!({"user_ids": [uid]}))
        .await;
    assert_eq!(r["results"][0]["serial"], moved.new.serial.to_hex());

    // Withdraw: then the relay refuses.
    let resp = gw
        .http
        .delete(format!("{}/v1/consents/{cid}", gw.base))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "withdrawn");
    let (st, e) = gw
        .get(&format!("/v1/consents/{cid}/basic-info"), Some(KEY_A))
        .await;
    assert_error(st, &e, 410, "CONSENT_WITHDRAWN");

    // Webhook: set, read back without the secret; bad URL refused.
    let secret = "whsec_0123456789abcdef0123456789abcdef";
    let resp = gw
        .http
        .put(format!("{}/v1/webhook", gw.base))
        .bearer_auth(KEY_A)
        .json(&json!({"url": "https://bank-a.example/jpki-events", "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (st, w) = gw.get("/v1/webhook", Some(KEY_A)).await;
    assert_eq!(st, 200);
    assert_eq!(w["url"], "https://bank-a.example/jpki-events");
    assert!(!w.to_string().contains(secret));
    let resp = gw
        .http
        .put(format!("{}/v1/webhook", gw.base))
        .bearer_auth(KEY_A)
        .json(&json!({"url": "ftp://x", "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (st, _) = gw.get("/v1/webhook", Some(KEY_B)).await;
    assert_eq!(st, 404);

    gw.stop().await;
    jlis_handle.stop(true).await;
    let audit = gw.audit_text();
    assert!(audit.contains("\"event\":\"basic_info_relay\""));
    assert!(audit.contains("\"event\":\"consent_created\""));
    assert!(audit.contains("\"event\":\"consent_withdrawn\""));
    assert!(!audit.contains("中之島"), "4 info in the audit log");
    assert!(!audit.contains(secret));
    assert!(sp_gateway::audit::verify(&gw.audit).unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_without_jlis_is_unavailable() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let (_, v) = gw.kyc(KEY_A, &h, b"x").await;
    let (st, e) = gw
        .post(
            "/v1/consents",
            Some(KEY_A),
            &json!({"verification_id": v["id"], "holder": h.id}),
        )
        .await;
    assert_error(st, &e, 503, "UPSTREAM_UNAVAILABLE");
    gw.stop().await;
}
