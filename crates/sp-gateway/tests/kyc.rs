//! KYC verifications end to end: registration, stable user ids, idempotency, records, status
//! checks, isolation between SPs, another hierarchy, and what the audit log holds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::{Value, json};
use support::{KEY_A, KEY_B, assert_error, b64, sim, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kyc_registers_and_status_checks_answer_from_the_index() {
    let s = sim();
    let alice = s.issue("2023", false);
    let gw = start(Default::default()).await;

    let (st, v) = gw.kyc(KEY_A, &alice, b"account opening #1").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["registered"], true);
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("vf_"));
    let uid = v["user_id"].as_str().unwrap().to_owned();
    assert!(uid.starts_with("usr_"));
    assert_eq!(v["certificate"]["kind"], "sign");
    assert!(v["certificate"]["serial"].as_str().is_some());
    assert!(v["basic_info"]["name"].as_str().is_some(), "{v}");
    assert_eq!(v["revocation"]["status"], "good");
    assert_eq!(v["revocation"]["check_method"], "crl");
    assert!(v["revocation"]["source_updated_at"].as_str().is_some());
    let serial = v["certificate"]["serial"].as_str().unwrap().to_owned();
    let name = v["basic_info"]["name"].as_str().unwrap().to_owned();

    // The same certificate again: a new verification, the same user.
    let (_, v2) = gw.kyc(KEY_A, &alice, b"account opening #2").await;
    assert_eq!(v2["user_id"], uid.as_str());
    assert_ne!(v2["id"], id.as_str());

    // The record: no 4 info, no certificate.
    let (st, rec) = gw.get(&format!("/v1/verifications/{id}"), Some(KEY_A)).await;
    assert_eq!(st, 200, "{rec}");
    assert_eq!(rec["verdict"], "valid");
    assert_eq!(rec["user_id"], uid.as_str());
    assert!(rec.get("basic_info").is_none());
    assert!(!rec.to_string().contains(&name));

    // Status by id, user id and serial.
    let (st, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"ids": [id], "user_ids": [uid], "serials": [serial]}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["count"], 3);
    for item in r["results"].as_array().unwrap() {
        assert_eq!(item["status"], "good", "{item}");
        assert_eq!(item["check_method"], "crl");
        assert_eq!(item["serial"], serial.as_str());
        assert!(item["source_updated_at"].as_str().is_some());
    }
    let (st, one) = gw
        .get(&format!("/v1/verifications/{id}/status"), Some(KEY_A))
        .await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(one["status"], "good");
    assert_eq!(one["check_method"], "crl");

    // The audit log: every action, never the 4 info, chain intact.
    gw.stop().await;
    let audit = gw.audit_text();
    assert!(audit.contains("\"event\":\"verification\""));
    assert!(audit.contains("\"event\":\"status_check\""));
    assert!(!audit.contains(&name), "4 info in the audit log");
    assert!(!audit.contains("basic_info"));
    let report = sp_gateway::audit::verify(&gw.audit).unwrap();
    assert!(report.ok, "{report:?}");
}

/// Redis's count of changes since its last save: every key or hash field written adds one.
async fn redis_changes(con: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_verification_writes_only_its_own_record() {
    let s = sim();
    let carol = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let mut con = redis::Client::open(gw.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let store = &gw.gw.store;
    let snapshot = |con: &mut redis::aio::MultiplexedConnection| {
        let (certuser, users, serials) = (
            store.key("bank-a", "certuser"),
            store.key("bank-a", "users"),
            store.key("bank-a", "serials"),
        );
        let mut con = con.clone();
        async move {
            let a: Vec<(String, String)> = redis::AsyncCommands::hgetall(&mut con, certuser).await.unwrap();
            let b: Vec<(String, String)> = redis::AsyncCommands::hgetall(&mut con, users).await.unwrap();
            let c: Vec<(String, String)> = redis::AsyncCommands::hgetall(&mut con, serials).await.unwrap();
            (a, b, c)
        }
    };

    let before = redis_changes(&mut con).await;
    let (st, v1) = gw.kyc(KEY_A, &carol, b"first").await;
    assert_eq!(
        (st.as_u16(), v1["registered"].clone()),
        (200, json!(true)),
        "{v1}"
    );
    let first = redis_changes(&mut con).await - before;
    let registered = snapshot(&mut con).await;
    let cert_key = store.key(
        "bank-a",
        &format!("cert:{}", v1["certificate"]["fingerprint"].as_str().unwrap()),
    );
    let der: Vec<u8> = redis::AsyncCommands::get(&mut con, &cert_key).await.unwrap();
    assert_eq!(der, carol.sign_der);

    let before = redis_changes(&mut con).await;
    let (st, v2) = gw.kyc(KEY_A, &carol, b"second").await;
    assert_eq!(st, 200, "{v2}");
    assert_eq!(v2["user_id"], v1["user_id"]);
    assert_eq!(v2["registered"], true);
    let second = redis_changes(&mut con).await - before;
    // The new verification's three fields (record, user_id, cert) and nothing else: the user,
    // serial and certificate entries already held these values.
    assert_eq!(second, 3, "first registration made {first} changes");
    assert!(first > second);
    assert_eq!(snapshot(&mut con).await, registered);
    let der: Vec<u8> = redis::AsyncCommands::get(&mut con, &cert_key).await.unwrap();
    assert_eq!(der, carol.sign_der);
    let (st, rec) = gw
        .get(
            &format!("/v1/verifications/{}", v2["id"].as_str().unwrap()),
            Some(KEY_A),
        )
        .await;
    assert_eq!(st, 200, "{rec}");
    assert_eq!(rec["user_id"], v1["user_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_and_refuses_reuse() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let data = b"transfer limit raise";
    let sig = s.sign(&h, data);
    let body = json!({"certificate": b64(&h.sign_der), "signature": b64(&sig), "data": b64(data)});
    let send = |key: &'static str, body: Value| {
        let http = gw.http.clone();
        let url = format!("{}/v1/verifications", gw.base);
        async move {
            let r = http
                .post(url)
                .bearer_auth(KEY_A)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (r.status(), replayed, r.json::<Value>().await.unwrap())
        }
    };
    let (st, replayed, first) = send("order-1", body.clone()).await;
    assert_eq!(st, 200, "{first}");
    assert!(!replayed);
    let (st, replayed, again) = send("order-1", body.clone()).await;
    assert_eq!(st, 200, "{again}");
    assert!(replayed);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["user_id"], first["user_id"]);
    assert_eq!(again["basic_info"], first["basic_info"]);
    let mut other = body.clone();
    other["data"] = json!(b64(b"something else"));
    let (st, _, err) = send("order-1", other).await;
    assert_error(st, &err, 409, "IDEMPOTENCY_KEY_REUSED");
    let (st, _, err) = send("bad key with spaces", body).await;
    assert_error(st, &err, 400, "INVALID_REQUEST");
    gw.stop().await;
    // One registration, one replay.
    let audit = gw.audit_text();
    assert_eq!(audit.matches("\"event\":\"verification\"").count(), 1);
    assert_eq!(audit.matches("\"event\":\"verification_replayed\"").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sp_sees_only_what_it_registered() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let (_, v) = gw.kyc(KEY_A, &h, b"A's customer").await;
    let id = v["id"].as_str().unwrap();
    let uid = v["user_id"].as_str().unwrap();
    let serial = v["certificate"]["serial"].as_str().unwrap();

    let (st, e) = gw.get(&format!("/v1/verifications/{id}"), Some(KEY_B)).await;
    assert_error(st, &e, 404, "NOT_FOUND");
    let (st, e) = gw
        .get(&format!("/v1/verifications/{id}/status"), Some(KEY_B))
        .await;
    assert_error(st, &e, 404, "NOT_FOUND");
    let (st, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_B),
            &json!({"ids": [id], "user_ids": [uid], "serials": [serial]}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    for item in r["results"].as_array().unwrap() {
        assert_eq!(item["status"], "not_found", "{item}");
        assert!(item.get("check_method").is_none());
        assert!(item.get("source_updated_at").is_none());
    }
    // A forged id is not found either, and a well-formed serial nobody registered.
    let (_, r) = gw
        .post(
            "/v1/certificate-status",
            Some(KEY_A),
            &json!({"ids": ["vf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"], "serials": ["7fffffff"]}),
        )
        .await;
    assert!(
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "not_found"),
        "{r}"
    );
    // B registers the same person: its own user id, unrelated to A's.
    let (_, vb) = gw.kyc(KEY_B, &h, b"B's customer").await;
    assert_eq!(vb["verdict"], "valid");
    assert_ne!(vb["user_id"], uid);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hierarchy_auth_cert_and_bad_signature_register_nothing() {
    let s = sim();
    let test_holder = s.issue("2023", true);
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    // A certificate of the test hierarchy (O=JPKI-TEST) never chains to production roots.
    let (st, v) = gw.kyc(KEY_A, &test_holder, b"x").await;
    assert_eq!(st, 200, "{v}");
    assert_ne!(v["verdict"], "valid");
    assert!(v["reason"].as_str().is_some());
    assert_eq!(v["registered"], false);
    assert!(v["user_id"].is_null());
    assert!(v["basic_info"].is_null());
    assert_eq!(v["revocation"]["status"], "not_checked");
    // Its id (kept for the record) registers no certificate: status is not found.
    let id = v["id"].as_str().unwrap();
    let (st, _) = gw
        .get(&format!("/v1/verifications/{id}/status"), Some(KEY_A))
        .await;
    assert_eq!(st, 404);

    // The user-authentication certificate is not a KYC certificate.
    let data = b"kyc";
    let sig = s.sim.sign_challenge(&h.id, data).unwrap();
    let (_, v) = gw
        .post(
            "/v1/verifications",
            Some(KEY_A),
            &json!({"certificate": b64(&h.auth_der), "signature": b64(&sig), "data": b64(data)}),
        )
        .await;
    assert_eq!(v["reason"], "POLICY_MISMATCH", "{v}");
    assert_eq!(v["registered"], false);

    // A signature over other data.
    let sig = s.sign(&h, b"original");
    let (_, v) = gw
        .post(
            "/v1/verifications",
            Some(KEY_A),
            &json!({"certificate": b64(&h.sign_der), "signature": b64(&sig), "data": b64(b"tampered")}),
        )
        .await;
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["reason"], "SIG_CRYPTO_FAILURE");
    assert!(v["basic_info"].is_null());

    // Digest form and CMS form.
    let digest = openssl::sha::sha256(b"digest form");
    let sig = s
        .sim
        .sign_digest(&h.id, &digest, jlis_sim::HashAlg::Sha256)
        .unwrap();
    let (_, v) = gw
        .post(
            "/v1/verifications",
            Some(KEY_A),
            &json!({"certificate": b64(&h.sign_der), "signature": b64(&sig), "digest": b64(&digest), "hash": "sha256"}),
        )
        .await;
    assert_eq!(v["verdict"], "valid", "{v}");
    let cms = s
        .sim
        .sign_cms(&h.id, b"cms form", jlis_sim::CmsMode::Attached)
        .unwrap();
    let (_, v) = gw
        .post("/v1/verifications", Some(KEY_A), &json!({"cms": b64(&cms)}))
        .await;
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["registered"], true, "{v}");
    assert!(v["cms"].is_object());
    gw.stop().await;
}
