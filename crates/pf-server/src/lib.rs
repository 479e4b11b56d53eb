//! pf-server: the foundation every jpki-pf server stands on (the SP gateway, the OCSP responder),
//! and the part of it crl-sync shares.
//!
//! What it is for: what a server needs to run and be operated, the same way in every service:
//! - loading typed configuration from TOML with an environment override for every key
//!   ([`config`]), reading secrets from files without ever printing them ([`secret`]);
//! - knowing which SPs may call, with which API keys, purposes and client certificates
//!   ([`registry`]), limiting each SP's rate across replicas through Redis ([`ratelimit`]), and
//!   serving HTTPS with optional mutual TLS ([`tls`]);
//! - the live revocation index, held in memory and swapped in when crl-sync writes a newer
//!   snapshot ([`index`]);
//! - `/healthz`, `/readyz` (the per-process readiness rule, with the service's own checks) and
//!   `/metrics` ([`health`]), with the index's metrics under the service's namespace
//!   ([`metrics`]);
//! - log set-up ([`logging`]), graceful shutdown on SIGTERM/SIGINT ([`shutdown`]), and the one
//!   way instants are read and written ([`clock`]).
//!
//! What it is not for: any one service's routes, answers or storage; the revocation answer rule
//! itself (that is [`revocation::status`]). It depends on no service.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod health;
pub mod index;
pub mod logging;
pub mod metrics;
pub mod ratelimit;
pub mod registry;
pub mod secret;
pub mod shutdown;
pub mod tls;

pub use config::ConfigError;
