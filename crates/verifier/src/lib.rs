//! The verifier: judges JPKI signatures, login challenges and certificate chains as a PF must.
//!
//! It will own chain building from the end-entity certificate to a pinned J-LIS root by
//! authorityKeyIdentifier → subjectKeyIdentifier (several root generations share one DN), the
//! certificate checks (validity at an instant, critical certificatePolicies per use, critical
//! keyUsage, unknown critical extensions), signature verification (PKCS#1 v1.5, PSS, ECDSA P-384,
//! CMS SignedData) and a report in ETSI EN 319 102-1 vocabulary. Revocation comes in through a
//! trait; the verifier never turns "unknown" into "valid".
//!
//! It is pure and synchronous: no sockets, no files, no async. It is not a CRL fetcher or a server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
