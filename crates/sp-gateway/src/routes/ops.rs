//! Operations: `/healthz` (the process answers), `/readyz` (index loaded and fresh, Redis
//! reachable, audit log writable), `/metrics` (Prometheus text) and `/v1/openapi.json`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::index::{now_unix, rfc3339};
use crate::state::Shared;

/// The OpenAPI 3.1 document, served as is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /readyz`: 200 when every check passes, else 503 with the failing checks.
pub async fn readyz(gw: web::Data<Shared>) -> HttpResponse {
    let now = now_unix();
    let index_ready = gw.index.is_ready(now);
    let redis = gw.store.ping().await;
    let audit = gw.audit.is_healthy();
    let stalest = gw.index.stalest();
    let body = json!({
        "status": if index_ready && redis && audit { "ready" } else { "not_ready" },
        "checks": {
            "index": {
                "ok": index_ready,
                "this_update": stalest.as_ref().map(|f| rfc3339(f.this_update)),
                "next_update": stalest.as_ref().map(|f| rfc3339(f.next_update)),
            },
            "redis": { "ok": redis },
            "audit_log": { "ok": audit },
        }
    });
    if index_ready && redis && audit {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`.
pub async fn metrics(gw: web::Data<Shared>) -> HttpResponse {
    gw.update_gauges();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(gw.metrics.render())
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI)
}

/// Unknown routes.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Known routes, wrong method.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
