//! sp-gateway: the REST service that SPs (SP事業者, banks and brokers) call for KYC
//! verifications (犯収法 JPKI method), logins, certificate re-checks and the 4-info relay.
//!
//! What it is for: authenticating SPs ([`pf_server::registry`]), limiting them
//! ([`pf_server::ratelimit`]), running the
//! [`verifier`] against the live revocation index ([`index`]), keeping the raw certificates and
//! stable user ids per SP in Redis ([`store`]), sealing verification ids so that status checks
//! need no Redis ([`ids`]), relaying J-LIS's 4-info service ([`relay`]), asking J-LIS's OCSP responder for live
//! status checks ([`live`]), and writing the
//! hash-chained audit log ([`audit`]), and delivering signed webhooks when a consented certificate
//! is revoked ([`webhooks`]). The contract is `openapi.json` beside this crate's
//! manifest and `docs/SP_GUIDE.md`.
//!
//! What it is not for: judging certificates (that is `verifier`), building the index (that is
//! `crl-sync`), answering OCSP (that is `ocsp-proxy`). It never stores, logs or counts 4 info.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod audit;
pub mod body;
pub mod cli;
pub mod config;
pub mod consent_index;
pub mod error;
pub mod ids;
pub mod index;
pub mod live;
pub mod metrics;
pub mod random;
pub mod relay;
pub mod report;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod webhooks;

pub use config::Config;
pub use error::ApiError;
pub use state::{Gateway, Shared};
