//! crl-sync's HTTP fetch against a scripted loopback server: conditional GET, 500s, timeouts,
//! cut-off bodies and oversize bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use crl_sync::fetch::{FetchError, FetchOutcome, FetchPolicy, Validators, client, fetch};
use testkit::http::{Reply, ScriptedServer};

fn policy() -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(500),
        retries: 2,
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        max_bytes: 1000,
    }
}

fn ok(body: &[u8]) -> Reply {
    Reply::Ok {
        body: body.to_vec(),
        etag: "\"v1\"".into(),
        last_modified: "Mon, 23 Nov 2026 07:00:00 GMT".into(),
    }
}

#[tokio::test]
async fn conditional_get_round_trip() {
    let srv = ScriptedServer::start(vec![ok(b"crl-bytes"), ok(b"crl-bytes")]);
    let url = format!("{}/crl/a.crl", srv.base_url());
    let c = client(&policy()).unwrap();
    let FetchOutcome::Fetched { body, validators } =
        fetch(&c, &url, &Validators::default(), &policy()).await.unwrap()
    else {
        panic!("expected a body")
    };
    assert_eq!(body, b"crl-bytes");
    assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
    let again = fetch(&c, &url, &validators, &policy()).await.unwrap();
    assert!(matches!(again, FetchOutcome::NotModified));
    let seen = srv.seen();
    assert!(
        seen[1]
            .headers
            .iter()
            .any(|(k, v)| k == "if-none-match" && v == "\"v1\"")
    );
    assert!(seen[1].headers.iter().any(|(k, _)| k == "if-modified-since"));
}

#[tokio::test]
async fn retries_500_then_succeeds() {
    let srv = ScriptedServer::start(vec![Reply::Status(500), Reply::Status(503), ok(b"x")]);
    let c = client(&policy()).unwrap();
    let out = fetch(&c, &srv.base_url(), &Validators::default(), &policy())
        .await
        .unwrap();
    assert!(matches!(out, FetchOutcome::Fetched { .. }));
    assert_eq!(srv.seen().len(), 3);
}

#[tokio::test]
async fn persistent_500_is_unreachable_after_bounded_retries() {
    let srv = ScriptedServer::start(vec![Reply::Status(500)]);
    let c = client(&policy()).unwrap();
    let err = fetch(&c, &srv.base_url(), &Validators::default(), &policy())
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Unreachable { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(err.code(), "UPSTREAM_UNREACHABLE");
    assert_eq!(srv.seen().len(), 3);
}

#[tokio::test]
async fn timeout_is_unreachable() {
    let srv = ScriptedServer::start(vec![Reply::Stall(Duration::from_secs(3))]);
    let c = client(&policy()).unwrap();
    let err = fetch(&c, &srv.base_url(), &Validators::default(), &policy())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn partial_body_is_retried_and_never_returned() {
    let srv = ScriptedServer::start(vec![Reply::Truncated {
        body: b"half".to_vec(),
        announced: 100,
    }]);
    let c = client(&policy()).unwrap();
    let err = fetch(&c, &srv.base_url(), &Validators::default(), &policy())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn oversize_is_rejected_without_retry() {
    let srv = ScriptedServer::start(vec![ok(&[7u8; 2000])]);
    let c = client(&policy()).unwrap();
    let err = fetch(&c, &srv.base_url(), &Validators::default(), &policy())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn client_error_is_not_retried() {
    let srv = ScriptedServer::start(vec![Reply::Status(404)]);
    let c = client(&policy()).unwrap();
    let err = fetch(&c, &srv.base_url(), &Validators::default(), &policy())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Status { status: 404, .. }));
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn refused_connection_is_unreachable() {
    let port = testkit::free_port();
    let c = client(&policy()).unwrap();
    let err = fetch(
        &c,
        &format!("http://127.0.0.1:{port}/x"),
        &Validators::default(),
        &policy(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }));
}
