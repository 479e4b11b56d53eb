//! Revocation comes in through [`RevocationSource`], which answers with the platform's one
//! status vocabulary ([`jpki::CertStatus`], freshness included). The verifier never turns
//! [`CertStatus::Unknown`] into "valid": it yields `indeterminate` / `TRY_LATER`.

use std::collections::HashMap;

use jpki::{Basis, CertStatus, CheckMethod, Freshness, Reason, Serial};

/// Where revocation status comes from: the CRL snapshots, OCSP, a test list.
pub trait RevocationSource {
    /// The status of `serial` issued under the CA key `issuer_key_id` (its subjectKeyIdentifier)
    /// at `at_unix`. `crl_points` are the names in the certificate's cRLDistributionPoints
    /// ([`crate::crl_points`]), so a source kept per CRL partition can answer from the
    /// certificate's own partition.
    fn status(
        &self,
        issuer_key_id: &[u8],
        serial: &Serial,
        crl_points: &[String],
        at_unix: i64,
    ) -> CertStatus;

    /// Whether this source deliberately checks nothing ([`NotChecked`]): the report then says
    /// `not_checked` instead of asking [`RevocationSource::status`].
    fn skips_check(&self) -> bool {
        false
    }
}

/// Any function of (issuer key id, serial, cRLDistributionPoints names, instant) is a source:
/// a server wraps its answer rule in a closure, e.g.
/// `|key: &[u8], serial: &Serial, points: &[String], at: i64| set.status(key, serial, at, points, policy)`.
impl<F> RevocationSource for F
where
    F: Fn(&[u8], &Serial, &[String], i64) -> CertStatus,
{
    fn status(
        &self,
        issuer_key_id: &[u8],
        serial: &Serial,
        crl_points: &[String],
        at_unix: i64,
    ) -> CertStatus {
        self(issuer_key_id, serial, crl_points, at_unix)
    }
}

/// A source that checks nothing and says so. For the operator CLI without a CRL snapshot only:
/// the report then says `revocation.status: not_checked`. Never use it in a server.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotChecked;

impl RevocationSource for NotChecked {
    fn status(&self, _: &[u8], _: &Serial, _: &[String], _: i64) -> CertStatus {
        // Only reached if a caller ignores `skips_check`: fail closed.
        CertStatus::unknown(jpki::UnknownReason::Unavailable(
            "the revocation check was skipped".to_owned(),
        ))
    }

    fn skips_check(&self) -> bool {
        true
    }
}

/// An in-memory source: a fixed set of revoked certificates, everything else good as of
/// `updated_at`. For tests and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct StaticSource {
    revoked: HashMap<(Vec<u8>, Serial), (i64, Option<Reason>)>,
    updated_at: i64,
}

impl StaticSource {
    /// An empty source whose data was produced at `updated_at` (Unix seconds).
    pub fn new(updated_at: i64) -> StaticSource {
        StaticSource {
            revoked: HashMap::new(),
            updated_at,
        }
    }

    /// Marks a certificate revoked.
    pub fn revoke(&mut self, issuer_key_id: &[u8], serial: Serial, revoked_at: i64, reason: Option<Reason>) {
        self.revoked
            .insert((issuer_key_id.to_vec(), serial), (revoked_at, reason));
    }

    fn freshness(&self, basis: Basis) -> Freshness {
        Freshness {
            method: CheckMethod::Static,
            partition: "static".into(),
            this_update: self.updated_at,
            next_update: i64::MAX,
            basis,
        }
    }
}

impl RevocationSource for StaticSource {
    fn status(&self, issuer_key_id: &[u8], serial: &Serial, _: &[String], _: i64) -> CertStatus {
        match self.revoked.get(&(issuer_key_id.to_vec(), *serial)) {
            Some(&(revoked_at, reason)) => CertStatus::Revoked {
                revoked_at,
                reason,
                freshness: self.freshness(Basis::ListingCrl),
            },
            None => CertStatus::Good(self.freshness(Basis::OwnPartition)),
        }
    }
}
