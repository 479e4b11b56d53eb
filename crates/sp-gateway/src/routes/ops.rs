//! Operations: `/healthz` (the process answers), `/readyz` (this process can serve: index loaded,
//! audit log writable; see [`crate::readiness`]), `/metrics` (Prometheus text) and
//! `/v1/openapi.json`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::index::{now_unix, rfc3339};
use crate::readiness::{IndexHealth, is_ready};
use crate::state::Shared;

/// The OpenAPI 3.1 document, served as is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /readyz`: 200 when the per-process checks pass (index loaded, audit log healthy), else
/// 503. The body reports every check, each marked `required` or not: CRL freshness and Redis
/// reachability are shared by all replicas, so they are information (and metrics), never a
/// reason to leave the load balancer. Redis is reported from the last call or periodic probe
/// rather than pinged here, so that a hanging Redis cannot slow the answer past a load
/// balancer's probe timeout.
pub async fn readyz(gw: web::Data<Shared>) -> HttpResponse {
    let health = IndexHealth::of_index(&gw.index, now_unix());
    let audit = gw.audit.is_healthy();
    let redis = gw.store.seems_up();
    let ready = is_ready(health.loaded, audit);
    let stalest = health.stalest.as_ref();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "index": {
                "ok": health.loaded,
                "required": true,
                "ca_keys": health.ca_keys.len(),
                "this_update": stalest.map(|f| rfc3339(f.this_update)),
                "next_update": stalest.map(|f| rfc3339(f.next_update)),
            },
            "audit_log": { "ok": audit, "required": true },
            "crl_freshness": {
                "ok": health.is_fresh(),
                "required": false,
                "stale_partitions": health.stale_partitions(),
                "stale_ca_keys": health.stale_ca_keys().collect::<Vec<_>>(),
            },
            "redis": { "ok": redis, "required": false },
        }
    });
    if ready {
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
