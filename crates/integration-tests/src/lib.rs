//! Tests that run several services of jpki-pf together, such as crl-sync appending delta events
//! that the gateway's webhook worker delivers. They live in this crate so that no service depends
//! on another, not even for its tests. The crate has no code of its own: everything is under
//! `tests/`, and the gateway's test harness is shared from `crates/sp-gateway/tests/support`.
