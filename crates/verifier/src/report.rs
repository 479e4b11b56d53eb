//! The verification report, in the vocabulary of ETSI EN 319 102-1 and EU DSS.
//!
//! `verdict` is `valid`, `invalid` or `indeterminate` (ETSI TOTAL-PASSED / TOTAL-FAILED /
//! INDETERMINATE). `reason` is a stable sub-indication, absent when valid:
//!
//! | reason | verdict | meaning |
//! |---|---|---|
//! | `SIG_CRYPTO_FAILURE` | invalid | the signature does not verify with the certificate's key |
//! | `HASH_FAILURE` | invalid | CMS messageDigest differs from the hash of the content |
//! | `SIG_CONSTRAINTS_FAILURE` | indeterminate | CMS without the required signed attributes (contentType, messageDigest, signingTime), contentType ≠ eContentType, or more than one SignerInfo |
//! | `NO_SIGNING_CERTIFICATE_FOUND` | indeterminate | the CMS does not carry the certificate its SignerInfo names |
//! | `NO_CERTIFICATE_CHAIN_FOUND` | indeterminate | no trusted root issued the certificate (AKI→SKI, signature checked) |
//! | `EXPIRED` | invalid | the instant is after notAfter (of the certificate or its root) |
//! | `NOT_YET_VALID` | indeterminate | the instant is before notBefore |
//! | `REVOKED` | invalid | the revocation source says revoked |
//! | `POLICY_MISMATCH` | invalid | certificatePolicies missing, not critical, or for the other use |
//! | `KEY_USAGE` | invalid | keyUsage missing, not critical, or without the required bits |
//! | `CHAIN_CONSTRAINTS_FAILURE` | invalid | unknown critical extension, or the end entity is a CA |
//! | `UNSUPPORTED_ALGORITHM` | indeterminate | a key, curve or scheme the verifier does not support |
//! | `CRYPTO_CONSTRAINTS_FAILURE` | indeterminate | SHA-1, MD5 or a too-short key |
//! | `MALFORMED_INPUT` | invalid | over a size limit, does not parse, wrong digest length |
//! | `TRY_LATER` | indeterminate | the revocation status is unknown (stale CRL, lookup failure) |
//!
//! The verdicts follow ETSI EN 319 102-1 where it has the same sub-indication. Checks run in this
//! order, and the first failure is the reason: size limits, parse (and for CMS the message
//! structure and signed attributes), the certificate profile (critical extensions, policy,
//! keyUsage), hierarchy and chain, the use asked for (`POLICY_MISMATCH`), validity of the
//! certificate and its root, the signature (for CMS first the messageDigest), the 4 info,
//! revocation.
//!
//! `basic_info` (personal data) is present only when the verdict is `valid` and the certificate
//! is a signing certificate; never for a user-authentication certificate. `revocation.status` is
//! `good`, `revoked`, `unknown` (verdict `indeterminate` / `TRY_LATER`, never valid) or
//! `not_checked` (an operator skipped it with [`crate::NotChecked`], or verification stopped
//! before the revocation check). `cms` is present for CMS input only.

use jpki::{BasicInfoView, Carrier, CertKind, Hierarchy, Reason};
use serde::Serialize;

use crate::cms::SignerIdKind;
use crate::error::Failure;
use crate::signature::HashAlg;

/// The overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// A check failed definitively.
    Invalid,
    /// The verifier cannot decide (yet).
    Indeterminate,
}

/// The stable sub-indication. See the module documentation for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ReasonCode {
    SigCryptoFailure,
    HashFailure,
    SigConstraintsFailure,
    NoSigningCertificateFound,
    NoCertificateChainFound,
    Expired,
    NotYetValid,
    Revoked,
    PolicyMismatch,
    KeyUsage,
    ChainConstraintsFailure,
    UnsupportedAlgorithm,
    CryptoConstraintsFailure,
    MalformedInput,
    TryLater,
}

impl ReasonCode {
    /// The verdict this reason implies.
    pub fn verdict(self) -> Verdict {
        match self {
            ReasonCode::SigCryptoFailure
            | ReasonCode::HashFailure
            | ReasonCode::Expired
            | ReasonCode::Revoked
            | ReasonCode::PolicyMismatch
            | ReasonCode::KeyUsage
            | ReasonCode::ChainConstraintsFailure
            | ReasonCode::MalformedInput => Verdict::Invalid,
            ReasonCode::NoCertificateChainFound
            | ReasonCode::SigConstraintsFailure
            | ReasonCode::NoSigningCertificateFound
            | ReasonCode::NotYetValid
            | ReasonCode::UnsupportedAlgorithm
            | ReasonCode::CryptoConstraintsFailure
            | ReasonCode::TryLater => Verdict::Indeterminate,
        }
    }

    /// The code as it appears in JSON, e.g. `SIG_CRYPTO_FAILURE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::SigCryptoFailure => "SIG_CRYPTO_FAILURE",
            ReasonCode::HashFailure => "HASH_FAILURE",
            ReasonCode::SigConstraintsFailure => "SIG_CONSTRAINTS_FAILURE",
            ReasonCode::NoSigningCertificateFound => "NO_SIGNING_CERTIFICATE_FOUND",
            ReasonCode::NoCertificateChainFound => "NO_CERTIFICATE_CHAIN_FOUND",
            ReasonCode::Expired => "EXPIRED",
            ReasonCode::NotYetValid => "NOT_YET_VALID",
            ReasonCode::Revoked => "REVOKED",
            ReasonCode::PolicyMismatch => "POLICY_MISMATCH",
            ReasonCode::KeyUsage => "KEY_USAGE",
            ReasonCode::ChainConstraintsFailure => "CHAIN_CONSTRAINTS_FAILURE",
            ReasonCode::UnsupportedAlgorithm => "UNSUPPORTED_ALGORITHM",
            ReasonCode::CryptoConstraintsFailure => "CRYPTO_CONSTRAINTS_FAILURE",
            ReasonCode::MalformedInput => "MALFORMED_INPUT",
            ReasonCode::TryLater => "TRY_LATER",
        }
    }
}

/// Facts about the signer's certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateFacts {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Issuer DN (RFC 4514).
    pub issuer: String,
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// Signing or user authentication, by policy.
    pub kind: Option<CertKind>,
    /// Card or smartphone, by policy.
    pub carrier: Option<Carrier>,
    /// Production or test hierarchy, by policy.
    pub hierarchy: Option<Hierarchy>,
    /// SHA-256 fingerprint of the certificate, hex.
    pub fingerprint: String,
    /// SHA-256 fingerprint of the trusted root it chains to, hex (when a chain was found).
    pub root_fingerprint: Option<String>,
}

/// Revocation facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevocationFacts {
    /// Good.
    Good {
        /// When the source data was produced, RFC 3339.
        source_updated_at: String,
        /// `crl`, `ocsp`, ...
        check_method: String,
    },
    /// Revoked.
    Revoked {
        /// Revocation time, RFC 3339.
        revoked_at: String,
        /// RFC 5280 reason name.
        reason: Option<String>,
        /// What the reason means at J-LIS.
        meaning: Option<String>,
    },
    /// Unknown: the verdict is indeterminate / TRY_LATER.
    Unknown {
        /// Why.
        why: String,
    },
    /// Not checked: skipped by the operator, or verification stopped earlier.
    NotChecked {
        /// Why.
        why: String,
    },
}

impl RevocationFacts {
    pub(crate) fn revoked(revoked_at: i64, reason: Option<Reason>) -> RevocationFacts {
        RevocationFacts::Revoked {
            revoked_at: rfc3339(revoked_at),
            reason: reason.map(|r| r.rfc_name().to_owned()),
            meaning: reason.map(|r| r.jpki_meaning().to_owned()),
        }
    }
}

/// The report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// The sub-indication; `None` when valid.
    pub reason: Option<ReasonCode>,
    /// Details for humans.
    pub message: String,
    /// The signer's certificate, when it parsed.
    pub certificate: Option<CertificateFacts>,
    /// The basic 4 information, for signing certificates.
    pub basic_info: Option<BasicInfoView>,
    /// Revocation.
    pub revocation: RevocationFacts,
    /// The status the revocation source answered, with the freshness it rests on (not part of
    /// the JSON report: servers build their own view of it). `None` when the verification
    /// stopped before the revocation check or the check was skipped.
    #[serde(skip)]
    pub revocation_status: Option<jpki::CertStatus>,
    /// CMS facts, for CMS SignedData input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cms: Option<CmsFacts>,
    /// The instant verified at, RFC 3339.
    pub verified_at: String,
}

/// Facts about a CMS SignedData, as the signer stated them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CmsFacts {
    /// The content travelled outside the SignedData.
    pub detached: bool,
    /// eContentType, dotted OID.
    pub content_type: String,
    /// digestAlgorithm, e.g. `sha256` (absent when not supported).
    pub digest_algorithm: Option<HashAlg>,
    /// signatureAlgorithm, dotted OID.
    pub signature_algorithm: String,
    /// How the SignerInfo named its certificate.
    pub signer_identifier: SignerIdKind,
    /// The signingTime attribute, RFC 3339: what the signer's clock said, not a trusted time.
    pub signing_time: Option<String>,
}

impl Report {
    /// True when the verdict is valid.
    pub fn is_valid(&self) -> bool {
        self.verdict == Verdict::Valid
    }

    /// A report for a failure before or at a check.
    pub(crate) fn failed(
        failure: Failure,
        certificate: Option<CertificateFacts>,
        revocation: RevocationFacts,
        at_unix: i64,
    ) -> Report {
        Report {
            verdict: failure.code.verdict(),
            reason: Some(failure.code),
            message: failure.message,
            certificate,
            basic_info: None,
            revocation,
            revocation_status: None,
            cms: None,
            verified_at: rfc3339(at_unix),
        }
    }
}

/// Why a status is unknown, for humans: the reason and, when there is one, the CRL that could
/// not vouch for the instant.
pub fn unknown_why(
    reason: &jpki::UnknownReason,
    freshness: Option<&jpki::Freshness>,
    at_unix: i64,
) -> String {
    match freshness {
        Some(f) => format!(
            "{reason}: CRL partition {} (thisUpdate {}, nextUpdate {}) does not cover {}",
            f.partition,
            rfc3339(f.this_update),
            rfc3339(f.next_update),
            rfc3339(at_unix)
        ),
        None => reason.to_string(),
    }
}

/// Unix seconds as RFC 3339 (UTC); out-of-range values as the plain number.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}
