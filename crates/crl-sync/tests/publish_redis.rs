//! Delta events against a real redis-server: appended once per CRL number, even when rerun.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crl_sync::publish::{Published, RevokedEvent, publish_delta};
use testkit::RedisServer;

fn events(n: usize) -> Vec<RevokedEvent> {
    (0..n)
        .map(|i| RevokedEvent {
            serial_hex: format!("{:08X}", 0x0100_0000 + i),
            revoked_at: 1_795_000_000 + i as i64,
            reason: Some("affiliationChanged"),
            partition: "sign-2023/131016".into(),
        })
        .collect()
}

#[tokio::test]
async fn appends_once_per_crl_number() {
    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ev = events(3);
    assert_eq!(
        publish_delta(&mut conn, "delta", "aabb", "05", &ev)
            .await
            .unwrap(),
        Published::Appended(3)
    );
    assert_eq!(
        publish_delta(&mut conn, "delta", "aabb", "05", &ev)
            .await
            .unwrap(),
        Published::AlreadyPublished
    );
    assert_eq!(
        publish_delta(&mut conn, "delta", "aabb", "06", &ev[..1])
            .await
            .unwrap(),
        Published::Appended(1)
    );
    let len: usize = redis::cmd("XLEN")
        .arg("delta")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(len, 4);
    let first: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("delta")
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let id = &first.ids[0];
    assert_eq!(id.get::<String>("serial").unwrap(), "01000000");
    assert_eq!(id.get::<String>("reason").unwrap(), "affiliationChanged");
}

#[tokio::test]
async fn redis_down_is_an_error_and_nothing_is_marked() {
    let mut redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis.stop();
    assert!(
        publish_delta(&mut conn, "delta", "aabb", "07", &events(2))
            .await
            .is_err()
    );
    redis.restart();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    assert_eq!(
        publish_delta(&mut conn, "delta", "aabb", "07", &events(2))
            .await
            .unwrap(),
        Published::Appended(2)
    );
}
