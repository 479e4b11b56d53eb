//! crl-sync: the daily CRL job.
//!
//! It will own fetching every configured CRL partition (conditional GET, retries, size limit),
//! verifying each CRL against its CA key, rejecting rollback and stale CRLs, walking the revoked
//! entries straight into the revocation index builder without a struct per entry, writing the
//! snapshot atomically and publishing the delta to a Redis stream.
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
