//! The delta event: what crl-sync appends to the Redis delta stream and what its readers (the
//! gateway's webhook worker) take from it, as one type with one field encoding.
//!
//! For: the two kinds of stream entries ([`DeltaEvent`]), their bounds ([`DeltaEvent::validate`]),
//! their fields ([`DeltaEvent::to_fields`]) and the parse of an entry's fields back into an event
//! ([`DeltaEvent::from_fields`]). Not for: Redis itself (the writer and the readers pass the
//! field list to their own client) or deciding which events a snapshot publishes (crl-sync).
//!
//! # Stream entries
//! An entry is a list of (name, value) pairs, all values text. The `event` field tells the kinds
//! apart:
//!
//! | `event` | fields | meaning |
//! |---|---|---|
//! | `revoked` | `issuer_key_id`, `serial`, `reason`, `revoked_at`, `partition`, `crl_number` | a certificate newly listed by a partition's CRL |
//! | `baseline` | `issuer_key_id`, `partition`, `crl_number`, `entries`, `this_update` | a partition indexed for the first time: its entries are the state of the world, not news |
//!
//! Values:
//! - `issuer_key_id`: the CA key identifier (1 to 32 bytes), lower-case hex
//!   (upper case is read too);
//! - `serial`: the certificate serial (at most [`MAX_SERIAL_OCTETS`] octets), upper-case hex of its
//!   magnitude as OpenSSL prints it (`00` for zero);
//! - `reason`: the RFC 5280 CRLReason name (`affiliationChanged`), or empty when the CRL entry had
//!   no reasonCode;
//! - `revoked_at`, `this_update`: unix seconds, decimal;
//! - `entries`: how many entries the partition's CRL listed, decimal;
//! - `partition`: the partition id (at most [`MAX_PARTITION_ID_BYTES`] bytes of UTF-8);
//! - `crl_number`: in a `baseline`, that partition's CRL number in hex (empty when the CRL has
//!   none); in a `revoked`, the CRL numbers of the snapshot's changed partitions, each in hex,
//!   joined with `+` (at most [`MAX_CRL_NUMBERS_LEN`] bytes).
//!
//! # Unknown fields
//! Fields an event kind does not define are **ignored**, so that a writer may add a field before
//! every reader knows it. Each entry is still bounded: at most [`MAX_FIELDS`] fields, every name
//! at most once. An unknown `event` value is an error ([`EventError::UnknownKind`]): a reader
//! counts and skips such an entry rather than guessing what it means.

use std::fmt;

use jpki::{Reason, Serial};

use crate::entry::{MAX_CRL_NUMBER_OCTETS, MAX_PARTITION_ID_BYTES};
use crate::format::MAX_KEY_ID_LEN;

/// The `event` value of a [`RevokedCertificate`].
pub const EVENT_REVOKED: &str = "revoked";
/// The `event` value of a [`PartitionBaseline`].
pub const EVENT_BASELINE: &str = "baseline";
/// Longest serial, in octets of magnitude (RFC 5280 §4.1.2.2), as [`Serial`] holds it.
pub const MAX_SERIAL_OCTETS: usize = 20;
/// Most fields one entry may carry, unknown ones included.
pub const MAX_FIELDS: usize = 32;
/// Longest `crl_number` of a `revoked` event, in bytes: the CRL numbers of about 1,500 partitions
/// of one CA key at their longest (20 octets).
pub const MAX_CRL_NUMBERS_LEN: usize = 64 * 1024;
/// Longest `reason`: the longest RFC 5280 name is 20 bytes.
const MAX_REASON_LEN: usize = 32;
/// Longest decimal integer field (`-9223372036854775808` is 20 bytes).
const MAX_NUMBER_LEN: usize = 20;
/// Longest text of a field name or value quoted in an error.
const QUOTE_LEN: usize = 32;

/// One entry of the delta stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeltaEvent {
    /// A certificate newly listed by a partition's CRL (`event` = `revoked`).
    Revoked(RevokedCertificate),
    /// A partition indexed for the first time (`event` = `baseline`).
    Baseline(PartitionBaseline),
}

/// A certificate newly listed by a partition's CRL: the previous snapshot of its CA key had the
/// partition but not the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedCertificate {
    /// The CA key identifier, 1 to 32 bytes.
    pub issuer_key_id: Vec<u8>,
    /// The certificate serial.
    pub serial: Serial,
    /// The CRL entry's reasonCode, if it had one.
    pub reason: Option<Reason>,
    /// revocationDate, unix seconds.
    pub revoked_at: i64,
    /// The id of the partition whose CRL listed it.
    pub partition: String,
    /// The CRL numbers of the snapshot that announced it: hex, joined with `+`; may be empty.
    pub crl_number: String,
}

/// A partition indexed for the first time. Its CRL's entries are a baseline, not news, and are
/// not announced one by one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionBaseline {
    /// The CA key identifier, 1 to 32 bytes.
    pub issuer_key_id: Vec<u8>,
    /// The partition id.
    pub partition: String,
    /// Its CRL number, hex (upper case as crl-sync prints it); empty when the CRL has none.
    pub crl_number: String,
    /// How many entries its CRL listed.
    pub entries: u64,
    /// Its CRL's thisUpdate, unix seconds.
    pub this_update: i64,
}

/// Why an entry is not a delta event, or an event is out of bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A field the event kind needs is absent.
    #[error("delta event: field `{field}` is missing")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// A field name appears more than once.
    #[error("delta event: field `{field}` appears more than once")]
    DuplicateField {
        /// The field name (at most 32 characters of it).
        field: String,
    },
    /// The entry carries more fields than [`MAX_FIELDS`].
    #[error("delta event: more than {max} fields")]
    TooManyFields {
        /// [`MAX_FIELDS`].
        max: usize,
    },
    /// The `event` value names no kind this build knows.
    #[error("delta event: unknown event kind {found:?}")]
    UnknownKind {
        /// The value (at most 32 characters of it).
        found: String,
    },
    /// A value is not UTF-8.
    #[error("delta event: field `{field}` is not UTF-8")]
    NotText {
        /// The field.
        field: &'static str,
    },
    /// A value is longer than its field allows.
    #[error("delta event: field `{field}` is {len} bytes, at most {max} allowed")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A value that must not be empty is.
    #[error("delta event: field `{field}` is empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// A hex value holds something other than hex digits (and `+` separators where allowed), or an
    /// odd number of digits where bytes are meant.
    #[error("delta event: field `{field}` is not valid hex")]
    BadHex {
        /// The field.
        field: &'static str,
    },
    /// A decimal value is not an integer of its type.
    #[error("delta event: field `{field}` is not a decimal integer in range")]
    BadNumber {
        /// The field.
        field: &'static str,
    },
    /// The serial is longer than [`MAX_SERIAL_OCTETS`] octets.
    #[error("delta event: serial is longer than {max} octets")]
    BadSerial {
        /// [`MAX_SERIAL_OCTETS`].
        max: usize,
    },
    /// The reason is not an RFC 5280 CRLReason name.
    #[error("delta event: reason {found:?} is not an RFC 5280 CRLReason name")]
    BadReason {
        /// The value (at most 32 characters of it).
        found: String,
    },
}

impl EventError {
    /// A stable machine code, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::MissingField { .. } => "DELTA_EVENT_MISSING_FIELD",
            EventError::DuplicateField { .. } => "DELTA_EVENT_DUPLICATE_FIELD",
            EventError::TooManyFields { .. } => "DELTA_EVENT_TOO_MANY_FIELDS",
            EventError::UnknownKind { .. } => "DELTA_EVENT_UNKNOWN_KIND",
            EventError::NotText { .. } => "DELTA_EVENT_NOT_TEXT",
            EventError::TooLong { .. } => "DELTA_EVENT_FIELD_TOO_LONG",
            EventError::Empty { .. } => "DELTA_EVENT_EMPTY_FIELD",
            EventError::BadHex { .. } => "DELTA_EVENT_BAD_HEX",
            EventError::BadNumber { .. } => "DELTA_EVENT_BAD_NUMBER",
            EventError::BadSerial { .. } => "DELTA_EVENT_BAD_SERIAL",
            EventError::BadReason { .. } => "DELTA_EVENT_BAD_REASON",
        }
    }
}

/// At most [`QUOTE_LEN`] characters of hostile text, for an error message.
fn quote(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(QUOTE_LEN).collect()
}

impl DeltaEvent {
    /// The `event` value of this kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DeltaEvent::Revoked(_) => EVENT_REVOKED,
            DeltaEvent::Baseline(_) => EVENT_BASELINE,
        }
    }

    /// The CA key identifier the event is about.
    pub fn issuer_key_id(&self) -> &[u8] {
        match self {
            DeltaEvent::Revoked(r) => &r.issuer_key_id,
            DeltaEvent::Baseline(b) => &b.issuer_key_id,
        }
    }

    /// Checks the bounds a reader enforces ([`DeltaEvent::from_fields`] accepts exactly the
    /// encodings of the events that pass), so a writer finds a bad event before appending it.
    pub fn validate(&self) -> Result<(), EventError> {
        check_key_id(self.issuer_key_id())?;
        match self {
            DeltaEvent::Revoked(r) => {
                check_partition(&r.partition)?;
                check_hex_list(CRL_NUMBER, &r.crl_number, MAX_CRL_NUMBERS_LEN, true)
            }
            DeltaEvent::Baseline(b) => {
                check_partition(&b.partition)?;
                check_hex_list(CRL_NUMBER, &b.crl_number, 2 * (MAX_CRL_NUMBER_OCTETS + 1), false)
            }
        }
    }

    /// The entry's fields, `event` first, in the order crl-sync has always written them.
    ///
    /// Writes what it is given: call [`DeltaEvent::validate`] first for an event not made by
    /// [`DeltaEvent::from_fields`].
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            DeltaEvent::Revoked(r) => vec![
                (EVENT, EVENT_REVOKED.to_owned()),
                (ISSUER_KEY_ID, hex_lower(&r.issuer_key_id)),
                (SERIAL, r.serial.to_hex()),
                (
                    REASON,
                    r.reason.map(Reason::rfc_name).unwrap_or_default().to_owned(),
                ),
                (REVOKED_AT, r.revoked_at.to_string()),
                (PARTITION, r.partition.clone()),
                (CRL_NUMBER, r.crl_number.clone()),
            ],
            DeltaEvent::Baseline(b) => vec![
                (EVENT, EVENT_BASELINE.to_owned()),
                (ISSUER_KEY_ID, hex_lower(&b.issuer_key_id)),
                (PARTITION, b.partition.clone()),
                (CRL_NUMBER, b.crl_number.clone()),
                (ENTRIES, b.entries.to_string()),
                (THIS_UPDATE, b.this_update.to_string()),
            ],
        }
    }

    /// Parses an entry's fields (names and values as bytes, in any order). Fields the kind does
    /// not define are ignored; see the module documentation for the bounds.
    pub fn from_fields<I, N, V>(fields: I) -> Result<DeltaEvent, EventError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let f = Fields::collect(fields)?;
        let kind = f.required(EVENT)?;
        let event = match kind.as_bytes() {
            b"revoked" => DeltaEvent::Revoked(RevokedCertificate {
                issuer_key_id: key_id(f.required(ISSUER_KEY_ID)?)?,
                serial: serial(f.required(SERIAL)?)?,
                reason: reason(f.required(REASON)?)?,
                revoked_at: number(REVOKED_AT, f.required(REVOKED_AT)?)?,
                partition: f.required(PARTITION)?.to_owned(),
                crl_number: f.required(CRL_NUMBER)?.to_owned(),
            }),
            b"baseline" => DeltaEvent::Baseline(PartitionBaseline {
                issuer_key_id: key_id(f.required(ISSUER_KEY_ID)?)?,
                partition: f.required(PARTITION)?.to_owned(),
                crl_number: f.required(CRL_NUMBER)?.to_owned(),
                entries: number(ENTRIES, f.required(ENTRIES)?)?,
                this_update: number(THIS_UPDATE, f.required(THIS_UPDATE)?)?,
            }),
            other => return Err(EventError::UnknownKind { found: quote(other) }),
        };
        event.validate()?;
        Ok(event)
    }
}

impl fmt::Display for DeltaEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeltaEvent::Revoked(r) => write!(
                f,
                "revoked {} by key {} in {}",
                r.serial,
                hex_lower(&r.issuer_key_id),
                r.partition
            ),
            DeltaEvent::Baseline(b) => write!(
                f,
                "baseline of {} ({} entries) for key {}",
                b.partition,
                b.entries,
                hex_lower(&b.issuer_key_id)
            ),
        }
    }
}

const EVENT: &str = "event";
const ISSUER_KEY_ID: &str = "issuer_key_id";
const SERIAL: &str = "serial";
const REASON: &str = "reason";
const REVOKED_AT: &str = "revoked_at";
const PARTITION: &str = "partition";
const CRL_NUMBER: &str = "crl_number";
const ENTRIES: &str = "entries";
const THIS_UPDATE: &str = "this_update";
/// The names a reader looks at; every other field is ignored.
const KNOWN: [&str; 9] = [
    EVENT,
    ISSUER_KEY_ID,
    SERIAL,
    REASON,
    REVOKED_AT,
    PARTITION,
    CRL_NUMBER,
    ENTRIES,
    THIS_UPDATE,
];

/// The known fields of one entry, each seen at most once.
struct Fields {
    values: [Option<Vec<u8>>; KNOWN.len()],
}

impl Fields {
    fn collect<I, N, V>(fields: I) -> Result<Self, EventError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut values: [Option<Vec<u8>>; KNOWN.len()] = Default::default();
        // Unknown names are only counted and compared, never kept beyond this list.
        let mut unknown: Vec<Vec<u8>> = Vec::new();
        for (i, (name, value)) in fields.into_iter().enumerate() {
            if i >= MAX_FIELDS {
                return Err(EventError::TooManyFields { max: MAX_FIELDS });
            }
            let (name, value) = (name.as_ref(), value.as_ref());
            let duplicate = || EventError::DuplicateField { field: quote(name) };
            match KNOWN.iter().position(|k| k.as_bytes() == name) {
                Some(k) => {
                    let slot = values.get_mut(k).ok_or_else(duplicate)?;
                    if slot.is_some() {
                        return Err(duplicate());
                    }
                    *slot = Some(value.to_vec());
                }
                None => {
                    if unknown.iter().any(|u| u.as_slice() == name) {
                        return Err(duplicate());
                    }
                    unknown.push(name.to_vec());
                }
            }
        }
        Ok(Fields { values })
    }

    /// The UTF-8 value of `field`.
    fn required(&self, field: &'static str) -> Result<&str, EventError> {
        let value = KNOWN
            .iter()
            .position(|k| *k == field)
            .and_then(|i| self.values.get(i))
            .and_then(Option::as_deref)
            .ok_or(EventError::MissingField { field })?;
        std::str::from_utf8(value).map_err(|_| EventError::NotText { field })
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn check_key_id(id: &[u8]) -> Result<(), EventError> {
    if id.is_empty() {
        return Err(EventError::Empty { field: ISSUER_KEY_ID });
    }
    if id.len() > MAX_KEY_ID_LEN {
        return Err(EventError::TooLong {
            field: ISSUER_KEY_ID,
            len: id.len(),
            max: MAX_KEY_ID_LEN,
        });
    }
    Ok(())
}

fn check_partition(p: &str) -> Result<(), EventError> {
    if p.len() > MAX_PARTITION_ID_BYTES {
        return Err(EventError::TooLong {
            field: PARTITION,
            len: p.len(),
            max: MAX_PARTITION_ID_BYTES,
        });
    }
    Ok(())
}

/// Hex digits of either case; with `joined`, several such numbers separated by `+`.
fn check_hex_list(field: &'static str, s: &str, max: usize, joined: bool) -> Result<(), EventError> {
    if s.len() > max {
        return Err(EventError::TooLong {
            field,
            len: s.len(),
            max,
        });
    }
    if s.bytes().all(|b| b.is_ascii_hexdigit() || (joined && b == b'+')) {
        Ok(())
    } else {
        Err(EventError::BadHex { field })
    }
}

fn key_id(s: &str) -> Result<Vec<u8>, EventError> {
    if s.len() > 2 * MAX_KEY_ID_LEN {
        return Err(EventError::TooLong {
            field: ISSUER_KEY_ID,
            len: s.len().div_ceil(2),
            max: MAX_KEY_ID_LEN,
        });
    }
    if !s.len().is_multiple_of(2) {
        return Err(EventError::BadHex { field: ISSUER_KEY_ID });
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(EventError::BadHex { field: ISSUER_KEY_ID })
}

fn nibble(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Hex digits only: none of the `0x` prefix, colons or spaces that [`Serial::from_hex`] also
/// accepts, so that a value has one spelling up to case and leading zeros.
fn serial(s: &str) -> Result<Serial, EventError> {
    if s.is_empty() {
        return Err(EventError::Empty { field: SERIAL });
    }
    // Leading zeros and one sign octet are allowed, as in a DER INTEGER's content.
    let max = 2 * (MAX_SERIAL_OCTETS + 1);
    if s.len() > max {
        return Err(EventError::TooLong {
            field: SERIAL,
            len: s.len(),
            max,
        });
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EventError::BadHex { field: SERIAL });
    }
    Serial::from_hex(s).map_err(|_| EventError::BadSerial {
        max: MAX_SERIAL_OCTETS,
    })
}

fn reason(s: &str) -> Result<Option<Reason>, EventError> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_REASON_LEN {
        return Err(EventError::TooLong {
            field: REASON,
            len: s.len(),
            max: MAX_REASON_LEN,
        });
    }
    Reason::from_rfc_name(s)
        .map(Some)
        .ok_or_else(|| EventError::BadReason {
            found: quote(s.as_bytes()),
        })
}

/// A decimal integer: an optional `-`, then digits only (no `+`, no spaces).
fn number<T: std::str::FromStr>(field: &'static str, s: &str) -> Result<T, EventError> {
    if s.len() > MAX_NUMBER_LEN {
        return Err(EventError::TooLong {
            field,
            len: s.len(),
            max: MAX_NUMBER_LEN,
        });
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EventError::BadNumber { field });
    }
    s.parse().map_err(|_| EventError::BadNumber { field })
}

#[cfg(test)]
mod tests;
