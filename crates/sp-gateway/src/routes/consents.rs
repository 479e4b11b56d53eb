//! 4-info provision consents and the relay (最新の利用者情報提供), and the SP's webhook setting.
//!
//! - `POST /v1/consents` `{verification_id, holder}`: registers the user's consent with J-LIS for
//!   the signing certificate of a valid KYC verification. `holder` is J-LIS's reference for the
//!   consenting holder as the signed consent document names it (the simulator's holder id).
//! - `GET /v1/consents`, `GET /v1/consents/{id}`, `DELETE /v1/consents/{id}` (withdraws at J-LIS).
//! - `GET /v1/consents/{id}/basic-info`: asks J-LIS for the latest 4 info and relays it **without
//!   keeping it**; the new serial J-LIS names is linked to the user, so the user's next verification
//!   with the new certificate keeps the same `user_id`. Metered and audited (never the 4 info).
//! - `PUT /v1/webhook` `{url, secret}`, `GET /v1/webhook` (the secret is never returned).
//!
//! Consent records live in Redis under the SP's tag: another SP's consent id is simply absent (404).
//! Each active consent is also indexed by its certificate's serial (`cc:<serial>`), which the
//! webhook worker ([`crate::webhooks`]) uses to find the consents a revocation concerns; a
//! withdrawal takes it out again. Consents registered before that index existed are indexed by
//! [`crate::consent_index`].

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use pf_server::registry::Purpose;
use redis::AsyncCommands;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::{read_json, to_b64url};
use crate::error::ApiError;
use crate::state::Shared;
use crate::store::StoreError;
use pf_server::clock::{now_unix, rfc3339};

/// `POST /v1/consents` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// A valid KYC verification of this SP.
    pub verification_id: String,
    /// J-LIS's holder reference from the signed consent.
    pub holder: String,
}

/// `PUT /v1/webhook` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// HTTPS URL (HTTP only on loopback, for tests).
    pub url: String,
    /// HMAC secret, 32 to 256 characters.
    pub secret: String,
}

fn jlis(gw: &Shared) -> Result<&crate::relay::Jlis, ApiError> {
    gw.jlis.as_ref().ok_or(ApiError::UpstreamUnavailable)
}

/// Whether `id` is shaped like a consent id this gateway issues.
pub(crate) fn valid_id(id: &str) -> bool {
    id.starts_with("cs_")
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn load(gw: &Shared, sp: &str, id: &str) -> Result<HashMap<String, String>, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    let mut c = gw.store.conn();
    let k = gw.store.key(sp, &format!("consent:{id}"));
    let m: HashMap<String, String> = gw.store.run(async move { c.hgetall(k).await }).await?;
    if m.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(m)
}

fn view(id: &str, m: &HashMap<String, String>) -> Value {
    let f = |k: &str| m.get(k).filter(|v| !v.is_empty()).cloned();
    json!({
        "id": id,
        "status": if f("withdrawn_at").is_some() { "withdrawn" } else { "active" },
        "verification_id": f("verification_id"),
        "user_id": f("user_id"),
        "serial": f("serial"),
        "created_at": f("created_at"),
        "expires_at": f("expires_at"),
        "withdrawn_at": f("withdrawn_at"),
    })
}

/// `POST /v1/consents`.
pub async fn create(
    gw: web::Data<Shared>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let body: ConsentRequest = read_json(&req, payload, gw.config.limits.max_json_bytes).await?;
    if body.holder.is_empty() || body.holder.len() > 128 {
        return Err(ApiError::InvalidRequest("holder must be 1-128 characters".into()));
    }
    let cert = gw
        .ids
        .open(&sp.id, &body.verification_id)
        .and_then(|v| v.cert)
        .ok_or(ApiError::NotFound)?;
    let stored = gw
        .store
        .verification(&sp.id, &body.verification_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let rec: Value = serde_json::from_str(&stored.record).map_err(|e| ApiError::Internal(e.to_string()))?;
    if rec.pointer("/certificate/kind").and_then(Value::as_str) != Some("sign") || stored.user_id.is_empty() {
        return Err(ApiError::InvalidRequest(
            "verification_id must name a valid KYC verification of a signing certificate".into(),
        ));
    }
    let (jlis_id, expires_at) = jlis(&gw)?.create_consent(&sp.id, &body.holder).await?;
    let mut raw = [0u8; 12];
    openssl::rand::rand_bytes(&mut raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = format!("cs_{}", to_b64url(&raw));
    let fields = [
        ("jlis_id", jlis_id.clone()),
        ("verification_id", body.verification_id.clone()),
        ("user_id", stored.user_id.clone()),
        ("serial", cert.serial.to_hex()),
        ("created_at", rfc3339(now_unix())),
        ("expires_at", expires_at),
    ];
    let mut c = gw.store.conn();
    let k = gw.store.key(&sp.id, &format!("consent:{id}"));
    let set = gw.store.key(&sp.id, "consents");
    // The webhook worker finds consents by the serial a delta event names.
    let by_serial = gw.store.key(&sp.id, &format!("cc:{}", cert.serial.to_hex()));
    let member = id.clone();
    let written: Result<(), StoreError> = gw
        .store
        .run(async move {
            redis::pipe()
                .atomic()
                .hset_multiple(&k, &fields)
                .ignore()
                .sadd(&set, &member)
                .ignore()
                .sadd(&by_serial, &member)
                .ignore()
                .query_async(&mut c)
                .await
        })
        .await;
    if let Err(e) = written {
        // Nothing half-written: undo the consent at J-LIS.
        let _ = jlis(&gw)?.withdraw_consent(&jlis_id).await;
        return Err(e.into());
    }
    gw.audit.record(
        "consent_created",
        Some(&sp.id),
        json!({"id": id, "verification_id": body.verification_id, "user_id": stored.user_id, "jlis_consent_id": jlis_id}),
    );
    let m = load(&gw, &sp.id, &id).await?;
    Ok(HttpResponse::Created().json(view(&id, &m)))
}

/// `GET /v1/consents`.
pub async fn list(gw: web::Data<Shared>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let mut c = gw.store.conn();
    let set = gw.store.key(&sp.id, "consents");
    let mut ids: Vec<String> = gw.store.run(async move { c.smembers(set).await }).await?;
    ids.sort();
    ids.truncate(1000);
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Ok(m) = load(&gw, &sp.id, id).await {
            out.push(view(id, &m));
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "consents": out })))
}

/// `GET /v1/consents/{id}`.
pub async fn get(
    gw: web::Data<Shared>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let m = load(&gw, &sp.id, &id).await?;
    Ok(HttpResponse::Ok().json(view(&id, &m)))
}

/// `DELETE /v1/consents/{id}`: withdraws at J-LIS, then records the withdrawal.
pub async fn withdraw(
    gw: web::Data<Shared>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let m = load(&gw, &sp.id, &id).await?;
    if m.get("withdrawn_at").is_none_or(String::is_empty) {
        let jlis_id = m.get("jlis_id").cloned().unwrap_or_default();
        jlis(&gw)?.withdraw_consent(&jlis_id).await?;
        let mut c = gw.store.conn();
        let k = gw.store.key(&sp.id, &format!("consent:{id}"));
        let serial = m.get("serial").cloned().unwrap_or_default();
        let by_serial = gw.store.key(&sp.id, &format!("cc:{serial}"));
        let (at, member) = (rfc3339(now_unix()), id.to_string());
        gw.store
            .run(async move {
                redis::pipe()
                    .atomic()
                    .hset(&k, "withdrawn_at", at)
                    .ignore()
                    .srem(&by_serial, member)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        gw.audit
            .record("consent_withdrawn", Some(&sp.id), json!({"id": id.as_str()}));
    }
    let m = load(&gw, &sp.id, &id).await?;
    Ok(HttpResponse::Ok().json(view(&id, &m)))
}

/// `GET /v1/consents/{id}/basic-info`.
pub async fn basic_info(
    gw: web::Data<Shared>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let m = load(&gw, &sp.id, &id).await?;
    if m.get("withdrawn_at").is_some_and(|w| !w.is_empty()) {
        return Err(ApiError::Relayed {
            status: actix_web::http::StatusCode::GONE,
            code: "CONSENT_WITHDRAWN".into(),
            message: "the consent was withdrawn".into(),
        });
    }
    let (jlis_id, serial, user_id) = (
        m.get("jlis_id").cloned().unwrap_or_default(),
        m.get("serial").cloned().unwrap_or_default(),
        m.get("user_id").cloned().unwrap_or_default(),
    );
    let answer = match jlis(&gw)?.provision(&jlis_id, &serial).await {
        Ok(a) => a,
        Err(e) => {
            gw.metrics
                .relays
                .with_label_values(&[sp.id.as_str(), e.code()])
                .inc();
            gw.audit.record(
                "basic_info_relay",
                Some(&sp.id),
                json!({"consent_id": id.as_str(), "serial": serial, "outcome": e.code()}),
            );
            return Err(e);
        }
    };
    let new_serial = answer
        .get("serial")
        .and_then(Value::as_str)
        .and_then(|s| jpki::Serial::from_hex(s).ok())
        .ok_or_else(|| ApiError::Upstream("J-LIS answered without a serial".into()))?
        .to_hex();
    // Link old → new for the user id, and follow the consent to the new certificate.
    gw.store.link_successor(&sp.id, &new_serial, &user_id).await?;
    let mut c = gw.store.conn();
    let k = gw.store.key(&sp.id, &format!("consent:{id}"));
    let by_serial = gw.store.key(&sp.id, &format!("cc:{new_serial}"));
    let (ns, member) = (new_serial.clone(), id.to_string());
    gw.store
        .run(async move {
            redis::pipe()
                .atomic()
                .hset(&k, "serial", ns)
                .ignore()
                .sadd(&by_serial, member)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await?;
    gw.metrics.relays.with_label_values(&[sp.id.as_str(), "ok"]).inc();
    gw.audit.record(
        "basic_info_relay",
        Some(&sp.id),
        json!({"consent_id": id.as_str(), "previous_serial": serial, "serial": new_serial, "user_id": user_id, "outcome": "ok"}),
    );
    Ok(HttpResponse::Ok().json(json!({
        "consent_id": id.as_str(),
        "user_id": user_id,
        "previous_serial": serial,
        "serial": new_serial,
        "issued_at": answer.get("issued_at"),
        "basic_info": answer.get("basic_info"),
    })))
}

fn url_ok(url: &str) -> bool {
    url.len() <= 2048
        && (url.starts_with("https://")
            || url.starts_with("http://127.0.0.1")
            || url.starts_with("http://localhost")
            || url.starts_with("http://[::1]"))
}

/// `PUT /v1/webhook`.
pub async fn put_webhook(
    gw: web::Data<Shared>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let body: WebhookRequest = read_json(&req, payload, gw.config.limits.max_json_bytes).await?;
    if !url_ok(&body.url) {
        return Err(ApiError::InvalidRequest(
            "url must be https:// (http only on loopback)".into(),
        ));
    }
    if !(32..=256).contains(&body.secret.len()) {
        return Err(ApiError::InvalidRequest(
            "secret must be 32 to 256 characters".into(),
        ));
    }
    let at = rfc3339(now_unix());
    let fields = [
        ("url", body.url.clone()),
        ("secret", body.secret),
        ("updated_at", at.clone()),
    ];
    let mut c = gw.store.conn();
    let k = gw.store.key(&sp.id, "webhook");
    gw.store
        .run(async move { c.hset_multiple::<_, _, _, ()>(k, &fields).await })
        .await?;
    gw.audit
        .record("webhook_set", Some(&sp.id), json!({"url": body.url}));
    Ok(HttpResponse::Ok().json(json!({"url": body.url, "updated_at": at})))
}

/// `GET /v1/webhook`.
pub async fn get_webhook(gw: web::Data<Shared>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let sp = gw.authenticate(&req, Purpose::BasicInfo)?;
    gw.limit(sp, 0).await?;
    let mut c = gw.store.conn();
    let k = gw.store.key(&sp.id, "webhook");
    let m: HashMap<String, String> = gw.store.run(async move { c.hgetall(k).await }).await?;
    if m.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok().json(json!({"url": m.get("url"), "updated_at": m.get("updated_at")})))
}
