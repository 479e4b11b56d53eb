//! The revocation index while serving: a stale CRL answers `unknown`/`TRY_LATER` (never good)
//! and shows in `/readyz` and the staleness metrics, without making the gateway not ready; a new
//! snapshot written by crl-sync is swapped in without a restart; a revocation shows up with its
//! reason; no index at all is not ready. Answers per CRL partition are in `partitions.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Duration;

use jpki::{Reason, Serial};
use serde_json::{Value, json};
use support::{Gw, KEY_A, Opts, now, sim, start};

async fn status_of(gw: &Gw, id: &str) -> Value {
    let (st, r) = gw
        .post("/v1/certificate-status", Some(KEY_A), &json!({"ids": [id]}))
        .await;
    assert_eq!(st, 200, "{r}");
    r["results"][0].clone()
}

async fn wait_for(gw: &Gw, id: &str, status: &str) -> Value {
    for _ in 0..100 {
        let item = status_of(gw, id).await;
        if item["status"] == status {
            return item;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("status never became {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_crl_is_unknown_then_a_new_snapshot_is_swapped_in() {
    let s = sim();
    let h = s.issue("2023", false);
    // CRLs published 72 h ago, valid 48 h: stale by a day.
    let gw = start(Opts {
        crl_age_hours: Some((72, 48)),
        ..Default::default()
    })
    .await;
    let (st, v) = gw.kyc(KEY_A, &h, b"while stale").await;
    assert_eq!(st, 200);
    assert_eq!(v["verdict"], "indeterminate", "{v}");
    assert_eq!(v["reason"], "TRY_LATER");
    assert_eq!(v["revocation"]["status"], "unknown");
    assert_eq!(v["revocation"]["reason_code"], "TRY_LATER");
    assert!(v["revocation"]["source_updated_at"].as_str().is_some());
    assert!(v["basic_info"].is_null());
    // Ready all the same (every replica shares the CRLs): the body and the metrics say stale.
    let (st, ready) = gw.get("/readyz", None).await;
    assert_eq!(st, 200, "{ready}");
    assert_eq!(ready["checks"]["index"]["ok"], true);
    assert_eq!(ready["checks"]["crl_freshness"]["ok"], false);
    let set = gw.gw.index.load().unwrap();
    let partitions = set.snapshots().map(|snap| snap.partitions().len()).sum::<usize>();
    assert!(partitions > 0);
    assert_eq!(ready["checks"]["crl_freshness"]["stale_partitions"], partitions);
    let m = gw.metrics().await;
    assert_eq!(
        support::sample(&m, "sp_gateway_index_stale_partitions"),
        Some(partitions as f64),
        "{m}"
    );
    for snap in set.snapshots() {
        let series = format!(
            "sp_gateway_index_ca_stale_partitions{{ca_key=\"{}\"}}",
            hex::encode(snap.issuer_key_id())
        );
        assert_eq!(
            support::sample(&m, &series),
            Some(snap.partitions().len() as f64),
            "{m}"
        );
    }
    drop(set);

    // Not registered while stale; register through a fresh index later. First make it fresh:
    // crl-sync writes a new snapshot into the same directory.
    let snap = gw.snap.clone();
    tokio::task::spawn_blocking(move || sim().build_snapshots(&snap, now() - time::Duration::minutes(1), 48))
        .await
        .unwrap();
    let mut fresh = false;
    for _ in 0..100 {
        let (_, v) = gw.kyc(KEY_A, &h, b"after the swap").await;
        if v["verdict"] == "valid" {
            fresh = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fresh, "the new snapshot was not swapped in");
    // crl-sync writes one partition after another, and the watcher may swap in between: the
    // certificate's own partition can be fresh (so its verdict is valid) while another one is
    // still stale. Freshness follows once the last lands.
    let mut fresh = false;
    for _ in 0..100 {
        let (st, ready) = gw.get("/readyz", None).await;
        assert_eq!(st, 200, "{ready}");
        if ready["checks"]["crl_freshness"]["ok"] == true {
            fresh = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fresh, "never fresh after every partition was refreshed");
    assert_eq!(gw.metric("sp_gateway_index_stale_partitions").await, Some(0.0));
    let m = gw.gw.metrics.render();
    let swaps = m
        .lines()
        .find_map(|l| l.strip_prefix("sp_gateway_index_swaps_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(swaps >= 1, "{m}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_then_stale_answers_unknown_not_good() {
    let s = sim();
    let h = s.issue("2023", false);
    // Valid for 1 h only, published 59 min 55 s ago (the harness subtracts 5 minutes more):
    // fresh at registration, stale a moment later with the grace of 0.
    let gw = start(Opts {
        crl_age_hours: Some((0, 1)),
        ..Default::default()
    })
    .await;
    let (_, v) = gw.kyc(KEY_A, &h, b"fresh").await;
    assert_eq!(v["verdict"], "valid", "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let item = status_of(&gw, &id).await;
    assert_eq!(item["status"], "good");
    // Replace the snapshot with one that expired a minute ago. crl-sync refuses a rollback (an
    // older thisUpdate) into the same directory, so build it elsewhere and copy it in.
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
    let item = wait_for(&gw, &id, "unknown").await;
    assert_eq!(item["reason_code"], "TRY_LATER");
    assert_eq!(item["check_method"], "crl");
    assert!(item["source_next_update"].as_str().is_some());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_shows_with_its_reason() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Default::default()).await;
    let (_, v) = gw.kyc(KEY_A, &h, b"before").await;
    let id = v["id"].as_str().unwrap().to_owned();
    let serial = v["certificate"]["serial"].as_str().unwrap().to_owned();
    s.sim
        .revoke(
            &Serial::from_hex(&serial).unwrap(),
            None,
            Reason::KeyCompromise,
            now(),
        )
        .unwrap();
    let snap = gw.snap.clone();
    tokio::task::spawn_blocking(move || sim().build_snapshots(&snap, now(), 48))
        .await
        .unwrap();
    let item = wait_for(&gw, &id, "revoked").await;
    assert_eq!(item["reason"], "keyCompromise");
    assert!(item["revoked_at"].as_str().is_some());
    assert_eq!(item["check_method"], "crl");
    let (_, v) = gw.kyc(KEY_A, &h, b"after").await;
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["reason"], "REVOKED");
    assert_eq!(v["revocation"]["status"], "revoked");
    assert_eq!(v["revocation"]["reason"], "keyCompromise");
    assert_eq!(v["registered"], false);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_index_is_not_ready_and_never_good() {
    let s = sim();
    let h = s.issue("2023", false);
    let gw = start(Opts {
        no_snapshot: true,
        ..Default::default()
    })
    .await;
    let (st, ready) = gw.get("/readyz", None).await;
    assert_eq!(st, 503);
    assert_eq!(ready["checks"]["index"]["ok"], false, "{ready}");
    assert_eq!(gw.metric("sp_gateway_index_loaded").await, Some(0.0));
    let (_, v) = gw.kyc(KEY_A, &h, b"no index").await;
    assert_eq!(v["verdict"], "indeterminate");
    assert_eq!(v["revocation"]["status"], "unknown");
    let (st, _) = gw.get("/healthz", None).await;
    assert_eq!(st, 200);
    gw.stop().await;
}
