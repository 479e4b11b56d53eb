//! sp-gateway: the REST service that SPs (SP事業者) call.
//!
//! It will own SP authentication and per-SP rate limits, KYC verifications (犯収法 JPKI method),
//! login challenges, certificate-status checks restricted to certificates the SP registered,
//! consents and the 4-info update relay, webhooks, and the hash-chained audit log (動作記録).
//!
//! Cryptographic judgement lives in `verifier`; revocation data comes from `revocation` snapshots.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
