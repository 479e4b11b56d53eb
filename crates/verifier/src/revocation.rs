//! Revocation comes in through [`RevocationSource`]. The verifier never turns
//! [`RevocationStatus::Unknown`] into "valid": it yields `indeterminate` / `TRY_LATER`.

use std::collections::HashMap;

use jpki::{Reason, Serial};

/// The status of one certificate at one instant, as a source knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Not revoked according to a source that was current.
    Good {
        /// When the source's data was produced (CRL thisUpdate, OCSP producedAt), Unix seconds.
        source_updated_at: i64,
        /// How it was checked, e.g. `crl` or `ocsp` (recorded: OCSP checks may be billed).
        check_method: String,
    },
    /// Revoked.
    Revoked {
        /// Revocation time, Unix seconds.
        revoked_at: i64,
        /// CRL reason, if given.
        reason: Option<Reason>,
    },
    /// The source cannot tell (stale CRL, unknown issuer, lookup failure).
    Unknown {
        /// Why.
        why: String,
    },
    /// The check was deliberately skipped ([`NotChecked`], operator CLI only).
    NotChecked,
}

/// Where revocation status comes from: a CRL snapshot, OCSP, a test stub.
pub trait RevocationSource {
    /// The status of `serial` issued under the CA key `issuer_key_id` (its subjectKeyIdentifier)
    /// at `at_unix`.
    fn status(&self, issuer_key_id: &[u8], serial: &Serial, at_unix: i64) -> RevocationStatus;

    /// The same, told the names in the certificate's cRLDistributionPoints
    /// ([`crate::crl_points`]), so a source kept per CRL partition can answer a good
    /// certificate with the dates of its own partition. The verifier calls this one; the
    /// default ignores the names.
    fn status_at_points(
        &self,
        issuer_key_id: &[u8],
        serial: &Serial,
        crl_points: &[String],
        at_unix: i64,
    ) -> RevocationStatus {
        let _ = crl_points;
        self.status(issuer_key_id, serial, at_unix)
    }
}

/// A source that checks nothing and says so. For the operator CLI without a CRL snapshot only:
/// the report then says `revocation.status: not_checked`. Never use it in a server.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotChecked;

impl RevocationSource for NotChecked {
    fn status(&self, _: &[u8], _: &Serial, _: i64) -> RevocationStatus {
        RevocationStatus::NotChecked
    }
}

/// An in-memory source: a fixed set of revoked certificates, everything else good as of
/// `updated_at`. For tests, benchmarks and small deployments.
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
}

impl RevocationSource for StaticSource {
    fn status(&self, issuer_key_id: &[u8], serial: &Serial, at_unix: i64) -> RevocationStatus {
        let _ = at_unix;
        match self.revoked.get(&(issuer_key_id.to_vec(), *serial)) {
            Some(&(revoked_at, reason)) => RevocationStatus::Revoked { revoked_at, reason },
            None => RevocationStatus::Good {
                source_updated_at: self.updated_at,
                check_method: "static".to_owned(),
            },
        }
    }
}
