//! pf-server: the foundation every jpki-pf server stands on (the SP gateway, the OCSP responder),
//! and the part of it crl-sync shares.
//!
//! What it is for: loading typed configuration from TOML with an environment override for every
//! key ([`config`]), reading secrets from files without ever printing them ([`secret`]).
//!
//! What it is not for: any one service's routes, answers or storage. It depends on no service.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod secret;

pub use config::ConfigError;
