//! The answer to "is this certificate revoked?", with the freshness it rests on.
//!
//! Every server of the platform (the gateway's JSON status, KYC and login; the OCSP responder;
//! the operator's `jpki-verify`) speaks this vocabulary, and one rule produces it
//! (`revocation::status` over the CRL snapshots crl-sync writes):
//!
//! - [`CertStatus::Revoked`] when a CRL of the issuing CA key lists the serial, whatever the
//!   freshness (J-LIS never un-revokes);
//! - [`CertStatus::Good`] only when the serial is not listed and the CRL partition that applies
//!   covers the instant: `thisUpdate ≤ at < nextUpdate + grace`;
//! - [`CertStatus::Unknown`] otherwise (no data, stale data, data from the future): callers answer
//!   `TRY_LATER` / OCSP `unknown`, never "good".
//!
//! [`Freshness`] says which CRL partition the answer came from, its thisUpdate and nextUpdate,
//! and [`Basis`] how that partition was chosen, so an SP (or an auditor) can tell an answer from
//! the certificate's own municipality CRL from one that fell back to the stalest CRL of the CA key.

use std::sync::Arc;

use serde::Serialize;

use crate::Reason;

/// How the status was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckMethod {
    /// From the CRL snapshots (the revocation index).
    Crl,
    /// From an OCSP response.
    Ocsp,
    /// From a fixed in-memory list (tests and benchmarks only).
    Static,
}

impl CheckMethod {
    /// `crl`, `ocsp` or `static`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckMethod::Crl => "crl",
            CheckMethod::Ocsp => "ocsp",
            CheckMethod::Static => "static",
        }
    }
}

/// How the CRL partition whose dates an answer carries was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The partition whose CRL lists the serial (revoked answers).
    ListingCrl,
    /// The certificate's own partition, named by its cRLDistributionPoints (or recorded when it
    /// was registered).
    OwnPartition,
    /// The partition of the certificate was not known (or not loaded): the CA key's partition
    /// with the earliest nextUpdate answered, so one stale municipality CRL makes such answers
    /// unknown (fail closed).
    StalestPartition,
}

impl Basis {
    /// `listing_crl`, `own_partition` or `stalest_partition`.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::ListingCrl => "listing_crl",
            Basis::OwnPartition => "own_partition",
            Basis::StalestPartition => "stalest_partition",
        }
    }
}

/// The source data an answer rests on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Freshness {
    /// How the status was checked.
    pub method: CheckMethod,
    /// The CRL partition (its id in the snapshot), or the source's name for other methods. Shared
    /// with the snapshot, so that an answer (100,000 of them in one bulk check) copies no text.
    pub partition: Arc<str>,
    /// The CRL's thisUpdate (OCSP: thisUpdate), unix seconds.
    pub this_update: i64,
    /// The CRL's nextUpdate (OCSP: nextUpdate), unix seconds.
    pub next_update: i64,
    /// How the partition was chosen.
    pub basis: Basis,
}

impl Freshness {
    /// Whether this source may vouch for "good" at `at`: `thisUpdate ≤ at < nextUpdate + grace`
    /// (a negative grace counts as none).
    pub fn covers(&self, at: i64, grace: i64) -> bool {
        covers(self.this_update, self.next_update, at, grace)
    }
}

/// `this_update ≤ at < next_update + max(grace, 0)`, without overflow: the one freshness test.
pub fn covers(this_update: i64, next_update: i64, at: i64, grace: i64) -> bool {
    this_update <= at && at < next_update.saturating_add(grace.max(0))
}

/// Why a status is unknown. [`UnknownReason::code`] is stable (logs, metrics).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnknownReason {
    /// No revocation index is loaded.
    NoIndex,
    /// The index holds no CRL snapshot for the issuing CA key.
    NoSnapshot,
    /// The CA key's snapshot has no partition.
    NoPartition,
    /// The CRL that applies is past its nextUpdate (plus grace) at the instant asked.
    Stale,
    /// The CRL that applies was issued after the instant asked.
    NotYetValid,
    /// The source could not be used (e.g. an unreadable snapshot directory, an upstream error).
    Unavailable(String),
}

impl UnknownReason {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            UnknownReason::NoIndex => "no_index",
            UnknownReason::NoSnapshot => "no_snapshot",
            UnknownReason::NoPartition => "no_partition",
            UnknownReason::Stale => "stale",
            UnknownReason::NotYetValid => "not_yet_valid",
            UnknownReason::Unavailable(_) => "unavailable",
        }
    }
}

impl std::fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownReason::NoIndex => f.write_str("no revocation index is loaded"),
            UnknownReason::NoSnapshot => f.write_str("no CRL snapshot for the CA key"),
            UnknownReason::NoPartition => f.write_str("the CRL snapshot has no partition"),
            UnknownReason::Stale => f.write_str("the CRL is past its nextUpdate"),
            UnknownReason::NotYetValid => f.write_str("the CRL is not yet valid (thisUpdate is later)"),
            UnknownReason::Unavailable(why) => f.write_str(why),
        }
    }
}

/// The revocation status of one certificate at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CertStatus {
    /// Not revoked, according to a source that covers the instant.
    Good(Freshness),
    /// Revoked.
    Revoked {
        /// revocationDate, unix seconds.
        revoked_at: i64,
        /// CRL reasonCode, if given.
        reason: Option<Reason>,
        /// The CRL that lists it.
        freshness: Freshness,
    },
    /// Cannot tell: answer `TRY_LATER` (OCSP `unknown`).
    Unknown {
        /// Why.
        reason: UnknownReason,
        /// The source that could not vouch, when there is one (e.g. the stale CRL).
        freshness: Option<Freshness>,
    },
}

impl CertStatus {
    /// `good`, `revoked` or `unknown`.
    pub fn label(&self) -> &'static str {
        match self {
            CertStatus::Good(_) => "good",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Unknown { .. } => "unknown",
        }
    }

    /// The source data the answer rests on, when there is any.
    pub fn freshness(&self) -> Option<&Freshness> {
        match self {
            CertStatus::Good(f) | CertStatus::Revoked { freshness: f, .. } => Some(f),
            CertStatus::Unknown { freshness, .. } => freshness.as_ref(),
        }
    }

    /// An unknown status with no source data.
    pub fn unknown(reason: UnknownReason) -> CertStatus {
        CertStatus::Unknown {
            reason,
            freshness: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_is_half_open_with_grace() {
        assert!(!covers(100, 200, 99, 0));
        assert!(covers(100, 200, 100, 0));
        assert!(covers(100, 200, 199, 0));
        assert!(!covers(100, 200, 200, 0));
        assert!(covers(100, 200, 259, 60));
        assert!(!covers(100, 200, 260, 60));
        assert!(!covers(100, 200, 200, -5));
        assert!(!covers(i64::MIN, i64::MAX, i64::MAX, i64::MAX));
        assert!(covers(i64::MIN, i64::MAX, i64::MAX - 1, i64::MAX));
    }

    #[test]
    fn labels_and_codes() {
        let f = Freshness {
            method: CheckMethod::Crl,
            partition: "p".into(),
            this_update: 1,
            next_update: 2,
            basis: Basis::OwnPartition,
        };
        assert_eq!(CertStatus::Good(f.clone()).label(), "good");
        assert_eq!(CertStatus::Good(f.clone()).freshness(), Some(&f));
        assert_eq!(CertStatus::unknown(UnknownReason::NoIndex).freshness(), None);
        assert_eq!(UnknownReason::Stale.code(), "stale");
        assert_eq!(Basis::StalestPartition.as_str(), "stalest_partition");
        assert_eq!(CheckMethod::Ocsp.as_str(), "ocsp");
    }
}
