//! Errors of the `jpki` parsers. Each variant has a stable machine code ([`BasicInfoError::code`]).

use thiserror::Error;

/// Why a serial number was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SerialError {
    /// No octets or no hex digits.
    #[error("serial number is empty")]
    Empty,
    /// More than 20 octets of magnitude (RFC 5280 §4.1.2.2).
    #[error("serial number has {octets} octets; at most 20 are allowed")]
    TooLong {
        /// Octets of magnitude found.
        octets: usize,
    },
    /// A negative INTEGER.
    #[error("serial number is negative")]
    Negative,
    /// A DER INTEGER with a superfluous leading zero octet.
    #[error("serial number is not minimally encoded")]
    NonMinimal,
    /// A character that is not a hex digit or `:`.
    #[error("serial number has a non-hex character at position {position}")]
    NotHex {
        /// Index among the hex digits.
        position: usize,
    },
}

/// Why the basic 4 information (基本4情報) could not be read from a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BasicInfoError {
    /// The certificate or the subjectAltName extension is not valid DER.
    #[error("malformed DER in {context}: {detail}")]
    MalformedDer {
        /// What was being decoded (`certificate`, `subjectAltName`, an item's OID).
        context: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The certificate has no subjectAltName extension.
    #[error("the certificate has no subjectAltName extension")]
    NoSubjectAltName,
    /// The certificate has more than one subjectAltName extension.
    #[error("the certificate has more than one subjectAltName extension")]
    DuplicateSubjectAltName,
    /// A required item is absent.
    #[error("basic 4 information item {item} is missing")]
    MissingItem {
        /// The item (`name`, `sex`, `date_of_birth`, `address`).
        item: &'static str,
    },
    /// An item appears more than once.
    #[error("basic 4 information item {item} appears more than once")]
    DuplicateItem {
        /// The item.
        item: &'static str,
    },
    /// An item's value is not `[0] EXPLICIT UTF8String`.
    #[error("basic 4 information item {item} is not a UTF8String (found tag {found})")]
    WrongStringType {
        /// The item.
        item: &'static str,
        /// The tag found, as text (e.g. `PrintableString`, `[1]`).
        found: String,
    },
    /// An item's value is longer than the profile allows.
    #[error("basic 4 information item {item} has {chars} characters; at most {max} are allowed")]
    TooLong {
        /// The item.
        item: &'static str,
        /// Characters found.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// An item is empty where text is required.
    #[error("basic 4 information item {item} is empty")]
    Empty {
        /// The item.
        item: &'static str,
    },
    /// The sex code is not `1`, `2` or `3`.
    #[error("sex code {found:?} is not 1, 2 or 3")]
    BadSex {
        /// The text found (a single code, never personal data beyond that).
        found: String,
    },
    /// The era digit of the date of birth is not 0–5.
    #[error("date of birth has era digit {found:?}; expected 0-5")]
    BadEra {
        /// The character found.
        found: char,
    },
    /// The date of birth is not 9 digits or not a real Gregorian date.
    #[error("date of birth is not an era digit followed by a valid YYYYMMDD date")]
    BadDate,
    /// A substitute-character map has a character other than `0` or `1`.
    #[error("substitute map of {item} has a character other than 0/1 at position {position}")]
    BadSubstituteMap {
        /// The item the map belongs to (`name` or `address`).
        item: &'static str,
        /// Character index.
        position: usize,
    },
    /// A substitute-character map's length differs from its text's length in characters.
    #[error("substitute map of {item} has {map_len} positions but the text has {text_len} characters")]
    SubstituteMapLength {
        /// The item the map belongs to.
        item: &'static str,
        /// Positions in the map.
        map_len: usize,
        /// Characters in the text.
        text_len: usize,
    },
    /// The input is larger than the parser accepts.
    #[error("input of {len} bytes exceeds the limit of {max}")]
    InputTooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl BasicInfoError {
    /// A stable machine code for APIs and reports.
    pub fn code(&self) -> &'static str {
        match self {
            BasicInfoError::MalformedDer { .. } => "MALFORMED_DER",
            BasicInfoError::NoSubjectAltName => "NO_SUBJECT_ALT_NAME",
            BasicInfoError::DuplicateSubjectAltName => "DUPLICATE_SUBJECT_ALT_NAME",
            BasicInfoError::MissingItem { .. } => "MISSING_ITEM",
            BasicInfoError::DuplicateItem { .. } => "DUPLICATE_ITEM",
            BasicInfoError::WrongStringType { .. } => "WRONG_STRING_TYPE",
            BasicInfoError::TooLong { .. } => "TOO_LONG",
            BasicInfoError::Empty { .. } => "EMPTY_ITEM",
            BasicInfoError::BadSex { .. } => "BAD_SEX",
            BasicInfoError::BadEra { .. } => "BAD_ERA",
            BasicInfoError::BadDate => "BAD_DATE",
            BasicInfoError::BadSubstituteMap { .. } => "BAD_SUBSTITUTE_MAP",
            BasicInfoError::SubstituteMapLength { .. } => "SUBSTITUTE_MAP_LENGTH",
            BasicInfoError::InputTooLarge { .. } => "INPUT_TOO_LARGE",
        }
    }
}
