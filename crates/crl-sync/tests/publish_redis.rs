//! Delta events against a real redis-server: appended once per CRL number, even when rerun.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crl_sync::publish::{BaselineMarker, Publication, Published, RevokedEvent, publish, publish_delta};
use testkit::RedisServer;

fn events(n: usize) -> Vec<RevokedEvent> {
    (0..n)
        .map(|i| RevokedEvent {
            serial: jpki::Serial::from_u64(0x0100_0000 + i as u64),
            revoked_at: 1_795_000_000 + i as i64,
            reason: Some(jpki::Reason::AffiliationChanged),
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
        Published::Appended {
            events: 3,
            baselines: 0
        }
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
        Published::Appended {
            events: 1,
            baselines: 0
        }
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
        Published::Appended {
            events: 2,
            baselines: 0
        }
    );
}

#[tokio::test]
async fn baseline_markers_come_first_and_once() {
    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pb = Publication {
        baselines: vec![BaselineMarker {
            partition: "sign-2023/131130".into(),
            crl_number_hex: "2A".into(),
            entries: 20_000_000,
            this_update: 1_795_000_000,
        }],
        events: events(1),
    };
    let done = publish(&mut conn, "delta", "aabb", "2A+05", &pb).await.unwrap();
    assert_eq!(
        done,
        Published::Appended {
            events: 1,
            baselines: 1
        }
    );
    assert_eq!(
        publish(&mut conn, "delta", "aabb", "2A+05", &pb).await.unwrap(),
        Published::AlreadyPublished
    );
    let all: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("delta")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(all.ids.len(), 2);
    let marker = &all.ids[0];
    assert_eq!(marker.get::<String>("event").unwrap(), "baseline");
    assert_eq!(marker.get::<String>("issuer_key_id").unwrap(), "aabb");
    assert_eq!(marker.get::<String>("partition").unwrap(), "sign-2023/131130");
    assert_eq!(marker.get::<String>("crl_number").unwrap(), "2A");
    assert_eq!(marker.get::<String>("entries").unwrap(), "20000000");
    assert_eq!(marker.get::<String>("this_update").unwrap(), "1795000000");
    assert!(marker.get::<String>("serial").is_none());
    assert_eq!(all.ids[1].get::<String>("event").unwrap(), "revoked");
}
