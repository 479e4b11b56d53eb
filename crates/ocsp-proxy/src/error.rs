//! The crate's error type and the one mapping from an error to an OCSP response.

use std::path::PathBuf;

use jpki::ocsp::{OcspError, OcspResponse, ResponseStatus};
use thiserror::Error;

/// Why a request could not be answered, or a responder not set up. Each variant has a stable
/// [`Error::code`] for logs and metrics, and an OCSP status ([`Error::response_status`]); the
/// detail goes to the log, never to the client.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The request body (or GET path) is larger than the configured limit.
    #[error("OCSP request of {len} bytes exceeds the limit of {max}")]
    RequestTooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More CertIDs in one request than the configured limit.
    #[error("{count} CertIDs in one request, at most {max} are answered")]
    TooManyCertIds {
        /// CertIDs in the request.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The request does not decode, or breaks an RFC rule (nonce length, serial, ...).
    #[error("malformed OCSP request: {0}")]
    Malformed(#[source] OcspError),
    /// A CA certificate given to the issuer table cannot be served.
    #[error("CA certificate: {detail}")]
    CaCertificate {
        /// What was wrong.
        detail: String,
    },
    /// The responder certificate or key cannot be used.
    #[error("responder certificate or key: {detail}")]
    Responder {
        /// What was wrong.
        detail: String,
    },
    /// A file named in the configuration could not be read.
    #[error("could not read {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A time that GeneralizedTime cannot carry (before 1970 or after 9999).
    #[error("time {secs} cannot be encoded as GeneralizedTime")]
    Time {
        /// Unix seconds.
        secs: i64,
    },
    /// OpenSSL failed while hashing or signing.
    #[error("OpenSSL failed while {context}: {source}")]
    Crypto {
        /// What was being done.
        context: &'static str,
        /// OpenSSL's error stack.
        #[source]
        source: openssl::error::ErrorStack,
    },
    /// Encoding the response failed.
    #[error("could not encode the response: {0}")]
    Encoding(#[source] OcspError),
}

impl Error {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::RequestTooLarge { .. } => "REQUEST_TOO_LARGE",
            Error::TooManyCertIds { .. } => "TOO_MANY_CERT_IDS",
            Error::Malformed(_) => "MALFORMED_REQUEST",
            Error::CaCertificate { .. } => "CA_CERTIFICATE",
            Error::Responder { .. } => "RESPONDER",
            Error::ReadFile { .. } => "READ_FILE",
            Error::Time { .. } => "TIME",
            Error::Crypto { .. } => "CRYPTO",
            Error::Encoding(_) => "ENCODING",
        }
    }

    /// The OCSP status a client is answered with: `malformedRequest` for anything wrong with
    /// the request, `internalError` for anything wrong on our side.
    pub fn response_status(&self) -> ResponseStatus {
        match self {
            Error::RequestTooLarge { .. } | Error::TooManyCertIds { .. } | Error::Malformed(_) => {
                ResponseStatus::MalformedRequest
            }
            Error::CaCertificate { .. }
            | Error::Responder { .. }
            | Error::ReadFile { .. }
            | Error::Time { .. }
            | Error::Crypto { .. }
            | Error::Encoding(_) => ResponseStatus::InternalError,
        }
    }
}

/// `OCSPResponse { responseStatus internalError }`, should encoding an error response fail.
const INTERNAL_ERROR_DER: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x02];

/// The DER `OCSPResponse` that answers a request that failed with `error`: the one place where
/// errors become responses.
pub fn error_response(error: &Error) -> Vec<u8> {
    status_response(error.response_status())
}

/// The DER of an unsigned `OCSPResponse` with `status` (anything but `successful`).
pub(crate) fn status_response(status: ResponseStatus) -> Vec<u8> {
    OcspResponse::error(status).unwrap_or_else(|_| INTERNAL_ERROR_DER.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_one_status() {
        let too_big = Error::RequestTooLarge { len: 2, max: 1 };
        assert_eq!(too_big.code(), "REQUEST_TOO_LARGE");
        let der = error_response(&too_big);
        let resp = OcspResponse::from_der(&der).unwrap();
        assert_eq!(resp.response_status, ResponseStatus::MalformedRequest);
        let internal = Error::Time { secs: -1 };
        let resp = OcspResponse::from_der(&error_response(&internal)).unwrap();
        assert_eq!(resp.response_status, ResponseStatus::InternalError);
        assert_eq!(
            OcspResponse::from_der(&INTERNAL_ERROR_DER)
                .unwrap()
                .response_status,
            ResponseStatus::InternalError
        );
    }
}
