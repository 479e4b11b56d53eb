//! The one place where errors become HTTP responses: `{"error": {"code", "message"}}` with a
//! stable `code` and a status. The real cause of a 5xx goes to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use pf_server::registry::RegistryError;
use serde_json::json;

/// Every error the REST API answers with. The `code` strings are a contract (see the OpenAPI file
/// and `docs/SP_GUIDE.md`): never rename one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `MALFORMED_JSON`: the body is not JSON.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 400 `UNKNOWN_FIELD`: a field the API does not define.
    #[error("{0}")]
    UnknownField(String),
    /// 400 `INVALID_REQUEST`: JSON of the wrong shape, a missing or contradictory field.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 `INVALID_BASE64`: a field that must be base64 is not.
    #[error("{field} is not valid base64")]
    InvalidBase64 {
        /// The field.
        field: &'static str,
    },
    /// 400 `INVALID_CHALLENGE`: unknown, expired or already used.
    #[error("the challenge is unknown, expired or already used")]
    InvalidChallenge,
    /// 400 `LIVE_CHECK_NOT_CONFIGURED`: a live status check was asked and this PF has no
    /// `[upstream]` OCSP responder configured.
    #[error("live status checks are not available: this PF does not relay to J-LIS's OCSP responder")]
    LiveNotConfigured,
    /// 401 `UNAUTHENTICATED`: no, unknown or revoked API key.
    #[error("a valid API key is required (Authorization: Bearer <key>)")]
    Unauthenticated,
    /// 403 `PURPOSE_NOT_ALLOWED`: the SP's contract does not cover this purpose.
    #[error("this SP is not allowed to use {0}")]
    PurposeNotAllowed(&'static str),
    /// 404 `NOT_FOUND`: nothing this SP registered has that id (other SPs' data included).
    #[error("not found")]
    NotFound,
    /// 405 `METHOD_NOT_ALLOWED`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `IDEMPOTENCY_IN_PROGRESS`: the first request with this key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInProgress,
    /// 409 `IDEMPOTENCY_KEY_REUSED`: the key was used for a different request body.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// 409 `CONFLICT`: the state does not allow it (e.g. linking a certificate that already has a user).
    #[error("{0}")]
    Conflict(String),
    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415 `UNSUPPORTED_MEDIA_TYPE`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// 429 `RATE_LIMITED`, with `Retry-After` in whole seconds.
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// 502 `UPSTREAM_ERROR`: J-LIS answered with an error we cannot pass on as is.
    #[error("{0}")]
    Upstream(String),
    /// An answer relayed from J-LIS with its status and code (4-info provision).
    #[error("{message}")]
    Relayed {
        /// HTTP status.
        status: StatusCode,
        /// J-LIS's code, e.g. `NOT_YET_REISSUED`.
        code: String,
        /// J-LIS's message.
        message: String,
    },
    /// 503 `STORE_UNAVAILABLE`: Redis is unreachable and the request needs it; nothing was written.
    #[error("the registration store is unavailable; nothing was written, retry later")]
    StoreUnavailable,
    /// 503 `INDEX_UNAVAILABLE`: no revocation index is loaded.
    #[error("no revocation index is loaded; retry later")]
    IndexUnavailable,
    /// 503 `UPSTREAM_UNAVAILABLE`: J-LIS is unreachable or not configured.
    #[error("J-LIS is unreachable; retry later")]
    UpstreamUnavailable,
    /// 500 `INTERNAL`: logged, never detailed to the client.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            ApiError::MalformedJson(_) => "MALFORMED_JSON",
            ApiError::UnknownField(_) => "UNKNOWN_FIELD",
            ApiError::InvalidRequest(_) => "INVALID_REQUEST",
            ApiError::InvalidBase64 { .. } => "INVALID_BASE64",
            ApiError::InvalidChallenge => "INVALID_CHALLENGE",
            ApiError::LiveNotConfigured => "LIVE_CHECK_NOT_CONFIGURED",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::PurposeNotAllowed(_) => "PURPOSE_NOT_ALLOWED",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::IdempotencyInProgress => "IDEMPOTENCY_IN_PROGRESS",
            ApiError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Upstream(_) => "UPSTREAM_ERROR",
            ApiError::Relayed { code, .. } => code,
            ApiError::StoreUnavailable => "STORE_UNAVAILABLE",
            ApiError::IndexUnavailable => "INDEX_UNAVAILABLE",
            ApiError::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message sent to the client.
    fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_)
            | ApiError::UnknownField(_)
            | ApiError::InvalidRequest(_)
            | ApiError::InvalidBase64 { .. }
            | ApiError::InvalidChallenge
            | ApiError::LiveNotConfigured => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::PurposeNotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyInProgress | ApiError::IdempotencyKeyReused | ApiError::Conflict(_) => {
                StatusCode::CONFLICT
            }
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Relayed { status, .. } => *status,
            ApiError::StoreUnavailable | ApiError::IndexUnavailable | ApiError::UpstreamUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(cause = %cause, "internal error");
        }
        let mut resp = HttpResponse::build(self.status_code()).json(json!({
            "error": { "code": self.code(), "message": self.public_message() }
        }));
        let headers = resp.headers_mut();
        match self {
            ApiError::RateLimited { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(&1).to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::StoreUnavailable | ApiError::IndexUnavailable | ApiError::UpstreamUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        resp
    }
}

/// A refusal of the SP registry: a purpose outside the SP's contract is 403
/// `PURPOSE_NOT_ALLOWED`; anything else is internal.
impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::PurposeNotAllowed(purpose) => ApiError::PurposeNotAllowed(purpose.as_str()),
            other => ApiError::Internal(format!("{} ({})", other, other.code())),
        }
    }
}

/// Maps a JSON body error from serde to the stable codes: syntax → `MALFORMED_JSON`, an unknown
/// field → `UNKNOWN_FIELD`, any other shape problem → `INVALID_REQUEST`.
pub fn from_serde(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::MalformedJson(e.to_string()),
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("unknown field") {
                ApiError::UnknownField(msg)
            } else {
                ApiError::InvalidRequest(msg)
            }
        }
    }
}
