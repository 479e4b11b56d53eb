//! The simulator's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the simulator. Argument errors are reported before anything on
/// disk changes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A command-line or API argument is invalid.
    #[error("invalid {what}: {detail}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why it was refused.
        detail: String,
    },
    /// The state directory is not usable for this command.
    #[error("state directory {path}: {detail}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is malformed or inconsistent.
    #[error("state file {path}: {detail}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// No such certificate, holder, CA or consent.
    #[error("{what} not found: {id}")]
    NotFound {
        /// The kind of thing.
        what: &'static str,
        /// The identifier asked for.
        id: String,
    },
    /// The request conflicts with the current state (e.g. revoking a revoked certificate).
    #[error("{what}: {detail}")]
    Conflict {
        /// The kind of conflict.
        what: &'static str,
        /// Details.
        detail: String,
    },
    /// An OpenSSL operation failed.
    #[error("OpenSSL {op}: {source}")]
    OpenSsl {
        /// The operation.
        op: &'static str,
        /// OpenSSL's error stack.
        #[source]
        source: openssl::error::ErrorStack,
    },
    /// DER encoding or the structural self-check of an emitted object failed.
    #[error("encoding {what}: {detail}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// Details.
        detail: String,
    },
}

impl SimError {
    /// Wraps an OpenSSL error stack with the operation that failed.
    pub(crate) fn ssl(op: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> SimError {
        move |source| SimError::OpenSsl { op, source }
    }

    /// Wraps an I/O error with the operation and file.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SimError {
        let path = path.into();
        move |source| SimError::Io { op, path, source }
    }

    /// An invalid argument.
    pub(crate) fn arg(what: &'static str, detail: impl Into<String>) -> SimError {
        SimError::InvalidArgument {
            what,
            detail: detail.into(),
        }
    }
}

/// Result alias.
pub type Result<T, E = SimError> = std::result::Result<T, E>;
