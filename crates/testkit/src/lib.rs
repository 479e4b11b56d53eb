//! Dev-only test support shared by the integration tests of every crate: a real `redis-server`
//! launcher on a free loopback port ([`RedisServer`]), helpers that run the OpenSSL CLI as an
//! independent judge ([`openssl`]), and free-port and wait helpers. Never a dependency of a shipped
//! binary.
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

pub use net::{free_port, wait_for_port};
pub use redis::RedisServer;
