//! Login: single-use challenges (replayed, unknown and expired nonces refused), the auth
//! certificate linked to the KYC user, and isolation of challenges between SPs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support::{Gw, Holder, KEY_A, KEY_B, KEY_STATUS_ONLY, assert_error, b64, sim, start};

async fn challenge(gw: &Gw, key: &str) -> String {
    let (st, c) = gw.post("/v1/challenges", Some(key), &json!({})).await;
    assert_eq!(st, 201, "{c}");
    assert!(c["expires_at"].as_str().is_some());
    c["challenge"].as_str().unwrap().to_owned()
}

fn sign(h: &Holder, nonce: &str) -> Vec<u8> {
    let raw = URL_SAFE_NO_PAD.decode(nonce).unwrap();
    sim().sim.sign_challenge(&h.id, &raw).unwrap()
}

async fn login(gw: &Gw, key: &str, h: &Holder, nonce: &str, sig: &[u8], link: Option<&str>) -> (u16, Value) {
    let mut body = json!({"challenge": nonce, "certificate": b64(&h.auth_der), "signature": b64(sig)});
    if let Some(l) = link {
        body["link_user_id"] = json!(l);
    }
    let (st, v) = gw.post("/v1/logins", Some(key), &body).await;
    (st.as_u16(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_links_to_the_kyc_user_and_nonces_are_single_use() {
    let s = sim();
    let h = s.issue("2023", false);
    let ec = s.issue("2026", false);
    let gw = start(Default::default()).await;
    let (_, kyc) = gw.kyc(KEY_A, &h, b"onboarding").await;
    let kyc_user = kyc["user_id"].as_str().unwrap().to_owned();

    // First login with the auth certificate, linked to the KYC user by the SP.
    let n = challenge(&gw, KEY_A).await;
    let sig = sign(&h, &n);
    let (st, v) = login(&gw, KEY_A, &h, &n, &sig, Some(&kyc_user)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["user_id"], kyc_user.as_str());
    assert_eq!(v["new_user"], false);
    assert_eq!(v["certificate"]["kind"], "auth");
    assert_eq!(v["revocation"]["check_method"], "crl");
    assert!(v.get("basic_info").is_none());

    // The same signed nonce again: refused.
    let (st, e) = login(&gw, KEY_A, &h, &n, &sig, None).await;
    assert_eq!(st, 400);
    assert_eq!(e["error"]["code"], "INVALID_CHALLENGE");

    // Next login: no link needed, same user.
    let n = challenge(&gw, KEY_A).await;
    let (st, v) = login(&gw, KEY_A, &h, &n, &sign(&h, &n), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["user_id"], kyc_user.as_str());

    // Linking it elsewhere is a conflict; a user that does not exist is not found.
    let n = challenge(&gw, KEY_A).await;
    let (st, e) = login(&gw, KEY_A, &h, &n, &sign(&h, &n), Some("usr_someone_else")).await;
    assert_eq!(st, 409, "{e}");

    // The status of a user now follows the signing certificate, with the auth one behind it.
    let (_, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"user_ids": [kyc_user]}),
        )
        .await;
    assert_eq!(r["results"][0]["status"], "good", "{r}");
    assert_eq!(r["results"][0]["serial"], kyc["certificate"]["serial"]);

    // An ECDSA P-384 holder logs in as a new user.
    let n = challenge(&gw, KEY_A).await;
    let (st, v) = login(&gw, KEY_A, &ec, &n, &sign(&ec, &n), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["new_user"], true);
    assert_ne!(v["user_id"], kyc_user.as_str());

    // A wrong signature burns the nonce and is invalid.
    let n = challenge(&gw, KEY_A).await;
    let other = challenge(&gw, KEY_A).await;
    let (st, v) = login(&gw, KEY_A, &h, &n, &sign(&h, &other), None).await;
    assert_eq!(st, 200);
    assert_eq!(v["reason"], "SIG_CRYPTO_FAILURE");
    assert!(v["user_id"].is_null());
    let (st, _) = login(&gw, KEY_A, &h, &n, &sign(&h, &n), None).await;
    assert_eq!(st, 400);

    // A challenge issued to SP A is unknown to SP B.
    let n = challenge(&gw, KEY_A).await;
    let (st, e) = login(&gw, KEY_B, &h, &n, &sign(&h, &n), None).await;
    assert_eq!(st, 400, "{e}");
    // A signing certificate does not log in.
    let n = challenge(&gw, KEY_A).await;
    let raw = URL_SAFE_NO_PAD.decode(&n).unwrap();
    let sig = s.sim.sign_data(&h.id, &raw, jlis_sim::HashAlg::Sha256).unwrap();
    let (_, v) = gw
        .post(
            "/v1/logins",
            Some(KEY_A),
            &json!({"challenge": n, "certificate": b64(&h.sign_der), "signature": b64(&sig)}),
        )
        .await;
    assert_eq!(v["reason"], "POLICY_MISMATCH", "{v}");
    // Purpose: a status-only SP gets no challenge.
    let (st, e) = gw.post("/v1/challenges", Some(KEY_STATUS_ONLY), &json!({})).await;
    assert_error(st, &e, 403, "PURPOSE_NOT_ALLOWED");
    gw.stop().await;
    assert!(gw.audit_text().contains("\"event\":\"login_refused\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_challenge_is_refused() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let n = challenge(&gw, KEY_A).await;
    let sig = sign(&h, &n);
    // The test configuration's TTL is 5 s.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let (st, e) = login(&gw, KEY_A, &h, &n, &sig, None).await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error"]["code"], "INVALID_CHALLENGE");
    gw.stop().await;
}
