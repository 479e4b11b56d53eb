//! crl-sync: the daily CRL job.
//!
//! It will own fetching every configured CRL partition (conditional GET, retries, size limit),
//! verifying each CRL against its CA key, rejecting rollback and stale CRLs, walking the revoked
//! entries straight into the revocation index builder without a struct per entry, writing the
//! snapshot atomically and publishing the delta to a Redis stream.
//!
//! The delta of a partition's first snapshot is not published entry by entry: the first snapshot
//! is a baseline, announced by one `baseline` marker per partition in the same stream; later
//! snapshots publish one `revoked` event per newly listed certificate ([`publish`] has the rule
//! and the stream format).
//!
//! It does not answer status questions; servers read the snapshots it writes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod build;
pub mod cli;
pub mod config;
pub mod fetch;
pub mod metrics;
pub mod outbox;
pub mod outcome;
pub mod publish;
pub mod run;
pub mod stream;

pub mod error;
pub mod parse;
pub mod verify;
