//! Redis stopped mid-test: verifications and status checks by id keep working from the index;
//! everything that must write (or read) Redis answers 503 with nothing half-written; the replica
//! stays ready (Redis is shared by every replica, so `/readyz` reports it and
//! `sp_gateway_redis_up` says 0, but it does not decide readiness); after a restart everything
//! works again with the data intact (AOF). Two replicas sharing a stale CRL partition and a dead
//! Redis both stay ready while their metrics show both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Gw, KEY_A, KEY_SLOW, Opts, Replica, assert_error, now, sample, sim, start};

/// The tests here stop and restart Redis on its port: run them one at a time, so that a restart
/// never finds its port taken by the other test's servers.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_test() {
    let _one = ONE_AT_A_TIME.lock().await;
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
    // Still ready: Redis is reported as failing, and it is not a readiness condition.
    let (st, ready) = gw.get("/readyz", None).await;
    assert_eq!(st, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["redis"]["ok"], false);
    assert_eq!(ready["checks"]["redis"]["required"], false);
    assert_eq!(ready["checks"]["index"]["ok"], true);
    assert_eq!(gw.metric("sp_gateway_redis_up").await, Some(0.0));

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

/// Polls until `done` holds for the metrics of `gw` and of `replica`, for up to 10 s.
async fn wait_for_metrics(gw: &Gw, replica: &Replica, done: impl Fn(&str) -> bool) -> (String, String) {
    let mut last = (String::new(), String::new());
    for _ in 0..100 {
        last = (gw.metrics().await, replica.metrics().await);
        if done(&last.0) && done(&last.1) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("metrics never got there:\n{}\n---\n{}", last.0, last.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_a_stale_partition_and_a_dead_redis_stay_ready() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gw = start(Opts {
        no_snapshot: true,
        ..Default::default()
    })
    .await;
    // crl-sync's history: every partition published 3 h ago for 1 h (stale for 2 h), then all of
    // them again 5 minutes ago for 48 h except one, whose download failed and which keeps its
    // stale CRL. The partition is taken from the snapshots themselves.
    let stale_at = now() - time::Duration::hours(3);
    let snap = gw.snap.clone();
    let (ca_key, partition) = tokio::task::spawn_blocking(move || {
        let s = sim();
        s.build_snapshots(&snap, stale_at, 1);
        let set = revocation::SnapshotSet::open_dir(&snap).unwrap();
        let first = set.snapshots().next().unwrap();
        let picked = (
            hex::encode(first.issuer_key_id()),
            first.partitions()[0].id.clone(),
        );
        s.build_snapshots_except(&snap, now() - time::Duration::minutes(5), 48, &[&picked.1]);
        picked
    })
    .await
    .unwrap();
    // A second replica of the same deployment: same snapshot directory, same Redis.
    let replica = gw.replica("replica-b").await;
    let stale_series = format!("sp_gateway_index_ca_stale_partitions{{ca_key=\"{ca_key}\"}}");
    let age_series = format!("sp_gateway_index_ca_oldest_this_update_age_seconds{{ca_key=\"{ca_key}\"}}");
    // Both replicas loaded the last generation (one stale partition) and the Redis probe found
    // Redis up.
    wait_for_metrics(&gw, &replica, |m| {
        sample(m, "sp_gateway_index_stale_partitions") == Some(1.0)
            && sample(m, &stale_series) == Some(1.0)
            && sample(m, "sp_gateway_redis_up") == Some(1.0)
    })
    .await;

    // Redis dies. No request touches it: the periodic probe alone turns redis_up to 0 (metrics
    // do not PING, /readyz is not called before).
    let mut gw = gw;
    let redis = &mut gw.redis;
    tokio::task::block_in_place(|| redis.stop());
    let (m_a, m_b) = wait_for_metrics(&gw, &replica, |m| sample(m, "sp_gateway_redis_up") == Some(0.0)).await;
    for m in [&m_a, &m_b] {
        assert_eq!(sample(m, "sp_gateway_index_loaded"), Some(1.0), "{m}");
        assert_eq!(sample(m, "sp_gateway_index_stale_partitions"), Some(1.0), "{m}");
        assert_eq!(sample(m, &stale_series), Some(1.0), "{m}");
        let age = sample(m, &age_series).unwrap();
        let want = (now() - stale_at).whole_seconds() as f64;
        assert!(
            (want - 120.0..=want + 120.0).contains(&age),
            "{age} vs {want}: {m}"
        );
        // Every other CA key: no stale partition.
        let others = m
            .lines()
            .filter(|l| l.starts_with("sp_gateway_index_ca_stale_partitions{") && !l.contains(&ca_key))
            .collect::<Vec<_>>();
        assert!(!others.is_empty(), "{m}");
        assert!(others.iter().all(|l| l.ends_with(" 0")), "{others:?}");
    }

    // The one stale partition is the stalest of both.
    for stalest in [gw.gw.index.stalest(), replica.gw.index.stalest()] {
        assert_eq!(stalest.map(|p| p.id), Some(partition.clone()));
    }

    // Both stay ready, and say what is wrong.
    let answers = [gw.get("/readyz", None).await, replica.get("/readyz").await];
    for (st, ready) in answers {
        assert_eq!(st, 200, "{ready}");
        assert_eq!(ready["status"], "ready", "{ready}");
        assert_eq!(ready["checks"]["index"]["ok"], true, "{ready}");
        assert_eq!(ready["checks"]["audit_log"]["ok"], true, "{ready}");
        assert_eq!(ready["checks"]["redis"]["ok"], false, "{ready}");
        let fresh = &ready["checks"]["crl_freshness"];
        assert_eq!(fresh["ok"], false, "{ready}");
        assert_eq!(fresh["required"], false, "{ready}");
        assert_eq!(fresh["stale_partitions"], 1, "{ready}");
        assert_eq!(fresh["stale_ca_keys"], serde_json::json!([ca_key]), "{ready}");
    }
    let (st, _) = replica.get("/healthz").await;
    assert_eq!(st, 200);
    replica.stop().await;
    gw.stop().await;
}
