//! Signed webhook delivery end to end: the simulator moves a consented holder (J-LIS revokes the
//! old certificate), crl-sync fetches the new CRLs from `jlis-sim serve` and appends the delta to
//! Redis, the gateway's webhook worker matches it and POSTs to a loopback receiver. Exactly one
//! delivery per consented certificate, signed with the SP's secret; retries with the same event
//! id; dead letters; nothing for unconsented, withdrawn or other SPs' certificates; a crashed
//! worker's entries are taken over; no 4 info anywhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sp_gateway::webhooks::{EVENT_ID_HEADER, SIGNATURE_HEADER, Worker, signature};
use support::{DELTA_STREAM, Gw, Holder, KEY_A, KEY_B, Opts, cli, json_lines, now, sim, start};
use testkit::http::{Reply, ScriptedServer, SeenRequest};

const SECRET_A: &str = "whsec_a_0123456789abcdef0123456789abcdef";
const SECRET_B: &str = "whsec_b_fedcba9876543210fedcba9876543210";

/// A gateway with the simulator's J-LIS service behind it.
struct Env {
    gw: Gw,
    jlis: String,
    jlis_handle: actix_web::dev::ServerHandle,
}

async fn env() -> Env {
    let s = sim();
    let (addr, server) = jlis_sim::serve::start(s.sim.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let jlis_handle = server.handle();
    tokio::spawn(server);
    let jlis = format!("http://{addr}");
    let gw = start(Opts {
        jlis: Some(jlis.clone()),
        ..Default::default()
    })
    .await;
    Env {
        gw,
        jlis,
        jlis_handle,
    }
}

impl Env {
    async fn set_webhook(&self, key: &str, url: &str, secret: &str) {
        let resp = self
            .gw
            .http
            .put(format!("{}/v1/webhook", self.gw.base))
            .bearer_auth(key)
            .json(&json!({"url": url, "secret": secret}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    /// KYC of a new holder by `key`, optionally with a consent; returns the holder, the KYC
    /// answer and the consent.
    async fn enrol(&self, key: &str, consent: bool) -> (Holder, Value, Option<Value>) {
        let h = sim().issue("2023", false);
        let (st, v) = self.gw.kyc(key, &h, b"onboarding").await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["verdict"], "valid", "{v}");
        let c = if consent {
            let (st, c) = self
                .gw
                .post(
                    "/v1/consents",
                    Some(key),
                    &json!({"verification_id": v["id"], "holder": h.id}),
                )
                .await;
            assert_eq!(st, 201, "{c}");
            Some(c)
        } else {
            None
        };
        (h, v, c)
    }

    /// J-LIS revokes each holder's signing certificate (a move), then crl-sync runs.
    async fn move_and_sync(&self, holders: &[&Holder]) {
        for h in holders {
            sim()
                .sim
                .move_holder(
                    &h.id,
                    "大阪府大阪市北区中之島１丁目３番２０号",
                    None,
                    now() - time::Duration::minutes(1),
                )
                .unwrap();
        }
        sim()
            .crl_sync_run(&self.gw.snap, &self.jlis, &self.gw.redis.url())
            .await;
    }

    async fn metrics(&self) -> String {
        self.gw
            .http
            .get(format!("{}/metrics", self.gw.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Stops everything; returns the audit log, whose chain must be intact.
    async fn stop(self) -> String {
        self.gw.stop().await;
        self.jlis_handle.stop(true).await;
        assert!(sp_gateway::audit::verify(&self.gw.audit).unwrap().ok);
        self.gw.audit_text()
    }
}

/// Waits (at most `limit`) until `server` has seen `n` requests, then a little longer to catch
/// extra ones; returns what it saw.
async fn wait_for(server: &ScriptedServer, n: usize, limit: Duration) -> Vec<SeenRequest> {
    let started = Instant::now();
    while server.seen().len() < n && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    server.seen()
}

fn body_of(r: &SeenRequest) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// The request is signed with `secret` and names its event id in the header and the body.
fn assert_signed(r: &SeenRequest, secret: &str) -> String {
    let sig = r.header(&SIGNATURE_HEADER.to_ascii_lowercase()).unwrap();
    assert!(
        signature::verify(secret.as_bytes(), sig, &r.body, now().unix_timestamp(), 300),
        "bad signature {sig}"
    );
    let id = r
        .header(&EVENT_ID_HEADER.to_ascii_lowercase())
        .unwrap()
        .to_owned();
    assert_eq!(body_of(r)["id"], id.as_str());
    assert!(r.line.starts_with("POST /hook "), "{}", r.line);
    id
}

fn dead_letters(redis_url: &str) -> Vec<redis::streams::StreamId> {
    let mut con = redis::Client::open(redis_url).unwrap().get_connection().unwrap();
    let r: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("jpki-pf:gw:{~wh}:dead")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    r.ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_signed_delivery_per_consented_revocation_and_none_else() {
    let e = env().await;
    let ra = ScriptedServer::start(vec![Reply::Status(200)]);
    let rb = ScriptedServer::start(vec![Reply::Status(204)]);
    e.set_webhook(KEY_A, &format!("{}/hook", ra.base_url()), SECRET_A)
        .await;
    e.set_webhook(KEY_B, &format!("{}/hook", rb.base_url()), SECRET_B)
        .await;
    let (h1, v1, c1) = e.enrol(KEY_A, true).await; // consented by A
    let (h2, _, _) = e.enrol(KEY_A, false).await; // registered by A, no consent
    let (h3, _, c3) = e.enrol(KEY_B, true).await; // B's
    let (h4, _, c4) = e.enrol(KEY_A, true).await; // consent withdrawn
    let resp =
        e.gw.http
            .delete(format!(
                "{}/v1/consents/{}",
                e.gw.base,
                c4.unwrap()["id"].as_str().unwrap()
            ))
            .bearer_auth(KEY_A)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 200);
    // Two replicas read the same consumer groups.
    let w1 = Worker::spawn(e.gw.gw.clone()).unwrap();
    let w2 = Worker::spawn(e.gw.gw.clone()).unwrap();
    assert_ne!(w1.consumer(), w2.consumer());
    e.move_and_sync(&[&h1, &h2, &h3, &h4]).await;

    let to_a = wait_for(&ra, 1, Duration::from_secs(20)).await;
    let to_b = wait_for(&rb, 1, Duration::from_secs(5)).await;
    assert_eq!(to_a.len(), 1, "bank-a: exactly one delivery");
    assert_eq!(to_b.len(), 1, "bank-b: exactly one delivery");
    let id_a = assert_signed(&to_a[0], SECRET_A);
    assert!(!signature::verify(
        SECRET_B.as_bytes(),
        to_a[0].header("jpki-pf-signature").unwrap(),
        &to_a[0].body,
        now().unix_timestamp(),
        300
    ));
    assert_eq!(to_a[0].header("content-type"), Some("application/json"));
    assert_eq!(to_a[0].header("jpki-pf-delivery-attempt"), Some("1"));
    let b = body_of(&to_a[0]);
    let c1 = c1.unwrap();
    assert_eq!(b["type"], "certificate.revoked");
    assert_eq!(b["data"]["consent_id"], c1["id"]);
    assert_eq!(b["data"]["verification_id"], v1["id"]);
    assert_eq!(b["data"]["user_id"], v1["user_id"]);
    assert_eq!(b["data"]["serial"], v1["certificate"]["serial"]);
    assert_eq!(b["data"]["reason"], "affiliationChanged");
    assert!(b["data"]["revoked_at"].as_str().unwrap().ends_with('Z'));
    assert!(b["data"]["crl_number"].as_str().is_some_and(|n| !n.is_empty()));
    // Every field is documented in the OpenAPI WebhookEvent schema.
    let doc: Value = serde_json::from_str(sp_gateway::routes::ops::OPENAPI).unwrap();
    let schema = &doc["components"]["schemas"]["WebhookEvent"];
    for (k, _) in b.as_object().unwrap() {
        assert!(schema["properties"].get(k).is_some(), "{k} undocumented");
    }
    for (k, _) in b["data"].as_object().unwrap() {
        assert!(
            schema["properties"]["data"]["properties"].get(k).is_some(),
            "data.{k} undocumented"
        );
    }
    let id_b = assert_signed(&to_b[0], SECRET_B);
    assert_eq!(body_of(&to_b[0])["data"]["consent_id"], c3.unwrap()["id"]);
    assert_ne!(id_a, id_b);

    let m = e.metrics().await;
    for want in [
        "sp_gateway_webhook_deliveries_total{outcome=\"delivered\",sp=\"bank-a\"} 1",
        "sp_gateway_webhook_deliveries_total{outcome=\"delivered\",sp=\"bank-b\"} 1",
        "sp_gateway_webhook_delta_events_total{result=\"matched\"} 2",
    ] {
        assert!(m.contains(want), "missing {want} in\n{m}");
    }
    w1.stop().await;
    w2.stop().await;
    let audit = e.stop().await;
    assert_no_4_info(&to_a, &audit, &v1);
    let delivered: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"webhook_delivered\""))
        .collect();
    assert_eq!(delivered.len(), 2, "{audit}");
    assert!(
        delivered
            .iter()
            .any(|l| l.contains(&id_a) && l.contains("\"sp\":\"bank-a\""))
    );
    assert!(
        delivered
            .iter()
            .any(|l| l.contains(&id_b) && l.contains("\"sp\":\"bank-b\""))
    );
    assert!(!audit.contains(SECRET_A) && !audit.contains(SECRET_B));
}

/// Neither the webhook bodies nor the audit log carry the holder's 4 info.
fn assert_no_4_info(seen: &[SeenRequest], audit: &str, kyc: &Value) {
    let name = kyc["basic_info"]["name"].as_str().unwrap();
    let address = kyc["basic_info"]["address"].as_str().unwrap();
    let birth = kyc["basic_info"]["date_of_birth"].as_str().unwrap();
    for r in seen {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(name) && !body.contains(address),
            "4 info in a webhook: {body}"
        );
        assert!(!body.contains(birth) && !body.contains("basic_info"), "{body}");
    }
    assert!(
        !audit.contains(name) && !audit.contains(address),
        "4 info in the audit log"
    );
    assert!(!audit.contains("中之島"), "4 info in the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_keep_the_event_id_and_end_in_dead_letters() {
    let e = env().await;
    // A fails twice, then answers; B never answers well (max_attempts = 4 in the test config).
    let ra = ScriptedServer::start(vec![Reply::Status(500), Reply::Status(503), Reply::Status(200)]);
    let rb = ScriptedServer::start(vec![Reply::Status(500)]);
    e.set_webhook(KEY_A, &format!("{}/hook", ra.base_url()), SECRET_A)
        .await;
    e.set_webhook(KEY_B, &format!("{}/hook", rb.base_url()), SECRET_B)
        .await;
    let (h1, v1, _) = e.enrol(KEY_A, true).await;
    let (h2, _, _) = e.enrol(KEY_B, true).await;
    let w = Worker::spawn(e.gw.gw.clone()).unwrap();
    e.move_and_sync(&[&h1, &h2]).await;

    let to_a = wait_for(&ra, 3, Duration::from_secs(20)).await;
    assert_eq!(to_a.len(), 3, "delivered on the third attempt, then no more");
    let ids: Vec<String> = to_a.iter().map(|r| assert_signed(r, SECRET_A)).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert!(
        to_a.iter().all(|r| r.body == to_a[0].body),
        "the body is the same on every attempt"
    );
    let attempts: Vec<&str> = to_a
        .iter()
        .map(|r| r.header("jpki-pf-delivery-attempt").unwrap())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);

    let to_b = wait_for(&rb, 4, Duration::from_secs(20)).await;
    assert_eq!(to_b.len(), 4, "max_attempts, then the dead letters");
    let dead = dead_letters(&e.gw.redis.url());
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d.get::<String>("sp").unwrap(), "bank-b");
    assert_eq!(d.get::<String>("attempts").unwrap(), "4");
    assert_eq!(d.get::<String>("last_error").unwrap(), "http_500");
    assert_eq!(
        d.get::<String>("event_id").unwrap(),
        assert_signed(&to_b[0], SECRET_B)
    );
    let m = e.metrics().await;
    for want in [
        "sp_gateway_webhook_deliveries_total{outcome=\"retry\",sp=\"bank-a\"} 2",
        "sp_gateway_webhook_deliveries_total{outcome=\"delivered\",sp=\"bank-a\"} 1",
        "sp_gateway_webhook_deliveries_total{outcome=\"retry\",sp=\"bank-b\"} 3",
        "sp_gateway_webhook_deliveries_total{outcome=\"dead_letter\",sp=\"bank-b\"} 1",
    ] {
        assert!(m.contains(want), "missing {want} in\n{m}");
    }
    w.stop().await;
    let audit = e.stop().await;
    assert_no_4_info(&to_a, &audit, &v1);
    let failed: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"event\":\"webhook_failed\""))
        .collect();
    assert_eq!(failed.len(), 2 + 4, "{audit}");
    assert_eq!(
        failed
            .iter()
            .filter(|l| l.contains("\"next\":\"dead_letter\""))
            .count(),
        1
    );
    assert!(
        failed
            .iter()
            .all(|l| l.contains("\"serial\":\"") && l.contains("\"event_id\":\"evt_"))
    );
    assert_eq!(audit.matches("\"event\":\"webhook_delivered\"").count(), 1);
}

/// Reads the delta stream as a replica that then dies: its entries stay pending.
fn read_as_crashed_replica(redis_url: &str) -> usize {
    let mut con = redis::Client::open(redis_url).unwrap().get_connection().unwrap();
    let _: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(DELTA_STREAM)
        .arg("sp-gateway-webhooks")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut con);
    let r: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("sp-gateway-webhooks")
        .arg("crashed-replica")
        .arg("COUNT")
        .arg(100_000)
        .arg("STREAMS")
        .arg(DELTA_STREAM)
        .arg(">")
        .query(&mut con)
        .unwrap();
    r.keys.iter().map(|k| k.ids.len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_or_restarted_worker_loses_nothing() {
    let e = env().await;
    // 1: the first delivery; 2: an attempt cut off by the crash; 3: the replica that takes over.
    let ra = ScriptedServer::start(vec![
        Reply::Status(200),
        Reply::Stall(Duration::from_secs(3)),
        Reply::Status(200),
    ]);
    e.set_webhook(KEY_A, &format!("{}/hook", ra.base_url()), SECRET_A)
        .await;
    let (h1, v1, _) = e.enrol(KEY_A, true).await;
    let (h2, _, _) = e.enrol(KEY_A, true).await;

    // A replica read the delta entries and died before acknowledging them; no worker was
    // running when crl-sync published.
    e.move_and_sync(&[&h1]).await;
    assert!(read_as_crashed_replica(&e.gw.redis.url()) >= 1);
    let w1 = Worker::spawn(e.gw.gw.clone()).unwrap();
    let seen = wait_for(&ra, 1, Duration::from_secs(20)).await;
    assert_eq!(
        seen.len(),
        1,
        "the dead replica's entry was taken over and delivered once"
    );
    assert_eq!(body_of(&seen[0])["data"]["serial"], v1["certificate"]["serial"]);
    let first_id = assert_signed(&seen[0], SECRET_A);

    // The worker dies in the middle of a POST: the delivery stays pending in the outbox, and a
    // new worker takes it over with the same event id.
    e.move_and_sync(&[&h2]).await;
    let started = Instant::now();
    while ra.seen().len() < 2 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w1.abort();
    assert_eq!(ra.seen().len(), 2, "the second delivery was under way");
    let w2 = Worker::spawn(e.gw.gw.clone()).unwrap();
    let seen = wait_for(&ra, 3, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 3, "one more attempt after the crash, and no more");
    let cut = assert_signed(&seen[1], SECRET_A);
    assert_eq!(
        assert_signed(&seen[2], SECRET_A),
        cut,
        "the same event id after the crash"
    );
    assert_ne!(cut, first_id);
    assert_eq!(seen[2].header("jpki-pf-delivery-attempt"), Some("1"));
    w2.stop().await;
    let audit = e.stop().await;
    assert_no_4_info(&seen, &audit, &v1);
    assert_eq!(audit.matches("\"event\":\"webhook_delivered\"").count(), 2);
}

/// crl-sync's baseline marker (a CRL partition indexed for the first time) is acknowledged and
/// counted without error, and the revocations after it are delivered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_marker_is_acknowledged_and_later_revocations_delivered() {
    use crl_sync::publish::{BaselineMarker, Publication, Published, publish};
    let e = env().await;
    let ra = ScriptedServer::start(vec![Reply::Status(200)]);
    e.set_webhook(KEY_A, &format!("{}/hook", ra.base_url()), SECRET_A)
        .await;
    let (h1, v1, _) = e.enrol(KEY_A, true).await;
    let mut con = redis::Client::open(e.gw.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let marker = Publication {
        baselines: vec![BaselineMarker {
            partition: "sign-2023/999999".into(),
            crl_number_hex: "01".into(),
            entries: 20_000_000,
            this_update: now().unix_timestamp(),
        }],
        events: Vec::new(),
    };
    let done = publish(&mut con, DELTA_STREAM, "abcdef", "01", &marker)
        .await
        .unwrap();
    assert_eq!(
        done,
        Published::Appended {
            events: 0,
            baselines: 1
        }
    );
    let w = Worker::spawn(e.gw.gw.clone()).unwrap();
    e.move_and_sync(&[&h1]).await;
    let seen = wait_for(&ra, 1, Duration::from_secs(20)).await;
    assert_eq!(seen.len(), 1, "the revocation after the marker is delivered");
    assert_signed(&seen[0], SECRET_A);
    assert_eq!(body_of(&seen[0])["data"]["serial"], v1["certificate"]["serial"]);
    let m = e.metrics().await;
    assert!(
        m.contains("sp_gateway_webhook_delta_events_total{result=\"baseline\"} 1"),
        "{m}"
    );
    assert!(!m.contains("result=\"ignored\""), "{m}");
    // Nothing left pending in the delta stream's group: the marker was acknowledged.
    let pending: redis::Value = redis::cmd("XPENDING")
        .arg(DELTA_STREAM)
        .arg("sp-gateway-webhooks")
        .query_async(&mut con)
        .await
        .unwrap();
    let pending: Vec<redis::Value> = redis::from_redis_value(pending).unwrap();
    assert_eq!(pending[0], redis::Value::Int(0), "{pending:?}");
    w.stop().await;
    e.stop().await;
}

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
    e.move_and_sync(&[&h]).await;
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
    e.move_and_sync(&[&h1, &h2]).await;
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
