//! Each CertID of a request answered through the one revocation rule.
//!
//! For a CertID:
//! - an issuer not in the [`IssuerTable`] (or a CertID hash other than SHA-1 and SHA-256) is
//!   OCSP `unknown`: in OCSP, `unknown` means "this responder does not know the certificate",
//!   which is exactly the case;
//! - otherwise [`revocation::status`] decides, over the loaded [`SnapshotSet`]: `good` and
//!   `revoked` (revocationTime, reason) carry the thisUpdate and nextUpdate of the CRL partition
//!   the rule relied on;
//! - when the rule cannot vouch (stale or not-yet-valid partition, no snapshot for the CA key, no
//!   index), the CRL data must not answer at all, neither `good` nor `unknown` (an SP could read
//!   `unknown` as final). The caller's [`StalePolicy`] says what happens instead: a live check
//!   against J-LIS's own responder ([`Answer::NeedsLiveCheck`]), or `tryLater`.
//!
//! **Which partition?** An OCSP request carries the issuer and the serial only, not the
//! certificate, so its cRLDistributionPoints (which name its municipality's CRL partition) are
//! not known. The rule then falls back to the CA key's stalest partition
//! ([`jpki::Basis::StalestPartition`]): "good" only when every CRL partition of the key is fresh,
//! which is fail-closed. A directory from serial to partition, kept when certificates are
//! registered, would let fresh partitions answer while another is late; it is not built yet.
//!
//! Not for: relaying to J-LIS (the server does that with [`LiveCheck`]) or signing.

use std::time::Duration;

use der::asn1::{GeneralizedTime, Null};
use jpki::ocsp::{CertId, CertStatus as OcspStatus, CrlReason, RevokedInfo, SingleResponse};
use jpki::{CertStatus, Freshness, Reason, Serial, UnknownReason};
use revocation::{Policy, SnapshotSet};

use crate::Error;
use crate::issuers::IssuerTable;
use crate::request::{AskedCert, Request};

/// What to do when the CRL data cannot vouch for a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StalePolicy {
    /// Ask J-LIS's responder ([`Answer::NeedsLiveCheck`]).
    Relay,
    /// Answer the whole request `tryLater` ([`Answer::TryLater`]).
    #[default]
    TryLater,
}

/// A certificate whose status must come from J-LIS's responder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveCheck {
    /// The CertID as the client sent it.
    pub cert_id: CertId,
    /// The served CA key it names (subjectKeyIdentifier).
    pub ca_key_id: Vec<u8>,
    /// Its serial.
    pub serial: Serial,
    /// Why the CRL data could not answer.
    pub reason: UnknownReason,
    /// The CRL partition that could not vouch, when there is one.
    pub freshness: Option<Freshness>,
}

/// The answer for one CertID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Ready to sign: good, revoked, or unknown (issuer not served).
    Status(SingleResponse),
    /// The CRL data cannot vouch; J-LIS's responder must be asked ([`StalePolicy::Relay`]).
    NeedsLiveCheck(LiveCheck),
    /// The CRL data cannot vouch and no live check is allowed ([`StalePolicy::TryLater`]).
    TryLater(UnknownReason),
}

/// What to do with a whole request: OCSP answers all of a request's CertIDs in one signed
/// response, or none of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Sign these responses, one per CertID in request order.
    Respond(Vec<SingleResponse>),
    /// Some CertIDs need a live check; the answers are in request order, the ready ones
    /// included, so the caller replaces each [`Answer::NeedsLiveCheck`] and signs.
    NeedsLiveCheck(Vec<Answer>),
    /// Answer `tryLater` (the first reason, for the log).
    TryLater(UnknownReason),
}

/// Everything an answer depends on besides the request.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The CAs served.
    pub issuers: &'a IssuerTable,
    /// The revocation index (`None`: none loaded yet).
    pub snapshots: Option<&'a SnapshotSet>,
    /// The instant asked about, unix seconds (now).
    pub at: i64,
    /// Grace past a CRL's nextUpdate.
    pub policy: Policy,
    /// What to do when the CRL data cannot vouch.
    pub stale: StalePolicy,
}

/// The answer for one certificate.
pub fn answer_one(ctx: &Context<'_>, asked: &AskedCert) -> Result<Answer, Error> {
    let Some(ca) = ctx.issuers.find(&asked.cert_id) else {
        return Ok(Answer::Status(SingleResponse {
            cert_id: asked.cert_id.clone(),
            cert_status: OcspStatus::Unknown(Null),
            this_update: gtime(ctx.at)?,
            next_update: None,
            single_extensions: None,
        }));
    };
    let no_hint: &[&str] = &[];
    let status = revocation::status(
        ctx.snapshots,
        ca.key_id(),
        &asked.serial,
        ctx.at,
        no_hint,
        ctx.policy,
    );
    let (cert_status, freshness) = match status {
        CertStatus::Good(f) => (OcspStatus::Good(Null), f),
        CertStatus::Revoked {
            revoked_at,
            reason,
            freshness,
        } => (
            OcspStatus::Revoked(RevokedInfo {
                revocation_time: gtime(revoked_at)?,
                revocation_reason: reason.map(crl_reason),
            }),
            freshness,
        ),
        CertStatus::Unknown { reason, freshness } => {
            return Ok(match ctx.stale {
                StalePolicy::Relay => Answer::NeedsLiveCheck(LiveCheck {
                    cert_id: asked.cert_id.clone(),
                    ca_key_id: ca.key_id().to_vec(),
                    serial: asked.serial,
                    reason,
                    freshness,
                }),
                StalePolicy::TryLater => Answer::TryLater(reason),
            });
        }
    };
    Ok(Answer::Status(SingleResponse {
        cert_id: asked.cert_id.clone(),
        cert_status,
        this_update: gtime(freshness.this_update)?,
        next_update: Some(gtime(freshness.next_update)?),
        single_extensions: None,
    }))
}

/// The decision for a whole request: any `tryLater` makes the request `tryLater`; otherwise any
/// live check makes it wait for the live checks; otherwise it is ready to sign.
pub fn answer_request(ctx: &Context<'_>, request: &Request) -> Result<Decision, Error> {
    let answers = request
        .certs()
        .iter()
        .map(|asked| answer_one(ctx, asked))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(reason) = answers.iter().find_map(|a| match a {
        Answer::TryLater(r) => Some(r.clone()),
        _ => None,
    }) {
        return Ok(Decision::TryLater(reason));
    }
    if answers.iter().any(|a| matches!(a, Answer::NeedsLiveCheck(_))) {
        return Ok(Decision::NeedsLiveCheck(answers));
    }
    Ok(Decision::Respond(
        answers
            .into_iter()
            .filter_map(|a| match a {
                Answer::Status(s) => Some(s),
                _ => None,
            })
            .collect(),
    ))
}

/// The DER of `OCSPResponse { responseStatus tryLater }`.
pub fn try_later_response() -> Vec<u8> {
    crate::error::status_response(jpki::ocsp::ResponseStatus::TryLater)
}

/// Unix seconds as GeneralizedTime (whole seconds, as RFC 5280 requires).
pub(crate) fn gtime(secs: i64) -> Result<GeneralizedTime, Error> {
    u64::try_from(secs)
        .ok()
        .and_then(|s| GeneralizedTime::from_unix_duration(Duration::from_secs(s)).ok())
        .ok_or(Error::Time { secs })
}

pub(crate) fn crl_reason(reason: Reason) -> CrlReason {
    match reason {
        Reason::Unspecified => CrlReason::Unspecified,
        Reason::KeyCompromise => CrlReason::KeyCompromise,
        Reason::CaCompromise => CrlReason::CaCompromise,
        Reason::AffiliationChanged => CrlReason::AffiliationChanged,
        Reason::Superseded => CrlReason::Superseded,
        Reason::CessationOfOperation => CrlReason::CessationOfOperation,
        Reason::CertificateHold => CrlReason::CertificateHold,
        Reason::RemoveFromCrl => CrlReason::RemoveFromCRL,
        Reason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        Reason::AaCompromise => CrlReason::AaCompromise,
    }
}

#[cfg(test)]
mod tests;
