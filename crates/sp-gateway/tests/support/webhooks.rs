//! Shared by the webhook tests: a gateway with the simulator's J-LIS service behind it, the
//! SPs' webhook secrets, and checks of what a receiver saw.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use revocation::{DeltaEvent, RevokedCertificate};
use serde_json::{Value, json};
use sp_gateway::webhooks::{EVENT_ID_HEADER, SIGNATURE_HEADER, signature};
use testkit::http::{ScriptedServer, SeenRequest};

use super::{DELTA_STREAM, Gw, Holder, Opts, now, sim, start};

pub const SECRET_A: &str = "whsec_a_0123456789abcdef0123456789abcdef";
pub const SECRET_B: &str = "whsec_b_fedcba9876543210fedcba9876543210";

/// A gateway with the simulator's J-LIS service behind it.
pub struct Env {
    pub gw: Gw,
    pub jlis: String,
    pub jlis_handle: actix_web::dev::ServerHandle,
}

pub async fn env() -> Env {
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
    pub async fn set_webhook(&self, key: &str, url: &str, secret: &str) {
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
    pub async fn enrol(&self, key: &str, consent: bool) -> (Holder, Value, Option<Value>) {
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

    /// J-LIS revokes each holder's signing certificate (a move); the snapshots are rebuilt from
    /// the new CRLs and one `revoked` delta event per certificate is appended to
    /// [`DELTA_STREAM`], as crl-sync would do (the end-to-end run with crl-sync itself is in the
    /// integration-tests crate).
    pub async fn move_and_announce(&self, holders: &[&Holder]) {
        let at = now() - time::Duration::minutes(1);
        for h in holders {
            sim()
                .sim
                .move_holder(&h.id, "大阪府大阪市北区中之島１丁目３番２０号", None, at)
                .unwrap();
        }
        let snap = self.gw.snap.clone();
        tokio::task::spawn_blocking(move || sim().build_snapshots(&snap, now(), 48))
            .await
            .unwrap();
        let mut con = redis::Client::open(self.gw.redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        for h in holders {
            let cert = openssl::x509::X509::from_der(&h.sign_der).unwrap();
            let event = DeltaEvent::Revoked(RevokedCertificate {
                issuer_key_id: cert.authority_key_id().unwrap().as_slice().to_vec(),
                serial: jpki::Serial::from_magnitude(&cert.serial_number().to_bn().unwrap().to_vec())
                    .unwrap(),
                reason: Some(jpki::Reason::AffiliationChanged),
                revoked_at: at.unix_timestamp(),
                partition: "sign-2023/test".into(),
                crl_number: "02".into(),
            });
            let _: String = con.xadd(DELTA_STREAM, "*", &event.to_fields()).await.unwrap();
        }
    }

    pub async fn metrics(&self) -> String {
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
    pub async fn stop(self) -> String {
        self.gw.stop().await;
        self.jlis_handle.stop(true).await;
        assert!(sp_gateway::audit::verify(&self.gw.audit).unwrap().ok);
        self.gw.audit_text()
    }
}

/// Waits (at most `limit`) until `server` has seen `n` requests, then a little longer to catch
/// extra ones; returns what it saw.
pub async fn wait_for(server: &ScriptedServer, n: usize, limit: Duration) -> Vec<SeenRequest> {
    let started = Instant::now();
    while server.seen().len() < n && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    server.seen()
}

pub fn body_of(r: &SeenRequest) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// The request is signed with `secret` and names its event id in the header and the body.
pub fn assert_signed(r: &SeenRequest, secret: &str) -> String {
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

pub fn dead_letters(redis_url: &str) -> Vec<redis::streams::StreamId> {
    let mut con = redis::Client::open(redis_url).unwrap().get_connection().unwrap();
    let r: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("jpki-pf:gw:{~wh}:dead")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    r.ids
}

/// Neither the webhook bodies nor the audit log carry the holder's 4 info.
pub fn assert_no_4_info(seen: &[SeenRequest], audit: &str, kyc: &Value) {
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
