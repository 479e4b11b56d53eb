//! The OCSP client the PF uses to ask J-LIS's responder about one certificate: a request builder,
//! a response verifier and a bounded cache of verified answers, shared by the OCSP responder
//! (relaying when a CRL partition is stale) and the gateway (live status checks).
//!
//! - [`OcspQuery`] builds the question: the CertID of a certificate under its CA
//!   ([`IssuingCa`]; SHA-1 by default, as J-LIS matches, or SHA-256) with a fresh nonce from
//!   OpenSSL's random generator.
//! - [`verify_response`] is the safety-critical part: pure, synchronous, usable on response
//!   bytes from anywhere. It accepts an answer only when it is signed by the CA or by a
//!   certificate the CA issued for OCSP signing, answers exactly the CertID asked, echoes the
//!   nonce, and is fresh; everything else is a typed [`OcspClientError`] with a stable code. The
//!   answer comes out as the platform's [`jpki::CertStatus`] with `check_method: ocsp`.
//! - [`OcspClient`] POSTs `application/ocsp-request` with a timeout and a size bound, verifies,
//!   and caches verified answers ([`VerifiedCache`]) until their nextUpdate, never past it, so
//!   J-LIS is asked once per certificate per validity window. [`ocsp_url`] reads a certificate's
//!   authorityInfoAccess; [`responder_url`] falls back to the URL configured for its CA.
//!
//! Not for: answering SPs (that is the `ocsp-proxy` responder and the gateway, which map every
//! error here to "try later"), deciding a status from CRLs (`revocation::status`), signing
//! responses, or verifying certificate chains (`verifier`). An error never becomes "good".
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod aia;
mod cache;
mod client;
mod error;
mod issuer;
mod request;
mod responder;
mod verify;

pub use aia::{OID_AD_OCSP, OID_AIA, ocsp_url};
pub use cache::{CacheKey, VerifiedCache};
pub use client::{
    AnswerSource, ClientConfig, OcspClient, REQUEST_CONTENT_TYPE, RESPONSE_CONTENT_TYPE, responder_url,
    unix_now,
};
pub use error::OcspClientError;
pub use issuer::IssuingCa;
pub use request::{
    CertIdHash, DEFAULT_NONCE_LEN, MIN_NONCE_LEN, OID_SHA1, OID_SHA256, OcspQuery, fresh_nonce,
};
pub use verify::{DEFAULT_SOURCE, Verified, VerifyPolicy, verify_response};
