//! The client against the real `jlis-sim serve` OCSP responder, and the verifier refusing forged
//! or mismatched answers with the right code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use der::asn1::OctetString;
use jpki::ocsp::{MAX_OCSP_LEN, OcspResponse, ResponderId, ResponseStatus};
use jpki::{CertStatus, CheckMethod, Reason, Serial};
use ocsp_client::{
    AnswerSource, CertIdHash, ClientConfig, OcspClient, OcspClientError, OcspQuery, Verified, VerifyPolicy,
    responder_url, unix_now, verify_response,
};
use proptest::prelude::*;
use support::{
    CA, ResponderSpec, ca, ca_key, gtime, issue, key_hash, make_cert, raw_server, resign, responder, rsa_key,
    serve, sim,
};

const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

fn client() -> OcspClient {
    OcspClient::new(ClientConfig::default()).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, OcspClientError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

/// A query for a new certificate and the genuine answer to it from the simulator.
async fn genuine(url: &str, nonce: bool) -> (Vec<u8>, OcspQuery, Vec<u8>) {
    let (cert, _) = issue();
    let query = OcspQuery::new(&cert, &ca(CA), CertIdHash::Sha1, nonce.then_some(16)).unwrap();
    let body = client().fetch(url, query.der()).await.unwrap();
    (cert, query, body)
}

fn verify(body: &[u8], query: &OcspQuery) -> Result<Verified, OcspClientError> {
    verify_response(body, query, &ca(CA), unix_now(), &VerifyPolicy::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_revoked_and_unknown_from_the_simulator() {
    let url = serve();
    let issuer = ca(CA);
    let client = client();

    // Good, then from the cache.
    let (cert, _) = issue();
    let (v, source) = client.check_with_source(&cert, &issuer, &url).await.unwrap();
    assert_eq!(source, AnswerSource::Upstream);
    let CertStatus::Good(f) = &v.status else {
        panic!("{v:?}")
    };
    assert_eq!(f.method, CheckMethod::Ocsp);
    assert_eq!(&*f.partition, url.as_str());
    assert_eq!(f.basis, jpki::Basis::OwnPartition);
    assert!(v.this_update <= unix_now() && unix_now() < v.next_update);
    assert_eq!(
        v.next_update - v.this_update,
        15 * 60,
        "the simulator's validity window"
    );
    let (again, source) = client.check_with_source(&cert, &issuer, &url).await.unwrap();
    assert_eq!((source, &again), (AnswerSource::Cache, &v));
    assert_eq!(client.cache().len(), 1);

    // Revoked, with time and reason.
    let (cert, serial) = issue();
    let at = support::now() - time::Duration::hours(2);
    sim()
        .sim
        .revoke(&serial, None, Reason::KeyCompromise, at)
        .unwrap();
    let v = client.check(&cert, &issuer, &url).await.unwrap();
    let CertStatus::Revoked {
        revoked_at, reason, ..
    } = v.status
    else {
        panic!("{v:?}")
    };
    assert_eq!(revoked_at, at.unix_timestamp());
    assert_eq!(reason, Some(Reason::KeyCompromise));

    // Unknown: a serial the CA never issued.
    let serial = Serial::from_hex("7fffffffffff0001").unwrap();
    let query = OcspQuery::for_serial(serial, &issuer, CertIdHash::Sha1, Some(vec![7; 20])).unwrap();
    let body = client.fetch(&url, query.der()).await.unwrap();
    let v = verify(&body, &query).unwrap();
    assert!(
        matches!(
            v.status,
            CertStatus::Unknown {
                freshness: Some(_),
                ..
            }
        ),
        "{v:?}"
    );

    // Without a nonce.
    let no_nonce = OcspClient::new(ClientConfig {
        nonce_len: None,
        ..ClientConfig::default()
    })
    .unwrap();
    let (cert, _) = issue();
    let v = no_nonce.check(&cert, &issuer, &url).await.unwrap();
    assert_eq!(v.status.label(), "good");

    // The ECDSA P-384 generation answers through its own delegated responder.
    let issued = sim()
        .sim
        .issue(&jlis_sim::IssueRequest {
            generation: Some("2026".into()),
            smartphone: false,
            test: false,
            person: jlis_sim::PersonInput::default(),
            at: support::now() - time::Duration::days(1),
        })
        .unwrap();
    let cert = openssl::x509::X509::from_pem(&std::fs::read(&issued.sign.cert).unwrap())
        .unwrap()
        .to_der()
        .unwrap();
    let v = client.check(&cert, &ca("sign-2026"), &url).await.unwrap();
    assert_eq!(v.status.label(), "good");

    // A SHA-256 CertID: the simulator (like J-LIS) matches SHA-1 only and answers unauthorized.
    let sha256 = OcspClient::new(ClientConfig {
        cert_id_hash: CertIdHash::Sha256,
        ..ClientConfig::default()
    })
    .unwrap();
    assert_eq!(
        code(sha256.check(&cert, &ca("sign-2026"), &url).await),
        "OCSP_RESPONDER_ERROR"
    );

    // A certificate checked against the wrong CA is refused before anything is sent.
    assert_eq!(
        code(client.check(&cert, &issuer, &url).await),
        "OCSP_ISSUER_MISMATCH"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_replay_and_missing_nonce() {
    let url = serve();
    let (cert, query, body) = genuine(&url, true).await;
    assert!(verify(&body, &query).is_ok());

    // The same answer replayed to another question about the same certificate.
    let other = OcspQuery::new(&cert, &ca(CA), CertIdHash::Sha1, Some(16)).unwrap();
    assert_ne!(other.nonce(), query.nonce());
    assert_eq!(code(verify(&body, &other)), "OCSP_NONCE_MISMATCH");

    // An answer without a nonce to a question with one: refused, unless configured otherwise.
    let plain = OcspQuery::new(&cert, &ca(CA), CertIdHash::Sha1, None).unwrap();
    let no_nonce_body = client().fetch(&url, plain.der()).await.unwrap();
    assert!(verify(&no_nonce_body, &plain).is_ok());
    assert_eq!(code(verify(&no_nonce_body, &query)), "OCSP_NONCE_MISSING");
    let lenient = VerifyPolicy {
        require_nonce: false,
        ..VerifyPolicy::default()
    };
    assert!(verify_response(&no_nonce_body, &query, &ca(CA), unix_now(), &lenient).is_ok());
    // A wrong nonce is refused whatever the policy.
    assert_eq!(
        code(verify_response(&body, &other, &ca(CA), unix_now(), &lenient)),
        "OCSP_NONCE_MISMATCH"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_mismatched_answers_are_refused() {
    let url = serve();
    let (_, query, body) = genuine(&url, true).await;
    let issuer = ca(CA);
    let (resp_cert, resp_key) = responder(CA);

    // Re-signed by the real responder without change: accepted (the forging helper is sound).
    let same = resign(&body, |_| {}, &resp_key, &[&resp_cert]);
    assert!(verify(&same, &query).is_ok());

    // Signed by a key that is not the CA's responder: a self-made "responder" certificate with
    // id-kp-OCSPSigning, issued by a CA of our own making under the same name.
    let rogue_ca_key = rsa_key();
    let rogue_key = rsa_key();
    let rogue = make_cert(&ResponderSpec {
        issuer_name: issuer.certificate().subject_name(),
        issuer_key: &rogue_ca_key,
        key: &rogue_key,
        eku: Some(OCSP_SIGNING),
        not_before_days: -1,
        not_after_days: 30,
        aia: None,
    });
    let hash = key_hash(&rogue);
    let forged = resign(
        &body,
        |d| d.responder_id = ResponderId::ByKey(OctetString::new(hash).unwrap()),
        &rogue_key,
        &[&rogue],
    );
    assert_eq!(code(verify(&forged, &query)), "OCSP_RESPONDER_NOT_AUTHORIZED");

    // The real responder named and included, the signature made with another key.
    let forged = resign(&body, |_| {}, &rogue_key, &[&resp_cert]);
    assert_eq!(code(verify(&forged, &query)), "OCSP_BAD_SIGNATURE");

    // Signed by a key whose certificate is not in the response at all.
    let forged = resign(&body, |_| {}, &resp_key, &[]);
    assert_eq!(code(verify(&forged, &query)), "OCSP_RESPONDER_NOT_AUTHORIZED");

    // A responder certificate issued by the real CA but without id-kp-OCSPSigning.
    let ca_key = ca_key(CA);
    let no_eku_key = rsa_key();
    let no_eku = make_cert(&ResponderSpec {
        issuer_name: issuer.certificate().subject_name(),
        issuer_key: &ca_key,
        key: &no_eku_key,
        eku: None,
        not_before_days: -1,
        not_after_days: 30,
        aia: None,
    });
    let hash = key_hash(&no_eku);
    let forged = resign(
        &body,
        |d| d.responder_id = ResponderId::ByKey(OctetString::new(hash).unwrap()),
        &no_eku_key,
        &[&no_eku],
    );
    let err = verify(&forged, &query).unwrap_err();
    assert_eq!(err.code(), "OCSP_RESPONDER_NOT_AUTHORIZED");
    assert!(err.to_string().contains("extendedKeyUsage"), "{err}");
    // ... or with an extendedKeyUsage for another purpose (id-kp-clientAuth).
    let client_auth = make_cert(&ResponderSpec {
        issuer_name: issuer.certificate().subject_name(),
        issuer_key: &ca_key,
        key: &no_eku_key,
        eku: Some("1.3.6.1.5.5.7.3.2"),
        not_before_days: -1,
        not_after_days: 30,
        aia: None,
    });
    let forged = resign(
        &body,
        |d| d.responder_id = ResponderId::ByKey(OctetString::new(key_hash(&client_auth)).unwrap()),
        &no_eku_key,
        &[&client_auth],
    );
    let err = verify(&forged, &query).unwrap_err();
    assert_eq!(err.code(), "OCSP_RESPONDER_NOT_AUTHORIZED");
    assert!(err.to_string().contains("id-kp-OCSPSigning"), "{err}");

    // The same with id-kp-OCSPSigning is accepted (CA-issued, valid): then expired, refused.
    for (days, ok) in [((-1, 30), true), ((-30, -1), false), ((1, 30), false)] {
        let key = rsa_key();
        let cert = make_cert(&ResponderSpec {
            issuer_name: issuer.certificate().subject_name(),
            issuer_key: &ca_key,
            key: &key,
            eku: Some(OCSP_SIGNING),
            not_before_days: days.0,
            not_after_days: days.1,
            aia: None,
        });
        let hash = key_hash(&cert);
        let signed = resign(
            &body,
            |d| d.responder_id = ResponderId::ByKey(OctetString::new(hash).unwrap()),
            &key,
            &[&cert],
        );
        match verify(&signed, &query) {
            Ok(_) => assert!(ok, "validity {days:?} accepted"),
            Err(e) => {
                assert!(!ok, "validity {days:?} refused: {e}");
                assert_eq!(e.code(), "OCSP_RESPONDER_NOT_AUTHORIZED");
            }
        }
    }

    // Signed by the CA itself (named by name): authorized.
    let by_ca = resign(
        &body,
        |d| d.responder_id = ResponderId::ByName(x509_name(issuer.subject_der())),
        &ca_key,
        &[],
    );
    assert!(verify(&by_ca, &query).is_ok());

    // An answer for another serial, properly signed by the real responder.
    let forged = resign(
        &body,
        |d| {
            let serial = Serial::from_hex("0123456789").unwrap();
            d.responses[0].cert_id.serial_number = der::asn1::Int::new(&serial.to_der_content()).unwrap();
        },
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&forged, &query)), "OCSP_CERTID_MISMATCH");
    // ... and a genuine answer about another certificate.
    let (_, other_query, other_body) = genuine(&url, true).await;
    assert!(verify(&other_body, &other_query).is_ok());
    assert_eq!(code(verify(&other_body, &query)), "OCSP_CERTID_MISMATCH");
    // ... another issuer key hash, or two answers for one question.
    let forged = resign(
        &body,
        |d| d.responses[0].cert_id.issuer_key_hash = OctetString::new(vec![0u8; 20]).unwrap(),
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&forged, &query)), "OCSP_CERTID_MISMATCH");
    let forged = resign(
        &body,
        |d| d.responses.push(d.responses[0].clone()),
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&forged, &query)), "OCSP_CERTID_MISMATCH");

    // Time window: past nextUpdate, no nextUpdate, thisUpdate or producedAt in the future.
    let v = verify(&body, &query).unwrap();
    let policy = VerifyPolicy::default();
    let late = v.next_update + policy.max_skew_secs;
    assert_eq!(
        code(verify_response(&body, &query, &issuer, late, &policy)),
        "OCSP_STALE"
    );
    assert!(verify_response(&body, &query, &issuer, late - 1, &policy).is_ok());
    let t = unix_now();
    let past = resign(
        &body,
        |d| {
            d.responses[0].this_update = gtime(t - 7200);
            d.responses[0].next_update = Some(gtime(t - 3600));
        },
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&past, &query)), "OCSP_STALE");
    let open_ended = resign(
        &body,
        |d| d.responses[0].next_update = None,
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&open_ended, &query)), "OCSP_STALE");
    let future = resign(
        &body,
        |d| {
            d.responses[0].this_update = gtime(t + 3600);
            d.responses[0].next_update = Some(gtime(t + 7200));
        },
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&future, &query)), "OCSP_NOT_YET_VALID");
    let future = resign(
        &body,
        |d| d.produced_at = gtime(t + 3600),
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&future, &query)), "OCSP_NOT_YET_VALID");

    // An unknown critical extension.
    let critical = resign(
        &body,
        |d| {
            d.responses[0].single_extensions = Some(vec![x509_cert::ext::Extension {
                extn_id: der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4"),
                critical: true,
                extn_value: OctetString::new(vec![5, 0]).unwrap(),
            }]);
        },
        &resp_key,
        &[&resp_cert],
    );
    assert_eq!(code(verify(&critical, &query)), "OCSP_MALFORMED");

    // Garbage, truncated DER, an empty body, an error status, more than the size bound.
    assert_eq!(code(verify(b"\x00garbage", &query)), "OCSP_MALFORMED");
    assert_eq!(code(verify(&[], &query)), "OCSP_MALFORMED");
    for cut in [1, body.len() / 2, body.len() - 1] {
        assert_eq!(
            code(verify(&body[..cut], &query)),
            "OCSP_MALFORMED",
            "cut at {cut}"
        );
    }
    let try_later = OcspResponse::error(ResponseStatus::TryLater).unwrap();
    assert_eq!(code(verify(&try_later, &query)), "OCSP_RESPONDER_ERROR");
    let mut huge = body.clone();
    huge.resize(MAX_OCSP_LEN + 1, 0);
    assert_eq!(code(verify(&huge, &query)), "OCSP_RESPONSE_TOO_LARGE");
}

fn x509_name(der: &[u8]) -> x509_cert::name::Name {
    use der::Decode;
    x509_cert::name::Name::from_der(der).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures() {
    let (cert, _) = issue();
    let issuer = ca(CA);
    let client = OcspClient::new(ClientConfig {
        timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    })
    .unwrap();

    let url = raw_server(500, "text/plain", b"oops".to_vec(), false);
    assert_eq!(
        code(client.check(&cert, &issuer, &url).await),
        "OCSP_UPSTREAM_STATUS"
    );
    let url = raw_server(302, "text/plain", Vec::new(), false);
    assert_eq!(
        code(client.check(&cert, &issuer, &url).await),
        "OCSP_UPSTREAM_STATUS"
    );

    let refused = format!("http://127.0.0.1:{}/ocsp", testkit::free_port());
    let err = client.check(&cert, &issuer, &refused).await.unwrap_err();
    assert_eq!(err.code(), "OCSP_UPSTREAM_UNREACHABLE");
    assert!(err.is_upstream());

    let url = raw_server(200, "text/html", b"<html>".to_vec(), false);
    assert_eq!(
        code(client.check(&cert, &issuer, &url).await),
        "OCSP_UPSTREAM_CONTENT_TYPE"
    );

    for chunked in [false, true] {
        let url = raw_server(
            200,
            "application/ocsp-response",
            vec![0x30; MAX_OCSP_LEN + 1],
            chunked,
        );
        assert_eq!(
            code(client.check(&cert, &issuer, &url).await),
            "OCSP_RESPONSE_TOO_LARGE",
            "chunked {chunked}"
        );
    }
    let url = raw_server(
        200,
        "application/ocsp-response",
        b"\x30\x03garbage".to_vec(),
        false,
    );
    assert_eq!(code(client.check(&cert, &issuer, &url).await), "OCSP_MALFORMED");

    let stall =
        testkit::http::ScriptedServer::start(vec![testkit::http::Reply::Stall(Duration::from_secs(5))]);
    let url = format!("{}/ocsp", stall.base_url());
    assert_eq!(
        code(client.check(&cert, &issuer, &url).await),
        "OCSP_UPSTREAM_TIMEOUT"
    );

    assert_eq!(
        code(client.check(&cert, &issuer, "ftp://example/ocsp").await),
        "OCSP_NO_RESPONDER_URL"
    );
    assert!(client.cache().is_empty(), "no failure is cached");
}

#[test]
fn responder_url_from_aia_or_configuration() {
    let issuer = ca(CA);
    let ca_key = ca_key(CA);
    let key = rsa_key();
    let spec = |aia, issuer_key| ResponderSpec {
        issuer_name: issuer.certificate().subject_name(),
        issuer_key,
        key: &key,
        eku: None,
        not_before_days: -1,
        not_after_days: 30,
        aia,
    };
    let with_aia = make_cert(&spec(Some("http://ocsp.example.jp/auth"), &ca_key))
        .to_der()
        .unwrap();
    assert_eq!(
        ocsp_client::ocsp_url(&with_aia).unwrap().as_deref(),
        Some("http://ocsp.example.jp/auth")
    );
    assert_eq!(
        responder_url(&with_aia, &issuer).unwrap(),
        "http://ocsp.example.jp/auth"
    );

    // An AIA in a certificate the CA did not sign is not followed.
    let rogue_key = rsa_key();
    let forged = make_cert(&spec(Some("http://attacker.example/"), &rogue_key))
        .to_der()
        .unwrap();
    assert_eq!(code(responder_url(&forged, &issuer)), "OCSP_ISSUER_MISMATCH");

    // Without AIA: the configured URL, or nothing.
    let (plain, _) = issue();
    assert_eq!(ocsp_client::ocsp_url(&plain).unwrap(), None);
    assert_eq!(code(responder_url(&plain, &issuer)), "OCSP_NO_RESPONDER_URL");
    let configured = issuer.clone().with_responder_url("http://jlis.example/ocsp");
    assert_eq!(
        responder_url(&plain, &configured).unwrap(),
        "http://jlis.example/ocsp"
    );
    let bad = issuer.with_responder_url("file:///etc/passwd");
    assert_eq!(code(responder_url(&plain, &bad)), "OCSP_NO_RESPONDER_URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_certificate_uses_the_configured_url_and_the_cache() {
    let url = serve();
    let issuer = ca(CA).with_responder_url(url.clone());
    let client = client();
    let (cert, _) = issue();
    let (v, source) = client.check_certificate(&cert, &issuer).await.unwrap();
    assert_eq!((v.status.label(), source), ("good", AnswerSource::Upstream));
    // Concurrent checks of one certificate share one answer.
    let (cert, _) = issue();
    let (a, b) = tokio::join!(
        client.check_certificate(&cert, &issuer),
        client.check_certificate(&cert, &issuer)
    );
    let sources = [a.unwrap().1, b.unwrap().1];
    assert!(sources.contains(&AnswerSource::Cache), "{sources:?}");
    assert!(sources.contains(&AnswerSource::Upstream), "{sources:?}");
}

fn genuine_blocking() -> &'static (OcspQuery, Vec<u8>) {
    static G: std::sync::OnceLock<(OcspQuery, Vec<u8>)> = std::sync::OnceLock::new();
    G.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let url = serve();
            let (_, q, body) = genuine(&url, true).await;
            (q, body)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The verifier never panics on arbitrary bytes, and never accepts them.
    #[test]
    fn arbitrary_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (query, _) = genuine_blocking();
        prop_assert!(verify(&bytes, query).is_err());
    }

    /// A genuine answer with one byte changed never panics the verifier, and when it still
    /// verifies (a change outside the signed data) it says what the genuine one said.
    #[test]
    fn one_changed_byte_never_changes_the_answer(at in any::<prop::sample::Index>(), xor in 1u8..) {
        let (query, body) = genuine_blocking();
        let mut mutated = body.clone();
        let i = at.index(mutated.len());
        mutated[i] ^= xor;
        let genuine = verify(body, query).unwrap();
        if let Ok(v) = verify(&mutated, query) {
            prop_assert_eq!(v.status, genuine.status);
        }
    }
}
