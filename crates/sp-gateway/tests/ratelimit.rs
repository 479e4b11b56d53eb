//! The shared rate limiter against a real `redis-server`: leases keep a busy SP at one Redis call
//! per lease even with many requests in flight, and a tight limit still holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use pf_server::ratelimit::{Decision, RateLimiter};
use pf_server::registry::Sp;
use sp_gateway::store::Store;

fn sp(id: &str, rps: f64, burst: u64, ips: f64, items_burst: u64) -> Sp {
    Sp {
        id: id.into(),
        name: id.into(),
        purposes: Vec::new(),
        requests_per_second: rps,
        burst,
        items_per_second: ips,
        items_burst,
        client_certs: Vec::new(),
        client_subject: None,
    }
}

fn script_calls(redis: &testkit::RedisServer) -> u64 {
    let mut c = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_lease() {
    let redis = testkit::RedisServer::start();
    let store = Arc::new(Store::connect(&redis.url(), Duration::from_secs(2), "rl-test").unwrap());
    let limiter = Arc::new(RateLimiter::new());
    let busy = Arc::new(sp("busy", 100_000.0, 100_000, 100_000.0, 1_000_000));
    let before = script_calls(&redis);
    // 64 tasks x 200 requests, status-like (1 item) and KYC-like (0 items) mixed, well inside
    // the SP's limits: all allowed, with a handful of Redis calls.
    let mut tasks = Vec::new();
    for t in 0..64u64 {
        let (store, limiter, busy) = (Arc::clone(&store), Arc::clone(&limiter), Arc::clone(&busy));
        tasks.push(tokio::spawn(async move {
            let mut denied = 0;
            for i in 0..200u64 {
                let items = (t + i) % 2;
                if limiter.check(&store, &busy, items).await != Decision::Allow {
                    denied += 1;
                }
            }
            denied
        }));
    }
    let mut denied = 0;
    for t in tasks {
        denied += t.await.unwrap();
    }
    let calls = script_calls(&redis) - before;
    assert_eq!(denied, 0, "requests under the limit were refused");
    // 12,800 requests; leases of 5,000 tokens (50 ms at 100k/s) for each of the two limiters.
    assert!(calls <= 40, "{calls} Redis calls for 12,800 requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tight_limit_holds_under_concurrency() {
    let redis = testkit::RedisServer::start();
    let store = Arc::new(Store::connect(&redis.url(), Duration::from_secs(2), "rl-test").unwrap());
    let limiter = Arc::new(RateLimiter::new());
    // 2 per second, burst 10: of 200 immediate requests about 10 pass (a few more if the test
    // runs slowly), never anywhere near all of them.
    let tight = Arc::new(sp("tight", 2.0, 10, 1000.0, 1000));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, limiter, tight) = (Arc::clone(&store), Arc::clone(&limiter), Arc::clone(&tight));
        tasks.push(tokio::spawn(async move {
            let mut allowed = 0u32;
            for _ in 0..10 {
                if limiter.check(&store, &tight, 0).await == Decision::Allow {
                    allowed += 1;
                }
            }
            allowed
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += t.await.unwrap();
    }
    assert!(
        (10..=14).contains(&allowed),
        "{allowed} of 200 allowed at burst 10"
    );
    // Items are limited separately: a bulk beyond the item burst is refused.
    let items = sp("items", 1000.0, 1000, 10.0, 100);
    assert_eq!(limiter.check(&store, &items, 100).await, Decision::Allow);
    assert!(matches!(
        limiter.check(&store, &items, 50).await,
        Decision::Deny { .. }
    ));
}
