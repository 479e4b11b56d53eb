//! Webhook operations end to end: an operator replays a dead letter (once, with its event id), and
//! consents registered before the by-serial consent index are backfilled and delivered, by the
//! CLI and by `serve` at start. The revocations come as delta events appended by the harness
//! (`move_and_announce`); the run with crl-sync writing them is in the integration-tests crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use sp_gateway::webhooks::Worker;
use support::webhooks::{
    Env, SECRET_A, SECRET_B, assert_no_4_info, assert_signed, body_of, dead_letters, env, wait_for,
};
use support::{KEY_A, KEY_B, cli, json_lines};
use testkit::http::{Reply, ScriptedServer};

/// A delivery that used up its attempts is replayed by the operator once the SP's endpoint works
/// again: delivered once more with the same event id and body, gone from the dead letters,
/// audited; replaying it again does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_a_dead_letter_once_with_its_event_id() {
    let e = env().await;
    // bank-b's endpoint fails every attempt (max_attempts = 4 in the test config), then, fixed,
    // answers 200.
    let rb = ScriptedServer::start(vec![
        Reply::Status(500),
        Reply::Status(502),
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(200),
    ]);
    e.set_webhook(KEY_B, &format!("{}/hook", rb.base_url()), SECRET_B)
        .await;
    let (h, v, c) = e.enrol(KEY_B, true).await;
    let w = Worker::spawn(e.gw.gw.clone()).unwrap();
    e.move_and_announce(&[&h]).await;
    let seen = wait_for(&rb, 4, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 4, "every attempt failed");
    let event_id = assert_signed(&seen[0], SECRET_B);
    let dead = dead_letters(&e.gw.redis.url());
    assert_eq!(dead.len(), 1);
    let dead_id = dead[0].id.clone();
    let config = e.gw.config.to_str().unwrap().to_owned();
    let serial = v["certificate"]["serial"].as_str().unwrap();

    // list: the dead letter as JSON, without 4 info; filtered by SP.
    let (code, out, err) = cli(&["webhooks", "dead-letters", "list", "--config", &config]).await;
    assert_eq!(code, 0, "{err}");
    let listed = json_lines(&out);
    assert_eq!(listed.len(), 1, "{out}");
    let d = &listed[0];
    assert_eq!(d["id"], dead_id.as_str());
    assert_eq!(d["event_id"], event_id.as_str());
    assert_eq!(d["sp"], "bank-b");
    assert_eq!(d["attempts"], 4);
    assert_eq!(d["last_error"], "http_503");
    assert_eq!(d["serial"], serial);
    assert_eq!(d["consent_id"], c.as_ref().unwrap()["id"]);
    assert_eq!(d["type"], "certificate.revoked");
    let (code, out, _) = cli(&[
        "webhooks",
        "dead-letters",
        "list",
        "--config",
        &config,
        "--sp",
        "bank-a",
    ])
    .await;
    assert_eq!((code, out.as_str()), (0, ""));

    // replay limited to another SP: nothing moves.
    let (code, out, err) = cli(&[
        "webhooks",
        "dead-letters",
        "replay",
        "--config",
        &config,
        "--sp",
        "bank-a",
    ])
    .await;
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(dead_letters(&e.gw.redis.url()).len(), 1);
    // A malformed id is refused before anything is done.
    let (code, _, err) = cli(&[
        "webhooks",
        "dead-letters",
        "replay",
        "--config",
        &config,
        "--id",
        "-",
    ])
    .await;
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("INVALID_ENTRY_ID"), "{err}");

    // replay it: requeued with the same event id and delivered once.
    let (code, out, err) = cli(&[
        "webhooks",
        "dead-letters",
        "replay",
        "--config",
        &config,
        "--id",
        &dead_id,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let replayed = json_lines(&out);
    assert_eq!(replayed.len(), 1, "{out}");
    assert_eq!(replayed[0]["status"], "requeued");
    assert_eq!(replayed[0]["dead_letter_id"], dead_id.as_str());
    assert_eq!(replayed[0]["event_id"], event_id.as_str());
    assert_eq!(replayed[0]["serial"], serial);
    let seen = wait_for(&rb, 5, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 5, "delivered once after the replay");
    assert_eq!(assert_signed(&seen[4], SECRET_B), event_id, "the same event id");
    assert_eq!(seen[4].body, seen[0].body, "the same body");
    assert_eq!(seen[4].header("jpki-pf-delivery-attempt"), Some("1"));
    assert!(dead_letters(&e.gw.redis.url()).is_empty());

    // Replaying it again, or everything, does nothing.
    let (code, out, err) = cli(&[
        "webhooks",
        "dead-letters",
        "replay",
        "--config",
        &config,
        "--id",
        &dead_id,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_lines(&out)[0]["status"], "not_found", "{out}");
    let (code, out, err) = cli(&["webhooks", "dead-letters", "replay", "--config", &config]).await;
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let seen = wait_for(&rb, 6, Duration::from_secs(2)).await;
    assert_eq!(seen.len(), 5, "no second delivery");
    let m = e.metrics().await;
    assert!(
        m.contains("sp_gateway_webhook_deliveries_total{outcome=\"delivered\",sp=\"bank-b\"} 1"),
        "{m}"
    );
    w.stop().await;

    // The operator's audit log: one admin action, beside the gateway's log, its chain intact.
    let operator_log = e.gw.audit.with_file_name("audit.operator.jsonl");
    assert!(sp_gateway::audit::verify(&operator_log).unwrap().ok);
    let records = json_lines(&std::fs::read_to_string(&operator_log).unwrap());
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["event"], "admin_action");
    assert_eq!(r["who"], "operator-cli");
    assert_eq!(r["what"], "webhook_dead_letter_replay");
    assert_eq!(r["sp"], "bank-b");
    assert_eq!(r["event_id"], event_id.as_str());
    assert_eq!(r["serial"], serial);
    assert_eq!(r["dead_letter_id"], dead_id.as_str());
    let audit = e.stop().await;
    assert_no_4_info(&seen, &audit, &v);
    assert_no_4_info(&[], &records[0].to_string(), &v);
}

/// Consents stored before the by-serial index (`cc:<serial>`) existed: a consent record and the
/// SP's `consents` set, nothing else.
async fn write_old_style_consent(e: &Env, sp: &str, id: &str, kyc: &Value, withdrawn: bool) {
    let store = &e.gw.gw.store;
    let mut con = redis::Client::open(e.gw.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut fields = vec![
        ("jlis_id", "jc_from_before".to_owned()),
        ("verification_id", kyc["id"].as_str().unwrap().to_owned()),
        ("user_id", kyc["user_id"].as_str().unwrap().to_owned()),
        (
            "serial",
            kyc["certificate"]["serial"].as_str().unwrap().to_owned(),
        ),
        ("created_at", "2026-01-05T01:02:03Z".to_owned()),
        ("expires_at", "2999-01-01T00:00:00Z".to_owned()),
    ];
    if withdrawn {
        fields.push(("withdrawn_at", "2026-02-01T00:00:00Z".to_owned()));
    }
    let _: () = redis::pipe()
        .hset_multiple(store.key(sp, &format!("consent:{id}")), &fields)
        .ignore()
        .sadd(store.key(sp, "consents"), id)
        .ignore()
        .query_async(&mut con)
        .await
        .unwrap();
}

/// Consents registered before the by-serial index existed are indexed by the backfill (once per
/// deployment, even with two replicas starting together; again on demand with the CLI, changing
/// nothing), and their revocation is then delivered; a withdrawn one is not indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_from_before_the_serial_index_are_backfilled_and_delivered() {
    use sp_gateway::consent_index::{FORMAT_VERSION, Once, ensure_once, marked_version};
    let e = env().await;
    let ra = ScriptedServer::start(vec![Reply::Status(200)]);
    e.set_webhook(KEY_A, &format!("{}/hook", ra.base_url()), SECRET_A)
        .await;
    let (h1, v1, _) = e.enrol(KEY_A, false).await;
    let (h2, v2, _) = e.enrol(KEY_A, false).await;
    write_old_style_consent(&e, "bank-a", "cs_before_index_1", &v1, false).await;
    write_old_style_consent(&e, "bank-a", "cs_before_index_2", &v2, true).await;
    let store = &e.gw.gw.store;
    let cc = |v: &Value| {
        store.key(
            "bank-a",
            &format!("cc:{}", v["certificate"]["serial"].as_str().unwrap()),
        )
    };
    let mut con = redis::Client::open(e.gw.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let members_con = con.clone();
    let members = |k: String| {
        let mut con = members_con.clone();
        async move {
            let m: Vec<String> = redis::cmd("SMEMBERS").arg(k).query_async(&mut con).await.unwrap();
            m
        }
    };
    assert!(members(cc(&v1)).await.is_empty(), "not indexed yet");
    assert_eq!(marked_version(store).await.unwrap(), 0);

    // Two replicas start at once: one backfills, the other waits for it and does nothing.
    let (a, b) = tokio::join!(
        ensure_once(store, "replica-1", 1),
        ensure_once(store, "replica-2", 1)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ran: Vec<_> = [a, b]
        .into_iter()
        .filter_map(|o| match o {
            Once::Ran(r) => Some(r),
            Once::AlreadyDone => None,
        })
        .collect();
    assert_eq!(ran.len(), 1, "{a:?} {b:?}");
    assert_eq!(ran[0].records, 2);
    assert_eq!(ran[0].indexed, 1);
    assert_eq!(ran[0].withdrawn, 1);
    assert_eq!(marked_version(store).await.unwrap(), FORMAT_VERSION);
    assert_eq!(members(cc(&v1)).await, vec!["cs_before_index_1".to_owned()]);
    assert!(
        members(cc(&v2)).await.is_empty(),
        "a withdrawn consent is not indexed"
    );
    let lock: Option<String> = redis::cmd("GET")
        .arg(store.meta_key("cc-index:lock"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(lock, None, "the lock is released");
    assert_eq!(
        ensure_once(store, "replica-3", 100).await.unwrap(),
        Once::AlreadyDone
    );

    // On demand from the CLI: idempotent.
    let config = e.gw.config.to_str().unwrap().to_owned();
    let (code, out, err) = cli(&["consents", "reindex", "--config", &config]).await;
    assert_eq!(code, 0, "{err}");
    let report = &json_lines(&out)[0];
    assert_eq!(report["records"], 2, "{out}");
    assert_eq!(report["indexed"], 0, "{out}");
    assert_eq!(report["already_indexed"], 1, "{out}");
    assert_eq!(report["withdrawn"], 1, "{out}");
    assert_eq!(members(cc(&v1)).await.len(), 1);
    let operator_log = e.gw.audit.with_file_name("audit.operator.jsonl");
    let records = json_lines(&std::fs::read_to_string(&operator_log).unwrap());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["what"], "consent_index_reindex");
    assert_eq!(records[0]["who"], "operator-cli");

    // J-LIS revokes both certificates: only the active consent's SP is told.
    let w = Worker::spawn(e.gw.gw.clone()).unwrap();
    e.move_and_announce(&[&h1, &h2]).await;
    let seen = wait_for(&ra, 1, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 1, "one delivery, for the active consent only");
    assert_signed(&seen[0], SECRET_A);
    let b = body_of(&seen[0]);
    assert_eq!(b["data"]["consent_id"], "cs_before_index_1");
    assert_eq!(b["data"]["serial"], v1["certificate"]["serial"]);
    assert_eq!(b["data"]["verification_id"], v1["id"]);
    w.stop().await;
    let audit = e.stop().await;
    assert_no_4_info(&seen, &audit, &v1);
}

/// `sp-gateway serve` backfills the consent index by itself, in the background, at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_backfills_the_consent_index_at_start() {
    let e = env().await;
    let (_, v, _) = e.enrol(KEY_A, false).await;
    write_old_style_consent(&e, "bank-a", "cs_before_index_9", &v, false).await;
    let store = &e.gw.gw.store;
    let cc = store.key(
        "bank-a",
        &format!("cc:{}", v["certificate"]["serial"].as_str().unwrap()),
    );
    let child_audit = e.gw.dir.path().join("child-audit.jsonl");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sp-gateway"))
        .arg("serve")
        .arg("--config")
        .arg(&e.gw.config)
        // Its own audit log: the test's gateway writes the configured one.
        .env("JPKI_PF_GATEWAY_AUDIT_LOG", &child_audit)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut con = redis::Client::open(e.gw.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let started = Instant::now();
    let mut version = 0;
    while started.elapsed() < Duration::from_secs(20) {
        version = sp_gateway::consent_index::marked_version(store).await.unwrap();
        if version > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(version, sp_gateway::consent_index::FORMAT_VERSION);
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&cc)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(members, vec!["cs_before_index_9".to_owned()]);
    let killed = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let audit = std::fs::read_to_string(&child_audit).unwrap();
    assert!(
        audit.contains("\"event\":\"consent_index_backfilled\""),
        "{audit}"
    );
    assert!(sp_gateway::audit::verify(&child_audit).unwrap().ok);
    e.stop().await;
}
