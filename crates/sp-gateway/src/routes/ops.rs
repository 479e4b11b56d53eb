//! Operations: `/healthz`, `/readyz` and `/metrics` are the server foundation's
//! ([`pf_server::health`]), with the gateway's checks given here; `/v1/openapi.json` and the
//! answers to unknown routes and methods are the gateway's.
//!
//! The gateway is **ready** when its revocation index is loaded and its **audit log** is healthy.
//! The audit log is per process: each replica writes its own file (a second writer would break
//! the hash chain), so a failed write (full or read-only disk) concerns that replica only, and a
//! replica that cannot record what it answers must not take traffic.
//!
//! **Redis reachability** is information only, like CRL staleness: every replica shares it. KYC
//! verdicts and status checks by verification id work from the index and the sealed ids alone;
//! what needs Redis (registrations, challenges, consents, status by user id or serial) answers
//! `STORE_UNAVAILABLE` on every replica alike. Both are exported as metrics
//! (`sp_gateway_index_…`, `sp_gateway_redis_up`).

use actix_web::HttpResponse;
use pf_server::health::{Check, Monitored};
use pf_server::index::Index;

use crate::error::ApiError;
use crate::state::Gateway;

/// The OpenAPI 3.1 document, served as is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

impl Monitored for Gateway {
    fn index(&self) -> &Index {
        &self.index
    }

    /// `audit_log` (required) and `redis` (information). Redis is reported from the last call or
    /// periodic probe rather than pinged here, so that a hanging Redis cannot slow the answer
    /// past a load balancer's probe timeout.
    fn checks(&self) -> Vec<Check> {
        vec![
            Check::required("audit_log", self.audit.is_healthy()),
            Check::informational("redis", self.store.seems_up()),
        ]
    }

    fn registry(&self) -> &prometheus::Registry {
        self.metrics.registry()
    }

    fn before_scrape(&self) {
        self.update_gauges();
    }
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
