//! Dev-only test support shared by the integration tests of every crate: a real `redis-server`
//! launcher on a free loopback port ([`RedisServer`]), helpers that run the OpenSSL CLI as an
//! independent judge ([`openssl`]), revocation snapshots built from CRLs without crl-sync
//! ([`snapshots`], for the tests of the snapshot readers), and free-port and wait helpers. Never a
//! dependency of a shipped binary.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod http;
mod net;
pub mod openssl;
mod redis;
pub mod snapshots;

pub use net::{free_port, wait_for_port};
pub use redis::RedisServer;
