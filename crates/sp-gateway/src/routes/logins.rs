//! Login: `POST /v1/challenges` issues a single-use nonce (32 random bytes, base64url) kept in
//! Redis with a short TTL; `POST /v1/logins` consumes it with GETDEL **before** verifying, so a
//! nonce is good for exactly one attempt, and verifies the user-authentication certificate's
//! signature over the nonce's 32 raw bytes. The answer carries the `user_id` linked to the
//! certificate: the one it was registered with, the user named in `link_user_id` (an SP that has
//! just identified the user another way links the auth certificate to that user), or a new one.

use actix_web::{HttpRequest, HttpResponse, web};
use pf_server::registry::Purpose;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::body::{b64, from_b64url, read_json, to_b64url};
use crate::error::ApiError;
use crate::index;
use crate::report::{Record, cert_ref, record, revocation_view};
use crate::routes::verifications::account;
use crate::state::Shared;
use crate::store::{CertToRegister, Registered, Registration};
use pf_server::clock::{now_unix, rfc3339};

const NONCE_LEN: usize = 32;

/// `POST /v1/challenges`: no body needed.
pub async fn challenge(gw: web::Data<Shared>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Login)?;
    gw.limit(sp, 0).await?;
    let mut raw = [0u8; NONCE_LEN];
    crate::random::fill(&mut raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let nonce = to_b64url(&raw);
    let ttl = gw.config.login.challenge_ttl_secs;
    gw.store.put_challenge(&sp.id, &nonce, ttl).await?;
    let ttl_i = i64::try_from(ttl).unwrap_or(i64::MAX);
    Ok(HttpResponse::Created().json(json!({
        "challenge": nonce,
        "expires_at": rfc3339(now_unix().saturating_add(ttl_i)),
        "ttl_seconds": ttl,
    })))
}

/// The login request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The challenge as issued.
    pub challenge: String,
    /// User-authentication certificate, base64 DER.
    pub certificate: String,
    /// Signature over the challenge's raw bytes, base64.
    pub signature: String,
    /// Link this (not yet linked) certificate to an existing user of this SP.
    #[serde(default)]
    pub link_user_id: Option<String>,
}

/// `POST /v1/logins`.
pub async fn login(
    gw: web::Data<Shared>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::Login)?;
    gw.limit(sp, 0).await?;
    let body: LoginRequest = read_json(&req, payload, gw.config.limits.max_json_bytes).await?;
    let nonce = from_b64url(&body.challenge)
        .filter(|n| n.len() == NONCE_LEN)
        .ok_or(ApiError::InvalidChallenge)?;
    let cert = b64("certificate", &body.certificate)?;
    let sig = b64("signature", &body.signature)?;
    if let Some(u) = &body.link_user_id
        && (!u.starts_with("usr_") || u.len() > 64)
    {
        return Err(ApiError::InvalidRequest("link_user_id is not a user id".into()));
    }
    if !gw.store.take_challenge(&sp.id, &body.challenge).await? {
        gw.audit
            .record("login_refused", Some(&sp.id), json!({"why": "invalid_challenge"}));
        return Err(ApiError::InvalidChallenge);
    }
    let now = now_unix();
    let set = gw.index.load();
    let (grace, map) = (gw.index.grace(), &gw.config.index.crl_dp_partitions);
    let src = |key: &[u8], serial: &jpki::Serial, points: &[String], at: i64| {
        index::status(set.as_deref(), key, serial, at, grace, points, map)
    };
    let report = gw.verifier.verify_login(&cert, &nonce, &sig, now, &src);
    let revocation = revocation_view(&report);
    // The certificate's own CRL partition, recorded in the id and in Redis for later status checks.
    let to_register = cert_ref(&report, &gw.tags).map(|(mut c, kind)| {
        c.partition = index::record_partition(report.revocation_status.as_ref(), &cert, map);
        (c, kind)
    });
    drop(set);
    let id = gw
        .ids
        .seal(&sp.id, to_register.as_ref().map(|(c, _)| c))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let rec = record(Some(&id), "login", &report, &revocation);
    let rec_text = serde_json::to_string(&rec).map_err(|e| ApiError::Internal(e.to_string()))?;
    let fingerprint = report
        .certificate
        .as_ref()
        .map(|c| c.fingerprint.clone())
        .unwrap_or_default();
    let reg = Registration {
        id: &id,
        record: &rec_text,
        cert: to_register.as_ref().map(|(c, kind)| CertToRegister {
            cert: c,
            kind: kind.short_name(),
            der: &cert,
            fingerprint: &fingerprint,
        }),
        link_user: body.link_user_id.as_deref(),
        idempotency: None,
        idempotency_ttl: 0,
    };
    let (user_id, new_user) = match gw.store.register(&sp.id, &reg).await? {
        Registered::Ok { user_id, new_user } => ((!user_id.is_empty()).then_some(user_id), new_user),
        Registered::CertLinkedElsewhere => {
            return Err(ApiError::Conflict(
                "this certificate is already linked to another user".into(),
            ));
        }
        Registered::NoSuchUser => return Err(ApiError::NotFound),
    };
    account(&gw, &sp.id, &report, &revocation, "login");
    gw.audit.record(
        "login",
        Some(&sp.id),
        json!({
            "id": id,
            "verdict": report.verdict,
            "reason": report.reason,
            "serial": report.certificate.as_ref().map(|c| c.serial.as_str()),
            "revocation": revocation.get("status"),
            "check_method": revocation.get("check_method"),
            "user_id": user_id,
            "new_user": new_user,
            "linked": body.link_user_id.is_some(),
        }),
    );
    Ok(HttpResponse::Ok().json(LoginAnswer {
        record: rec,
        user_id: user_id.as_deref(),
        new_user,
    }))
}

/// The login answer: the record, the user and whether this login created it.
#[derive(Debug, Serialize)]
struct LoginAnswer<'a> {
    #[serde(flatten)]
    record: Record<'a>,
    user_id: Option<&'a str>,
    new_user: bool,
}
