//! From the verifier's [`Report`] to the API's JSON, and the stored record (which never holds 4
//! info).

use jpki::{Carrier, CertKind, Hierarchy, Serial};
use serde::Serialize;
use serde_json::{Value, json};
use verifier::{CmsFacts, ReasonCode, Report, Verdict};

use crate::ids::{CertRef, KeyTags};
use crate::index::RevocationView;

/// The `certificate` object: facts only, no subject (the subject of a signing certificate names
/// the holder's municipality).
#[derive(Debug, Serialize)]
pub struct CertificateView<'a> {
    serial: &'a str,
    issuer: &'a str,
    not_before: &'a str,
    not_after: &'a str,
    kind: Option<&'static str>,
    carrier: Option<Carrier>,
    hierarchy: Option<Hierarchy>,
    fingerprint: &'a str,
}

impl<'a> CertificateView<'a> {
    /// The view of the report's certificate, if it has one.
    pub fn of(report: &'a Report) -> Option<CertificateView<'a>> {
        report.certificate.as_ref().map(|c| CertificateView {
            serial: &c.serial,
            issuer: &c.issuer,
            not_before: &c.not_before,
            not_after: &c.not_after,
            kind: c.kind.map(|k| k.short_name()),
            carrier: c.carrier,
            hierarchy: c.hierarchy,
            fingerprint: &c.fingerprint,
        })
    }
}

/// The `revocation` object: the status the verifier's revocation check got from the index
/// ([`verifier::Report::revocation_status`]), `not_checked` when it stopped earlier (the
/// signature or the chain already failed).
pub fn revocation_view(report: &Report) -> Value {
    match &report.revocation_status {
        None => {
            json!({"status": "not_checked", "check_method": Value::Null, "source_updated_at": Value::Null})
        }
        Some(status) => serde_json::to_value(RevocationView::of(status)).unwrap_or(Value::Null),
    }
}

/// The certificate to register: only for a valid verdict on a certificate that chained to a
/// configured root. Its partition is not known here (`None`): the caller, which has the
/// certificate, sets it with [`crate::index::record_partition`].
pub fn cert_ref(report: &Report, tags: &KeyTags) -> Option<(CertRef, CertKind)> {
    if !report.is_valid() {
        return None;
    }
    let c = report.certificate.as_ref()?;
    let tag = tags.tag_of_root(c.root_fingerprint.as_deref()?)?;
    let serial = Serial::from_hex(&c.serial).ok()?;
    Some((
        CertRef {
            tag,
            serial,
            partition: None,
        },
        c.kind?,
    ))
}

/// The record kept in Redis and answered by `GET /v1/verifications/{id}`: the response without
/// `basic_info` and `user_id` (stored beside it). Serialised straight from the report, without an
/// intermediate JSON value.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// The verification id (`null` in an answer when nothing was registered).
    pub id: Option<&'a str>,
    purpose: &'a str,
    verdict: Verdict,
    reason: Option<ReasonCode>,
    message: &'a str,
    certificate: Option<CertificateView<'a>>,
    revocation: &'a Value,
    cms: &'a Option<CmsFacts>,
    verified_at: &'a str,
}

/// The [`Record`] of a verification or login.
pub fn record<'a>(
    id: Option<&'a str>,
    purpose: &'a str,
    report: &'a Report,
    revocation: &'a Value,
) -> Record<'a> {
    Record {
        id,
        purpose,
        verdict: report.verdict,
        reason: report.reason,
        message: &report.message,
        certificate: CertificateView::of(report),
        revocation,
        cms: &report.cms,
        verified_at: &report.verified_at,
    }
}

/// `None` of the verdict as a metrics label.
pub fn reason_label(report: &Report) -> &'static str {
    report.reason.map_or("none", |r| r.as_str())
}

/// The verdict as a label.
pub fn verdict_label(report: &Report) -> &'static str {
    match report.verdict {
        verifier::Verdict::Valid => "valid",
        verifier::Verdict::Invalid => "invalid",
        verifier::Verdict::Indeterminate => "indeterminate",
    }
}
