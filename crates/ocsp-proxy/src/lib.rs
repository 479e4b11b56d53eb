//! ocsp-proxy: an RFC 6960 OCSP responder over the revocation index.
//!
//! It will own OCSP request parsing, answers from a fresh index (good / revoked / unknown),
//! `tryLater` or a relay to the J-LIS responder when the index is stale, response signing with the
//! PF's delegated responder key, a per-certificate response cache, and RFC 5019 cache headers.
//!
//! It does not build the index (that is `crl-sync`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
