//! The one error type of the crate, with a stable machine code per variant.

use thiserror::Error;

/// Why an OCSP check did not produce a verified answer. Each variant has a stable
/// [`OcspClientError::code`]; a caller maps every one of them to "cannot tell" (OCSP `tryLater`,
/// REST `TRY_LATER`), never to good.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OcspClientError {
    /// The certificate or the CA certificate given by the caller does not parse.
    #[error("bad {what}: {detail}")]
    BadCertificate {
        /// Which certificate (`certificate`, `CA certificate`).
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The certificate was not issued by the CA certificate given with it.
    #[error("the certificate was not issued by the given CA: {detail}")]
    IssuerMismatch {
        /// What does not match.
        detail: String,
    },
    /// Neither the certificate's authorityInfoAccess nor the configuration names a responder, or
    /// the URL is not `http` or `https`.
    #[error("no usable OCSP responder URL: {detail}")]
    NoResponderUrl {
        /// Why.
        detail: String,
    },
    /// The responder could not be reached (connection refused, DNS, TLS, reset).
    #[error("OCSP responder {url} unreachable: {detail}")]
    UpstreamUnreachable {
        /// The responder URL.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// The responder did not answer within the configured timeout.
    #[error("OCSP responder {url} timed out")]
    UpstreamTimeout {
        /// The responder URL.
        url: String,
    },
    /// The responder answered with an HTTP status other than 200.
    #[error("OCSP responder {url} answered HTTP {status}")]
    UpstreamStatus {
        /// The responder URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The responder answered 200 with a content type other than `application/ocsp-response`.
    #[error("OCSP responder {url} answered content type {content_type:?}")]
    UpstreamContentType {
        /// The responder URL.
        url: String,
        /// The content type received (empty when absent).
        content_type: String,
    },
    /// The response body is larger than [`jpki::ocsp::MAX_OCSP_LEN`].
    #[error("OCSP response over {max} bytes")]
    ResponseTooLarge {
        /// The limit.
        max: usize,
    },
    /// The response is not a well-formed OCSP response for the request (bad DER, a response type
    /// other than basic, a critical extension we do not know, not exactly one SingleResponse).
    #[error("malformed OCSP response: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// The responder answered an error status (`malformedRequest`, `internalError`, `tryLater`,
    /// `sigRequired`, `unauthorized`).
    #[error("OCSP responder answered {status}")]
    ResponderError {
        /// The responseStatus name.
        status: &'static str,
    },
    /// The response's (or the responder certificate's) signature algorithm is weak or unknown, or
    /// does not fit the key.
    #[error("unsupported algorithm: {detail}")]
    UnsupportedAlgorithm {
        /// Which algorithm, and why.
        detail: String,
    },
    /// The signature over tbsResponseData does not verify with the responder's key.
    #[error("the OCSP response signature does not verify")]
    BadSignature,
    /// The signer is neither the CA nor a certificate the CA issued for OCSP signing that is
    /// valid now, or the ResponderID names no such signer.
    #[error("OCSP responder not authorized: {detail}")]
    ResponderNotAuthorized {
        /// Why.
        detail: String,
    },
    /// The response does not answer exactly the CertID that was asked.
    #[error("the OCSP response answers another certificate: {detail}")]
    CertIdMismatch {
        /// Which field differs.
        detail: String,
    },
    /// The response echoes a nonce other than the one sent (a replay).
    #[error("the OCSP response nonce does not match the request's")]
    NonceMismatch,
    /// A nonce was sent and the response carries none (refused unless configured otherwise).
    #[error("the OCSP response carries no nonce")]
    NonceMissing,
    /// The answer is past its nextUpdate, or has no nextUpdate.
    #[error("stale OCSP answer: {detail}")]
    Stale {
        /// Which time, and `now`.
        detail: String,
    },
    /// thisUpdate or producedAt is in the future beyond the allowed skew, or the responder
    /// certificate is not yet valid.
    #[error("OCSP answer not yet valid: {detail}")]
    NotYetValid {
        /// Which time, and `now`.
        detail: String,
    },
    /// A local failure: OpenSSL's random generator or hash, building the HTTP client.
    #[error("internal error in {context}: {detail}")]
    Internal {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        detail: String,
    },
}

impl OcspClientError {
    /// A stable machine code for logs, metrics and the services' error mapping.
    pub fn code(&self) -> &'static str {
        match self {
            OcspClientError::BadCertificate { .. } => "OCSP_BAD_CERTIFICATE",
            OcspClientError::IssuerMismatch { .. } => "OCSP_ISSUER_MISMATCH",
            OcspClientError::NoResponderUrl { .. } => "OCSP_NO_RESPONDER_URL",
            OcspClientError::UpstreamUnreachable { .. } => "OCSP_UPSTREAM_UNREACHABLE",
            OcspClientError::UpstreamTimeout { .. } => "OCSP_UPSTREAM_TIMEOUT",
            OcspClientError::UpstreamStatus { .. } => "OCSP_UPSTREAM_STATUS",
            OcspClientError::UpstreamContentType { .. } => "OCSP_UPSTREAM_CONTENT_TYPE",
            OcspClientError::ResponseTooLarge { .. } => "OCSP_RESPONSE_TOO_LARGE",
            OcspClientError::Malformed { .. } => "OCSP_MALFORMED",
            OcspClientError::ResponderError { .. } => "OCSP_RESPONDER_ERROR",
            OcspClientError::UnsupportedAlgorithm { .. } => "OCSP_UNSUPPORTED_ALGORITHM",
            OcspClientError::BadSignature => "OCSP_BAD_SIGNATURE",
            OcspClientError::ResponderNotAuthorized { .. } => "OCSP_RESPONDER_NOT_AUTHORIZED",
            OcspClientError::CertIdMismatch { .. } => "OCSP_CERTID_MISMATCH",
            OcspClientError::NonceMismatch => "OCSP_NONCE_MISMATCH",
            OcspClientError::NonceMissing => "OCSP_NONCE_MISSING",
            OcspClientError::Stale { .. } => "OCSP_STALE",
            OcspClientError::NotYetValid { .. } => "OCSP_NOT_YET_VALID",
            OcspClientError::Internal { .. } => "OCSP_INTERNAL",
        }
    }

    /// Every code [`OcspClientError::code`] can return.
    pub const CODES: [&'static str; 19] = [
        "OCSP_BAD_CERTIFICATE",
        "OCSP_ISSUER_MISMATCH",
        "OCSP_NO_RESPONDER_URL",
        "OCSP_UPSTREAM_UNREACHABLE",
        "OCSP_UPSTREAM_TIMEOUT",
        "OCSP_UPSTREAM_STATUS",
        "OCSP_UPSTREAM_CONTENT_TYPE",
        "OCSP_RESPONSE_TOO_LARGE",
        "OCSP_MALFORMED",
        "OCSP_RESPONDER_ERROR",
        "OCSP_UNSUPPORTED_ALGORITHM",
        "OCSP_BAD_SIGNATURE",
        "OCSP_RESPONDER_NOT_AUTHORIZED",
        "OCSP_CERTID_MISMATCH",
        "OCSP_NONCE_MISMATCH",
        "OCSP_NONCE_MISSING",
        "OCSP_STALE",
        "OCSP_NOT_YET_VALID",
        "OCSP_INTERNAL",
    ];

    /// Whether the responder (or the path to it) is at fault rather than the caller's input: the
    /// caller may retry later or fall back, and should count it as an upstream failure.
    pub fn is_upstream(&self) -> bool {
        !matches!(
            self,
            OcspClientError::BadCertificate { .. }
                | OcspClientError::IssuerMismatch { .. }
                | OcspClientError::NoResponderUrl { .. }
                | OcspClientError::Internal { .. }
        )
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> OcspClientError {
        OcspClientError::Malformed {
            detail: detail.into(),
        }
    }

    pub(crate) fn internal(context: &'static str) -> impl Fn(openssl::error::ErrorStack) -> OcspClientError {
        move |e| OcspClientError::Internal {
            context,
            detail: e.to_string(),
        }
    }
}

impl From<jpki::ocsp::OcspError> for OcspClientError {
    fn from(e: jpki::ocsp::OcspError) -> OcspClientError {
        match e {
            jpki::ocsp::OcspError::InputTooLarge { max, .. } => OcspClientError::ResponseTooLarge { max },
            other => OcspClientError::Malformed {
                detail: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_code_is_listed_once() {
        let s = || String::new();
        let all = [
            OcspClientError::BadCertificate {
                what: "x",
                detail: s(),
            },
            OcspClientError::IssuerMismatch { detail: s() },
            OcspClientError::NoResponderUrl { detail: s() },
            OcspClientError::UpstreamUnreachable {
                url: s(),
                detail: s(),
            },
            OcspClientError::UpstreamTimeout { url: s() },
            OcspClientError::UpstreamStatus {
                url: s(),
                status: 500,
            },
            OcspClientError::UpstreamContentType {
                url: s(),
                content_type: s(),
            },
            OcspClientError::ResponseTooLarge { max: 1 },
            OcspClientError::Malformed { detail: s() },
            OcspClientError::ResponderError { status: "tryLater" },
            OcspClientError::UnsupportedAlgorithm { detail: s() },
            OcspClientError::BadSignature,
            OcspClientError::ResponderNotAuthorized { detail: s() },
            OcspClientError::CertIdMismatch { detail: s() },
            OcspClientError::NonceMismatch,
            OcspClientError::NonceMissing,
            OcspClientError::Stale { detail: s() },
            OcspClientError::NotYetValid { detail: s() },
            OcspClientError::Internal {
                context: "x",
                detail: s(),
            },
        ];
        let codes: Vec<&str> = all.iter().map(OcspClientError::code).collect();
        assert_eq!(codes, OcspClientError::CODES);
        assert_eq!(codes.iter().collect::<BTreeSet<_>>().len(), codes.len());
        assert!(
            codes
                .iter()
                .all(|c| c.starts_with("OCSP_") && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        );
    }
}
