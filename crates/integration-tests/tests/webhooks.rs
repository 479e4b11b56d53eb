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

use serde_json::Value;
use sp_gateway::webhooks::{Worker, signature};
use support::webhooks::{
    SECRET_A, SECRET_B, assert_no_4_info, assert_signed, body_of, dead_letters, env, wait_for,
};
use support::{DELTA_STREAM, KEY_A, KEY_B, now};
use testkit::http::{Reply, ScriptedServer};

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
