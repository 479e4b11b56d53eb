//! Request bodies: `application/json` only (415 otherwise), a size limit checked before reading
//! and while reading (413), unknown fields refused by the types (`deny_unknown_fields`), and
//! base64 fields decoded with the field named in the error.

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{BytesMut, Payload};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, from_serde};

/// Checks the content type is JSON (`application/json`, any parameters, or `+json`).
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// Reads at most `limit` bytes of body and parses it as `T`.
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<T, ApiError> {
    require_json(req)?;
    let too_large = || ApiError::PayloadTooLarge(format!("the body is over the limit of {limit} bytes"));
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let cap = announced.map_or(8 * 1024, |n| usize::try_from(n).unwrap_or(limit).min(limit));
    let mut buf = BytesMut::with_capacity(cap);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidRequest(format!("reading the body: {e}")))?;
        if buf.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(ApiError::MalformedJson("the body is empty".to_owned()));
    }
    serde_json::from_slice(&buf).map_err(|e| from_serde(&e))
}

/// Decodes a standard base64 field (padding optional, whitespace not allowed).
pub fn b64(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    let trimmed = text.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|_| ApiError::InvalidBase64 { field })
}

/// Decodes an optional base64 field.
pub fn b64_opt(field: &'static str, text: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    text.map(|t| b64(field, t)).transpose()
}

/// Standard base64 with padding.
pub fn to_b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// URL-safe base64 without padding (ids, nonces).
pub fn to_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes URL-safe base64 without padding.
pub fn from_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_fields() {
        assert_eq!(b64("x", "AAEC").unwrap(), vec![0, 1, 2]);
        assert_eq!(b64("x", "AAE=").unwrap(), vec![0, 1]);
        assert_eq!(b64("x", "AAE").unwrap(), vec![0, 1]);
        assert!(matches!(
            b64("sig", "AA E"),
            Err(ApiError::InvalidBase64 { field: "sig" })
        ));
        assert!(b64("x", "!!!").is_err());
        assert_eq!(from_b64url(&to_b64url(b"\xff\xfe")).unwrap(), b"\xff\xfe");
    }
}
