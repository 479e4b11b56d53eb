//! The relay: a stale partition is answered from J-LIS's responder (the simulator's), verified,
//! re-signed and counted; with J-LIS down the answer is `tryLater`, never good.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use jpki::{Reason, Serial};
use support::{GOOD, Upstream, env_with, issue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_partition_is_relayed_to_jlis_verified_and_counted() {
    let (mut e, sim) = env_with(64, Upstream::Simulator).await;
    let good = issue(&sim);
    let revoked = issue(&sim);
    let now = time::OffsetDateTime::now_utc();
    sim.revoke(
        &revoked,
        None,
        Reason::KeyCompromise,
        now - time::Duration::hours(5),
    )
    .unwrap();
    // Every partition stale: the CRL data cannot vouch, J-LIS's responder is asked.
    e.publish(now.unix_timestamp() - 7200, 1, &[]);
    e.swapped().await;
    let as_u64 = |s: Serial| u64::from_str_radix(&s.to_hex(), 16).unwrap();
    for nonce in [true, false] {
        let text = e.ask("sign-2023", as_u64(good), nonce);
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(&format!("{:#x}: good", as_u64(good))), "{text}");
    }
    let text = e.ask("sign-2023", as_u64(revoked), true);
    assert!(
        text.contains(&format!("{:#x}: revoked", as_u64(revoked))),
        "{text}"
    );
    assert!(text.contains("Reason: keyCompromise"), "{text}");
    let metrics = reqwest::get(format!("{}metrics", e.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Two certificates asked upstream; the second question about `good` came from the verified cache.
    assert!(
        metrics.contains("ocsp_proxy_relay_total{result=\"upstream\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_proxy_relay_total{result=\"cache\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_proxy_responses_total{source=\"upstream\",status=\"successful\"} 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_partition_with_jlis_down_is_try_later_never_good() {
    let (mut e, _) = env_with(64, Upstream::Down).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    e.publish(now - 7200, 1, &[]);
    e.swapped().await;
    let text = e.ask("sign-2023", GOOD, true);
    assert!(text.to_lowercase().contains("trylater"), "{text}");
    assert!(!text.contains(": good"), "{text}");
    let metrics = reqwest::get(format!("{}metrics", e.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ocsp_proxy_relay_total{result=\"OCSP_UPSTREAM_UNREACHABLE\"} 1"),
        "{metrics}"
    );
}
