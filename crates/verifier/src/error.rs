//! Errors: [`Failure`] is a verification outcome other than "valid" on its way to the report;
//! [`TrustError`] is a configuration error building a [`crate::TrustStore`].

use jpki::algorithm::AlgorithmError;

use crate::report::ReasonCode;

/// Why a verification step did not succeed: a stable code and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The stable reason code.
    pub code: ReasonCode,
    /// What exactly was wrong, for support staff.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// `MALFORMED_INPUT` with `message`.
    pub fn malformed(message: impl Into<String>) -> Failure {
        Failure::new(ReasonCode::MalformedInput, message)
    }

    /// An algorithm the policy table ([`jpki::algorithm`]) refused, in `what` (the field):
    /// weak algorithms are `CRYPTO_CONSTRAINTS_FAILURE`, unknown ones and RSASSA-PSS parameters
    /// outside the policy `UNSUPPORTED_ALGORITHM`, malformed identifiers `MALFORMED_INPUT`.
    pub(crate) fn refused_algorithm(what: &str, e: &AlgorithmError) -> Failure {
        let code = match e {
            AlgorithmError::Weak { .. } => ReasonCode::CryptoConstraintsFailure,
            AlgorithmError::MalformedParameters { .. } | AlgorithmError::Malformed { .. } => {
                ReasonCode::MalformedInput
            }
            _ => ReasonCode::UnsupportedAlgorithm,
        };
        let message = match e {
            AlgorithmError::Weak { .. } => format!("{what}: {e}, refused for signatures (CRYPTREC)"),
            _ => format!("{what}: {e}"),
        };
        Failure::new(code, message)
    }
}

/// A trust store could not be built as configured.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The root certificate does not parse.
    #[error("root certificate does not parse: {0}")]
    Parse(String),
    /// The root's SHA-256 fingerprint is not the pinned one.
    #[error("root fingerprint {actual} does not match the pinned {expected}")]
    FingerprintMismatch {
        /// Pinned fingerprint (hex).
        expected: String,
        /// Actual fingerprint (hex).
        actual: String,
    },
    /// A `JPKI-TEST` root offered to a production trust store.
    #[error("test-hierarchy root (O=JPKI-TEST) refused by a production trust store")]
    TestRootInProduction,
    /// A production root offered to a test trust store.
    #[error("production root refused by a test trust store")]
    ProductionRootInTest,
    /// Not a self-signed CA certificate with a good self-signature.
    #[error("not a usable root: {0}")]
    NotARoot(String),
    /// The root's key is neither RSA (>= 2048 bits) nor ECDSA P-384.
    #[error("unsupported root key: {0}")]
    UnsupportedKey(String),
}
