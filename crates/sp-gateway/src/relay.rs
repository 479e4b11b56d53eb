//! The client of J-LIS's 4-info provision service (最新の利用者情報提供). Answers are relayed to
//! the SP and **never stored or logged**: only their status, the consent id and the new serial are
//! kept (the serial links the user's old certificate to the new one).

use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::config::{JlisConfig, read_secret};
use crate::error::ApiError;

/// The J-LIS client.
#[derive(Debug, Clone)]
pub struct Jlis {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Jlis {
    /// A client for `cfg`.
    pub fn new(cfg: &JlisConfig) -> Result<Jlis, String> {
        let token = match &cfg.token_file {
            Some(p) => Some(
                String::from_utf8(read_secret(p).map_err(|e| format!("jlis.token_file: {e}"))?)
                    .map_err(|_| "jlis.token_file is not UTF-8".to_owned())?,
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .connect_timeout(Duration::from_millis(cfg.timeout_ms.min(5000)))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Jlis {
            http,
            base: cfg.base_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(StatusCode, Value), ApiError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), "J-LIS unreachable");
            ApiError::UpstreamUnavailable
        })?;
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        if status == StatusCode::NO_CONTENT {
            return Ok((status, Value::Null));
        }
        let bytes = resp.bytes().await.map_err(|_| ApiError::UpstreamUnavailable)?;
        if bytes.len() > 256 * 1024 {
            return Err(ApiError::Upstream("J-LIS answered with an oversized body".into()));
        }
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::Upstream(format!("J-LIS answered {status} without JSON")))?;
        Ok((status, body))
    }

    /// Maps a J-LIS error answer to a relayed error (4xx keep J-LIS's code; 5xx become 502).
    fn relay_error(status: StatusCode, body: &Value) -> ApiError {
        let code = body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("UPSTREAM_ERROR");
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("J-LIS refused the request");
        if status == StatusCode::UNAUTHORIZED || status.is_server_error() {
            tracing::warn!(%status, code, "J-LIS error");
            return ApiError::Upstream(format!("J-LIS answered {status}"));
        }
        ApiError::Relayed {
            status,
            code: code
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect(),
            message: message.chars().take(300).collect(),
        }
    }

    /// Registers a consent of `holder` for `sp_id`; returns J-LIS's consent id and expiry.
    pub async fn create_consent(&self, sp_id: &str, holder: &str) -> Result<(String, String), ApiError> {
        let (status, body) = self
            .send(
                self.http
                    .post(format!("{}/4info/v1/consents", self.base))
                    .json(&json!({"sp_id": sp_id, "holder": holder})),
            )
            .await?;
        if !status.is_success() {
            return Err(Jlis::relay_error(status, &body));
        }
        let id = body.get("consent_id").and_then(Value::as_str);
        let exp = body.get("expires_at").and_then(Value::as_str);
        match (id, exp) {
            (Some(i), Some(e)) => Ok((i.to_owned(), e.to_owned())),
            _ => Err(ApiError::Upstream(
                "J-LIS consent answer without consent_id".into(),
            )),
        }
    }

    /// Withdraws a consent (idempotent at J-LIS).
    pub async fn withdraw_consent(&self, consent_id: &str) -> Result<(), ApiError> {
        let id: String = consent_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let (status, body) = self
            .send(self.http.delete(format!("{}/4info/v1/consents/{id}", self.base)))
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Jlis::relay_error(status, &body))
        }
    }

    /// The latest 4 info and signing serial for a consent, given the SP's last known serial.
    /// Returns J-LIS's JSON (`serial`, `basic_info`, `issued_at`) to relay as is.
    pub async fn provision(&self, consent_id: &str, serial_hex: &str) -> Result<Value, ApiError> {
        let (status, body) = self
            .send(
                self.http
                    .post(format!("{}/4info/v1/provisions", self.base))
                    .json(&json!({"consent_id": consent_id, "serial": serial_hex})),
            )
            .await?;
        if !status.is_success() {
            return Err(Jlis::relay_error(status, &body));
        }
        Ok(body)
    }
}
