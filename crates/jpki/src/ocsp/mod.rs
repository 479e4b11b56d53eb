//! RFC 6960 OCSP message types, on the `der` crate, with no cryptography.
//!
//! The J-LIS simulator's responder and the PF's `ocsp-proxy` both speak through these types:
//! [`OcspRequest::from_der`] reads a request behind a size limit and never panics (it accepts the
//! preferred-signature-algorithms extension that made the `ocsp` crate panic), and
//! [`ResponseData::to_der`], [`BasicOcspResponse::assemble`] and [`OcspResponse::error`] build
//! responses around a signature computed elsewhere. [`decode_get`] reads the GET form (RFC 6960
//! appendix A), [`OcspRequest::checked_nonce`] applies the RFC 8954 nonce length rule and
//! [`OcspRequest::preferred_signature_algorithms`] reads the RFC 6960 §4.4.7 extension.
//!
//! Not here: signing, signature verification, or deciding a certificate's status.

mod get;
mod request;
mod response;

#[cfg(test)]
mod tests;

use der::Sequence;
use der::asn1::{Int, ObjectIdentifier, OctetString};
use thiserror::Error;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::error::SerialError;
use crate::serial::Serial;

pub use get::{MAX_GET_LEN, decode_get};
pub use request::{
    OcspRequest, PreferredSignatureAlgorithm, RequestSignature, RequestedCert, SingleRequest, TbsRequest,
};
pub use response::{
    BasicOcspResponse, CertStatus, OcspResponse, ResponderId, ResponseBytes, ResponseData, ResponseStatus,
    RevokedInfo, SingleResponse,
};
pub use x509_cert::ext::pkix::crl::CrlReason;

/// Largest OCSP request or response accepted, in bytes.
pub const MAX_OCSP_LEN: usize = 64 * 1024;

/// Longest nonce accepted (RFC 8954 §2.1: `Nonce ::= OCTET STRING(SIZE(1..32))`). RFC 9654,
/// which obsoletes RFC 8954, relaxes the upper bound for environments that need longer nonces;
/// no JPKI client does, and this is the one place to change should one appear.
pub const MAX_NONCE_LEN: usize = 32;

/// `id-pkix-ocsp-nonce` (RFC 6960 §4.4.1, RFC 8954).
pub const OID_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// `id-pkix-ocsp-pref-sig-algs` (RFC 6960 §4.4.7).
pub const OID_PREF_SIG_ALGS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.8");
/// `id-pkix-ocsp-basic`, the only response type defined (RFC 6960 §4.2.1).
pub const OID_BASIC_RESPONSE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

/// Why an OCSP message could not be read or built. Each variant has a stable [`OcspError::code`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OcspError {
    /// The input is larger than [`MAX_OCSP_LEN`].
    #[error("OCSP message of {len} bytes exceeds the limit of {max}")]
    InputTooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not valid DER for the expected structure.
    #[error("malformed DER in {context}: {detail}")]
    MalformedDer {
        /// What was being decoded.
        context: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A request with no `Request` in its `requestList`.
    #[error("the OCSP request lists no certificate")]
    EmptyRequestList,
    /// A CertID serial number that is not an RFC 5280 serial (negative, over 20 octets, ...).
    #[error("bad serial number in CertID: {0}")]
    BadSerial(#[from] SerialError),
    /// A GET path that is not percent-encoded base64 (RFC 6960 appendix A).
    #[error("bad OCSP GET encoding: {detail}")]
    BadGetEncoding {
        /// What was wrong.
        detail: &'static str,
    },
    /// A nonce extension whose value is not an OCTET STRING of 1 to [`MAX_NONCE_LEN`] octets
    /// (RFC 8954 §2.1: the responder answers `malformedRequest`).
    #[error("bad nonce: {detail}")]
    BadNonce {
        /// What was wrong.
        detail: String,
    },
    /// An extension present more than once (RFC 5280 §4.2 forbids it).
    #[error("duplicate extension {oid}")]
    DuplicateExtension {
        /// The extension's OID, dotted.
        oid: String,
    },
    /// A successful response whose responseType is not `id-pkix-ocsp-basic`.
    #[error("unsupported OCSP response type {oid}")]
    UnsupportedResponseType {
        /// The responseType, dotted.
        oid: String,
    },
    /// A successful response without responseBytes, or an error response with them.
    #[error("responseBytes do not match responseStatus")]
    StatusMismatch,
    /// Encoding failed (a length overflow); never expected for messages under the size limit.
    #[error("could not encode {context}: {detail}")]
    Encoding {
        /// What was being encoded.
        context: &'static str,
        /// The encoder's message.
        detail: String,
    },
}

impl OcspError {
    /// A stable machine code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            OcspError::InputTooLarge { .. } => "INPUT_TOO_LARGE",
            OcspError::MalformedDer { .. } => "MALFORMED_DER",
            OcspError::EmptyRequestList => "EMPTY_REQUEST_LIST",
            OcspError::BadSerial(_) => "BAD_SERIAL",
            OcspError::BadGetEncoding { .. } => "BAD_GET_ENCODING",
            OcspError::BadNonce { .. } => "BAD_NONCE",
            OcspError::DuplicateExtension { .. } => "DUPLICATE_EXTENSION",
            OcspError::UnsupportedResponseType { .. } => "UNSUPPORTED_RESPONSE_TYPE",
            OcspError::StatusMismatch => "STATUS_MISMATCH",
            OcspError::Encoding { .. } => "ENCODING",
        }
    }
}

pub(crate) fn malformed(context: &'static str) -> impl Fn(der::Error) -> OcspError {
    move |e| OcspError::MalformedDer {
        context,
        detail: e.to_string(),
    }
}

pub(crate) fn encoding(context: &'static str) -> impl Fn(der::Error) -> OcspError {
    move |e| OcspError::Encoding {
        context,
        detail: e.to_string(),
    }
}

pub(crate) fn check_size(der: &[u8]) -> Result<(), OcspError> {
    if der.len() > MAX_OCSP_LEN {
        return Err(OcspError::InputTooLarge {
            len: der.len(),
            max: MAX_OCSP_LEN,
        });
    }
    Ok(())
}

/// RFC 6960 §4.1.1:
///
/// ```text
/// CertID ::= SEQUENCE {
///     hashAlgorithm       AlgorithmIdentifier,
///     issuerNameHash      OCTET STRING, -- Hash of issuer's DN
///     issuerKeyHash       OCTET STRING, -- Hash of issuer's public key
///     serialNumber        CertificateSerialNumber }
/// ```
///
/// The serial is kept as the INTEGER it was sent as, so that a response echoes the CertID exactly;
/// [`CertId::serial`] checks it.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct CertId {
    /// The hash used for both issuer hashes (SHA-1 from OpenSSL by default).
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// Hash of the issuer's DER-encoded subject name.
    pub issuer_name_hash: OctetString,
    /// Hash of the issuer's public key (the BIT STRING value of its subjectPublicKey).
    pub issuer_key_hash: OctetString,
    /// The certificate serial number, as sent.
    pub serial_number: Int,
}

impl CertId {
    /// A CertID for `serial` under the given hashes.
    pub fn new(
        hash_algorithm: AlgorithmIdentifierOwned,
        issuer_name_hash: &[u8],
        issuer_key_hash: &[u8],
        serial: Serial,
    ) -> Result<CertId, OcspError> {
        Ok(CertId {
            hash_algorithm,
            issuer_name_hash: OctetString::new(issuer_name_hash).map_err(encoding("CertID"))?,
            issuer_key_hash: OctetString::new(issuer_key_hash).map_err(encoding("CertID"))?,
            serial_number: Int::new(&serial.to_der_content()).map_err(encoding("CertID"))?,
        })
    }

    /// The serial number as an RFC 5280 serial (non-negative, at most 20 octets).
    pub fn serial(&self) -> Result<Serial, OcspError> {
        Ok(Serial::from_der_content(self.serial_number.as_bytes())?)
    }
}

/// `Version ::= INTEGER { v1(0) }`; only v1 exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, der::Enumerated)]
#[asn1(type = "INTEGER")]
#[repr(u8)]
pub enum Version {
    /// `v1(0)`.
    #[default]
    V1 = 0,
}
