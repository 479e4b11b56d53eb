//! ocsp-proxy: an RFC 6960 OCSP responder over the revocation index.
//!
//! This library is the responder's pure core, with no sockets and no async:
//! - [`request`]: the POST body or GET path of a request, decoded and checked (size, number of
//!   CertIDs, RFC 8954 nonce, preferred signature algorithms);
//! - [`issuers`]: the CA certificates served, matched against a CertID by issuerNameHash and
//!   issuerKeyHash (SHA-1 or SHA-256), yielding the CA key id the revocation index is keyed by;
//! - [`answer`]: each CertID answered through the one revocation rule
//!   ([`revocation::status`]): good, revoked or unknown, or, when the CRL data cannot vouch, a
//!   live check (relay to J-LIS) or `tryLater`, never "good" from stale data;
//! - [`sign`]: the BasicOCSPResponse signed with the PF's delegated responder key;
//! - [`Error`]: every failure, and [`error_response`], the one place that maps a failure to an
//!   OCSP response status.
//!
//! - [`config`] and [`server`]: the responder over HTTP on the platform's server foundation
//!   (`pf-server`: configuration, index holder with hot reload, health endpoints, shutdown, TLS),
//!   with a signed-response cache, RFC 5019 cache headers and load shedding; the thin binary
//!   `ocsp-proxy serve --config FILE`.
//!
//!   Stale partitions are relayed to J-LIS's responder through `ocsp_client` when `[upstream]`
//!   is set, `tryLater` otherwise.
//!
//! Not here: building the index (that is `crl-sync`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod answer;
pub mod config;
mod error;
pub mod issuers;
pub mod request;
pub mod server;
pub mod sign;

pub use error::{Error, error_response};
