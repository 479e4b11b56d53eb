//! Errors of CRL parsing, verification and the freshness/rollback rules.
//!
//! One enum for the crate ([`CrlError`]); every variant has a stable machine code ([`CrlError::code`])
//! that the CLI's JSON summary and the logs use. Offsets are byte offsets into the CRL's DER
//! (or into the `revokedCertificates` content for [`crate::parse::walk_revoked`] called directly).

use thiserror::Error;

/// Why a CRL was rejected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CrlError {
    /// The input is larger than the configured limit; nothing was parsed.
    #[error("CRL is {size} bytes; the limit is {max}")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The input looked like PEM but is not a well-formed `X509 CRL` PEM block.
    #[error("bad PEM: {what}")]
    BadPem {
        /// What was wrong.
        what: &'static str,
    },
    /// The CRL header (outside the revoked entries) is not valid DER of the expected shape.
    #[error("malformed CRL at byte {offset}: {what}")]
    Malformed {
        /// Byte offset of the element that could not be read.
        offset: usize,
        /// What was expected or wrong.
        what: &'static str,
    },
    /// A revoked entry is malformed or carries something we do not accept.
    #[error("bad revoked entry at byte {offset}: {what}")]
    BadEntry {
        /// Byte offset of the entry's SEQUENCE.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// The version field is not v2, or a v1 CRL carries extensions.
    #[error("unsupported CRL version: {what}")]
    UnsupportedVersion {
        /// What was wrong.
        what: &'static str,
    },
    /// The inner (TBSCertList.signature) and outer signatureAlgorithm differ.
    #[error("the signature algorithm inside the signed part differs from the outer one")]
    AlgorithmMismatch,
    /// The CRL has no nextUpdate; we cannot tell when it goes stale.
    #[error("CRL has no nextUpdate")]
    MissingNextUpdate,
    /// nextUpdate is before thisUpdate.
    #[error("nextUpdate ({next_update}) is before thisUpdate ({this_update})")]
    InvertedValidity {
        /// thisUpdate, Unix seconds.
        this_update: i64,
        /// nextUpdate, Unix seconds.
        next_update: i64,
    },
    /// The issuer Name could not be decoded.
    #[error("issuer name: {detail}")]
    BadIssuerName {
        /// The decoder's message.
        detail: String,
    },
    /// A CRL extension we understand is malformed or appears twice.
    #[error("bad CRL extension {name}: {what}")]
    BadExtension {
        /// The extension's name (`cRLNumber`, `authorityKeyIdentifier`, ...).
        name: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// A delta CRL (deltaCRLIndicator present); only complete CRLs are accepted.
    #[error("delta CRLs are not accepted")]
    DeltaCrl,
    /// A critical CRL extension we do not understand (RFC 5280 §5.2: the CRL must not be used).
    #[error("unknown critical CRL extension {oid}")]
    UnknownCriticalExtension {
        /// The extension's OID in dotted form.
        oid: String,
    },
    /// A critical entry extension we do not understand.
    #[error("unknown critical entry extension {oid} in the entry at byte {offset}")]
    UnknownCriticalEntryExtension {
        /// Byte offset of the entry's SEQUENCE.
        offset: usize,
        /// The extension's OID in dotted form.
        oid: String,
    },
    /// An entry carries certificateIssuer: an indirect CRL, which we do not support.
    #[error("indirect CRL (certificateIssuer in the entry at byte {offset}) is not supported")]
    IndirectCrl {
        /// Byte offset of the entry's SEQUENCE.
        offset: usize,
    },
    /// The visitor fed by the walk refused an entry (for example, the index builder is full).
    #[error("the index builder refused an entry: {0}")]
    Visitor(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The signature algorithm is not one we verify.
    #[error("unsupported signature algorithm {oid}")]
    UnsupportedAlgorithm {
        /// The algorithm OID in dotted form.
        oid: String,
    },
    /// The signature algorithm or key is too weak (MD5, SHA-1, RSA below 2048 bits).
    #[error("weak signature algorithm or key: {what}")]
    WeakAlgorithm {
        /// The algorithm OID or the key size.
        what: String,
    },
    /// The CA key type does not fit the signature algorithm (an RSA algorithm with an EC key, ...).
    #[error("the CA key type does not match the signature algorithm {oid}")]
    KeyTypeMismatch {
        /// The algorithm OID in dotted form.
        oid: String,
    },
    /// The CRL's authorityKeyIdentifier differs from the CA certificate's subjectKeyIdentifier.
    #[error("the CRL's authority key id does not match the CA's subject key id")]
    KeyIdMismatch,
    /// The CRL's issuer Name differs from the CA certificate's subject.
    #[error("the CRL issuer name differs from the CA subject")]
    IssuerNameMismatch,
    /// The signature does not verify with the CA key.
    #[error("the CRL signature does not verify")]
    BadSignature,
    /// OpenSSL failed for a reason other than a wrong signature (bad key, allocation).
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),

    /// thisUpdate is further in the future than the allowed clock skew.
    #[error("CRL not yet valid: thisUpdate {this_update} is after now {now} plus the allowed skew")]
    NotYetValid {
        /// thisUpdate, Unix seconds.
        this_update: i64,
        /// The time checked against, Unix seconds.
        now: i64,
    },
    /// nextUpdate has passed.
    #[error("CRL is stale: nextUpdate {next_update} is before now {now}")]
    Stale {
        /// nextUpdate, Unix seconds.
        next_update: i64,
        /// The time checked against, Unix seconds.
        now: i64,
    },
    /// The CRL is older than, or conflicts with, the one we already have.
    #[error("CRL rollback: {what}")]
    Rollback {
        /// Which rule was broken.
        what: &'static str,
    },
}

impl CrlError {
    /// A stable machine code for the CLI summary, metrics labels and logs.
    pub fn code(&self) -> &'static str {
        match self {
            CrlError::TooLarge { .. } => "CRL_TOO_LARGE",
            CrlError::BadPem { .. } => "CRL_BAD_PEM",
            CrlError::Malformed { .. } => "CRL_MALFORMED",
            CrlError::BadEntry { .. } => "CRL_BAD_ENTRY",
            CrlError::UnsupportedVersion { .. } => "CRL_UNSUPPORTED_VERSION",
            CrlError::AlgorithmMismatch => "CRL_ALGORITHM_MISMATCH",
            CrlError::MissingNextUpdate => "CRL_MISSING_NEXT_UPDATE",
            CrlError::InvertedValidity { .. } => "CRL_INVERTED_VALIDITY",
            CrlError::BadIssuerName { .. } => "CRL_BAD_ISSUER_NAME",
            CrlError::BadExtension { .. } => "CRL_BAD_EXTENSION",
            CrlError::DeltaCrl => "CRL_DELTA_NOT_ACCEPTED",
            CrlError::UnknownCriticalExtension { .. } => "CRL_UNKNOWN_CRITICAL_EXTENSION",
            CrlError::UnknownCriticalEntryExtension { .. } => "CRL_UNKNOWN_CRITICAL_ENTRY_EXTENSION",
            CrlError::IndirectCrl { .. } => "CRL_INDIRECT_NOT_SUPPORTED",
            CrlError::Visitor(_) => "CRL_VISITOR_REFUSED",
            CrlError::UnsupportedAlgorithm { .. } => "CRL_UNSUPPORTED_ALGORITHM",
            CrlError::WeakAlgorithm { .. } => "CRL_WEAK_ALGORITHM",
            CrlError::KeyTypeMismatch { .. } => "CRL_KEY_TYPE_MISMATCH",
            CrlError::KeyIdMismatch => "CRL_KEY_ID_MISMATCH",
            CrlError::IssuerNameMismatch => "CRL_ISSUER_NAME_MISMATCH",
            CrlError::BadSignature => "CRL_BAD_SIGNATURE",
            CrlError::OpenSsl(_) => "CRL_OPENSSL_ERROR",
            CrlError::NotYetValid { .. } => "CRL_NOT_YET_VALID",
            CrlError::Stale { .. } => "CRL_STALE",
            CrlError::Rollback { .. } => "CRL_ROLLBACK",
        }
    }
}
