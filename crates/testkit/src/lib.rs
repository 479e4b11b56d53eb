//! Dev-only test support shared by the integration tests of every crate: a real `redis-server`
//! launcher on a free loopback port, helpers that run the OpenSSL CLI as an independent judge, and
//! simulator fixtures. Never a dependency of a shipped binary.
#![forbid(unsafe_code)]
