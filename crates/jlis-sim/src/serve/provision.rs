//! The 4-info provision service (最新の利用者情報提供), JSON over HTTP.
//!
//! **Simplification**: a real consent is an XML document signed with the holder's signing key
//! and submitted by the SP; here the SP just names the holder (`POST /4info/v1/consents`), and the
//! consent is bound to the holder's current signing certificate. Consents last ten years and
//! survive revocations.
//!
//! - `POST /4info/v1/consents` `{"sp_id","holder"}` → 201 `{"consent_id","sp_id","holder",
//!   "created_at","expires_at"}`; 404 `UNKNOWN_HOLDER`.
//! - `DELETE /4info/v1/consents/{id}` → 204 (also for a consent already withdrawn: idempotent);
//!   404 `UNKNOWN_CONSENT`.
//! - `POST /4info/v1/provisions` `{"consent_id","serial"}` (the SP's old signing certificate
//!   serial, hex) → 200 `{"serial","basic_info","issued_at"}` when a newer valid signing
//!   certificate of the holder exists; 409 `NOT_YET_REISSUED` (revoked, no successor yet), 409
//!   `NO_CHANGE` (still the current valid certificate), 404 `UNKNOWN_CONSENT` / `UNKNOWN_SERIAL`,
//!   403 `CONSENT_MISMATCH` (another holder's certificate), 410 `CONSENT_WITHDRAWN` /
//!   `CONSENT_EXPIRED`, 400 `BAD_REQUEST` (malformed JSON, bad serial, not a signing
//!   certificate).
//!
//! Errors are `{"error":{"code","message"}}`. With a PF token configured, every request needs
//! `Authorization: Bearer <token>`, else 401 `UNAUTHORIZED`. Nothing here is logged.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use jpki::{CertKind, Serial};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AppState, json_error};
use crate::error::SimError;
use crate::store::CertStatus;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentRequest {
    sp_id: String,
    holder: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvisionRequest {
    consent_id: String,
    serial: String,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn bad_request(msg: impl Into<String>) -> HttpResponse {
    json_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", msg)
}

fn internal(e: &SimError) -> HttpResponse {
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string())
}

/// `None` when authorised, else the 401 to send.
fn check_auth(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let token = state.pf_token.as_deref()?;
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok =
        given.is_some_and(|g| g.len() == token.len() && openssl::memcmp::eq(g.as_bytes(), token.as_bytes()));
    (!ok).then(|| {
        let mut r = json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "a valid bearer token is required",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        r
    })
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Box<HttpResponse>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad_request(format!("malformed JSON: {e}"))))
}

/// `POST /4info/v1/consents`.
pub(crate) async fn create_consent(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(r) = check_auth(&req, &state) {
        return r;
    }
    let body: ConsentRequest = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let sim = state.sim.clone();
    let res = web::block(move || sim.add_consent(&body.sp_id, &body.holder, OffsetDateTime::now_utc())).await;
    match res {
        Ok(Ok(c)) => HttpResponse::Created().json(json!({
            "consent_id": c.id,
            "sp_id": c.sp_id,
            "holder": c.holder,
            "created_at": rfc3339(c.created_at),
            "expires_at": rfc3339(c.expires_at),
        })),
        Ok(Err(SimError::NotFound { .. })) => {
            json_error(StatusCode::NOT_FOUND, "UNKNOWN_HOLDER", "no such holder")
        }
        Ok(Err(SimError::InvalidArgument { what, detail })) => bad_request(format!("{what}: {detail}")),
        Ok(Err(e)) => internal(&e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()),
    }
}

/// `DELETE /4info/v1/consents/{id}`.
pub(crate) async fn withdraw_consent(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(r) = check_auth(&req, &state) {
        return r;
    }
    let sim = state.sim.clone();
    let id = id.into_inner();
    let res = web::block(move || sim.withdraw_consent(&id, OffsetDateTime::now_utc())).await;
    match res {
        Ok(Ok(_)) | Ok(Err(SimError::Conflict { .. })) => HttpResponse::NoContent().finish(),
        Ok(Err(SimError::NotFound { .. })) => {
            json_error(StatusCode::NOT_FOUND, "UNKNOWN_CONSENT", "no such consent")
        }
        Ok(Err(e)) => internal(&e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()),
    }
}

/// `POST /4info/v1/provisions`.
pub(crate) async fn provide(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    if let Some(r) = check_auth(&req, &state) {
        return r;
    }
    let body: ProvisionRequest = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let sim = state.sim.clone();
    match web::block(move || decide(&sim, &body, OffsetDateTime::now_utc())).await {
        Ok(Ok(v)) => HttpResponse::Ok().json(v),
        Ok(Err((status, code, msg))) => json_error(status, code, msg),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()),
    }
}

/// An error status, code and message (an `HttpResponse` is not `Send`).
type Failure = (StatusCode, &'static str, String);

fn fail(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Failure {
    (status, code, msg.into())
}

fn decide(
    sim: &crate::store::Simulator,
    body: &ProvisionRequest,
    now: OffsetDateTime,
) -> Result<serde_json::Value, Failure> {
    if let Err(e) = sim.reload() {
        return Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()));
    }
    let Some(consent) = sim.consent(&body.consent_id) else {
        return Err(fail(StatusCode::NOT_FOUND, "UNKNOWN_CONSENT", "no such consent"));
    };
    if consent.withdrawn_at.is_some_and(|w| w <= now) {
        return Err(fail(
            StatusCode::GONE,
            "CONSENT_WITHDRAWN",
            "the consent was withdrawn",
        ));
    }
    if now >= consent.expires_at {
        return Err(fail(
            StatusCode::GONE,
            "CONSENT_EXPIRED",
            "the consent has expired",
        ));
    }
    let Ok(serial) = Serial::from_hex(body.serial.trim()) else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "serial: not a hex certificate serial number",
        ));
    };
    let Some(cert) = sim.certificate_by_serial(&serial) else {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "UNKNOWN_SERIAL",
            "no such certificate",
        ));
    };
    if cert.holder != consent.holder {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "CONSENT_MISMATCH",
            "the certificate does not belong to the consenting holder",
        ));
    }
    if cert.kind != CertKind::Signing {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "serial: not a signing certificate",
        ));
    }
    let Some(latest) = sim.latest_signing_cert(&serial) else {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "UNKNOWN_SERIAL",
            "no such certificate",
        ));
    };
    if latest.serial == cert.serial || latest.status == CertStatus::Revoked {
        return if cert.status == CertStatus::Revoked {
            Err(fail(
                StatusCode::CONFLICT,
                "NOT_YET_REISSUED",
                "the certificate is revoked and no new signing certificate has been issued yet",
            ))
        } else {
            Err(fail(
                StatusCode::CONFLICT,
                "NO_CHANGE",
                "the certificate is still current",
            ))
        };
    }
    let Some(holder) = sim.holder(&consent.holder) else {
        return Err(fail(StatusCode::NOT_FOUND, "UNKNOWN_SERIAL", "no such holder"));
    };
    let info = match holder.person.to_basic_info() {
        Ok(i) => i.view(),
        Err(e) => return Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string())),
    };
    Ok(json!({
        "serial": latest.serial,
        "basic_info": info,
        "issued_at": rfc3339(latest.not_before),
    }))
}
