//! The one error type of the crate: building, writing, opening and validating snapshots.

use std::path::PathBuf;

use thiserror::Error;

/// Why a snapshot could not be built, written or opened.
///
/// Variants that describe a damaged file name the field and, where there is one, the byte offset,
/// so an operator can tell a torn write from a format mismatch.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `write`, `rename`, `fsync`, `read dir`, `map`).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic.
    #[error("not a revocation snapshot (bad magic)")]
    BadMagic,
    /// The file was written by a format version this build does not read.
    #[error("snapshot format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The file is shorter than its header says (a torn or truncated write).
    #[error("snapshot truncated: {field} needs {needed} bytes, the file has {actual}")]
    Truncated {
        /// What did not fit.
        field: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The trailing checksum does not match the contents.
    #[error("snapshot checksum mismatch: stored {stored:016x}, computed {computed:016x}")]
    ChecksumMismatch {
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the bytes read.
        computed: u64,
    },
    /// A header field or array holds a value the format does not allow.
    #[error("corrupt snapshot: {field} at byte {offset}: {detail}")]
    Corrupt {
        /// The field or section.
        field: &'static str,
        /// Byte offset in the file (of the section when the exact place is not known).
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The issuer key identifier is empty or longer than 32 bytes.
    #[error("issuer key identifier has {len} bytes; 1 to 32 are allowed")]
    IssuerKeyId {
        /// Length given.
        len: usize,
    },
    /// A serial number has more than 20 octets of magnitude.
    #[error("serial number has {octets} octets; at most 20 are allowed (partition {partition})")]
    SerialTooLong {
        /// Octets of magnitude.
        octets: usize,
        /// Partition index it was pushed for.
        partition: u16,
    },
    /// A CRLReason code that RFC 5280 does not define (7, or above 10).
    #[error("reason code {code} is not a CRLReason (partition {partition})")]
    InvalidReason {
        /// The code.
        code: u8,
        /// Partition index it was pushed for.
        partition: u16,
    },
    /// An entry names a partition that was not added.
    #[error("partition index {index} was not added (there are {count})")]
    UnknownPartition {
        /// The index.
        index: u16,
        /// Partitions added so far.
        count: usize,
    },
    /// Partition metadata that the format cannot hold.
    #[error("partition {id:?}: {detail}")]
    PartitionMeta {
        /// The partition id (possibly cut short).
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// Revocation times span more than a `u32` of seconds (about 136 years) or overflow.
    #[error("revocation times {min}..{max} span more than 2^32 seconds")]
    TimeRange {
        /// Earliest time.
        min: i64,
        /// Latest time.
        max: i64,
    },
    /// Another writer holds the snapshot directory's lock.
    #[error("{path}: another writer holds the snapshot directory lock")]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// More entries than the format indexes (2^32 - 1 per array).
    #[error("{count} entries exceed the format limit")]
    TooManyEntries {
        /// Entries found.
        count: usize,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(field: &'static str, offset: usize, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            field,
            offset: offset as u64,
            detail: detail.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
