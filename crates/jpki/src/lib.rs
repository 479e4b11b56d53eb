//! JPKI (公的個人認証サービス) domain types, with no I/O.
//!
//! This crate owns the vocabulary every other crate speaks:
//! - [`CertKind`] and [`Carrier`]: signing (署名用) or user-authentication (利用者証明用) certificate,
//!   on a card or a smartphone, told apart by certificate policy ([`classify_policy`]);
//! - [`Serial`]: any RFC 5280 serial number up to 20 octets, stored inline as a `u64` when it fits;
//! - [`BasicInfo`]: the basic 4 information (基本4情報) with both substitute-character maps
//!   (代替文字使用位置), parsed from a signing certificate's subjectAltName;
//! - [`dp_name`]: CRL distribution point names as text, the key of a CRL partition;
//! - [`oid`]: the JPKI object identifiers;
//! - [`algorithm`]: the signature-algorithm policy (accepted, weak, unknown) that every verifier
//!   of certificates, CRLs and CMS consults;
//! - [`Reason`]: CRL revocation reasons with the meaning J-LIS gives them;
//! - [`ocsp`]: RFC 6960 OCSP request and response types, without cryptography;
//! - [`status`]: the revocation status of a certificate ([`CertStatus`]) with the freshness it
//!   rests on, which every server answers with.
//!
//! It is not a certificate verifier (see the `verifier` crate) and does no cryptography.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algorithm;
mod basic_info;
mod dob;
pub mod dp_name;
mod error;
mod kind;
pub mod ocsp;
pub mod oid;
mod reason;
mod serial;
pub mod status;

pub use basic_info::{
    ADDRESS_MAX_CHARS, BasicInfo, BasicInfoView, MAX_INPUT_LEN, NAME_MAX_CHARS, OtherBasicInfoItem,
    OtherItemView, Sex, SubstituteMap,
};
pub use dob::{DateOfBirth, Era};
pub use error::{BasicInfoError, SerialError};
pub use kind::{Carrier, CertKind, Hierarchy, PolicyClass, classify_policy};
pub use reason::Reason;
pub use serial::Serial;
pub use status::{Basis, CertStatus, CheckMethod, Freshness, UnknownReason};
