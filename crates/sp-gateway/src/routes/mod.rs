//! The HTTP handlers, one module per resource.

pub mod consents;
pub mod logins;
pub mod ops;
pub mod status;
pub mod verifications;
