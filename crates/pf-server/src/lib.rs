//! pf-server: the foundation every jpki-pf server stands on (the SP gateway, the OCSP responder),
//! and the part of it crl-sync shares.
//!
//! What it is for: loading typed configuration from TOML with an environment override for every
//! key ([`config`]), reading secrets from files without ever printing them ([`secret`]), knowing
//! which SPs may call, with which API keys, purposes and client certificates ([`registry`]),
//! limiting each SP's rate across replicas through Redis ([`ratelimit`]), and serving HTTPS with
//! optional mutual TLS ([`tls`]).
//!
//! What it is not for: any one service's routes, answers or storage. It depends on no service.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod ratelimit;
pub mod registry;
pub mod secret;
pub mod tls;

pub use config::ConfigError;
