//! `jlis-sim`: a faithful stand-in for J-LIS (地方公共団体情報システム機構) for development and tests.
//!
//! It runs the JPKI certificate hierarchies, issues card and smartphone certificate pairs with the
//! real profile, signs as a card does, revokes, moves holders (revocation with
//! `affiliationChanged` plus a new signing certificate), publishes partitioned CRLs, and streams
//! synthetic CRLs of tens of millions of entries. Every key, certificate and CRL byte is
//! reproducible from the seed (HMAC-DRBG, deterministic RSA key generation, RFC 6979 ECDSA).
//!
//! **All keys written by the simulator are test keys**, derived from a public seed. It is not a CA
//! for anything real, and the test hierarchy (`O=JPKI-TEST`) it also runs must never be trusted in
//! production configuration.
//!
//! # Command line
//! ```text
//! jlis-sim init   --dir D [--seed TEXT] [--force] [--at RFC3339]
//! jlis-sim issue  --dir D [--generation 2019|2023|2026] [--smartphone] [--test]
//!                 [--name ..] [--address ..] [--dob 319801231] [--sex 1|2|3]
//!                 [--municipality CODE] [--at RFC3339]
//! jlis-sim sign   --dir D --holder ID [--key sign|auth] (--data FILE | --digest HEX)
//!                 [--hash sha1|sha256|sha384|sha512] [--pss] [--cms attached|detached] --out FILE
//! jlis-sim revoke --dir D --serial HEX --reason NAME [--ca ID] [--at RFC3339]
//! jlis-sim move   --dir D --holder ID --address NEW [--municipality CODE] [--at RFC3339]
//! jlis-sim crl    --dir D [--at RFC3339] [--next-update-hours 48]
//! jlis-sim crl    --dir D --entries N --out FILE [--ca sign-2023] [--crl-number K]
//!                 [--at RFC3339] [--seed S] [--wide-fraction F]
//! jlis-sim serve  --dir D [--listen 127.0.0.1:0] [--port-file FILE] [--pf-token-file FILE]
//! ```
//! Each prints one JSON document. Bad arguments exit non-zero with a message and change nothing.
//!
//! CA ids: `sign-2019`, `sign-2023`, `sign-2026` (ECDSA P-384), `auth-2019`, `auth-2023`,
//! `auth-2026`, `test-sign`, `test-auth`. New holders get generation 2023 unless
//! `--generation` or `--test` says otherwise.
//!
//! # Directory layout
//! ```text
//! D/state.json                      the state (holders, certificates, CRL numbers, consents)
//! D/.lock                           advisory lock taken by every mutation
//! D/ca/<ca-id>/root.pem, root.der   root certificate
//! D/ca/<ca-id>/root.key.pem         root key (test key, PKCS#8)
//! D/ca/<ca-id>/ocsp.pem, ocsp.key.pem   delegated OCSP responder certificate and key
//! D/holders/<holder>/sign-<serial>.pem, sign-<serial>.key.pem
//! D/holders/<holder>/auth-<serial>.pem, auth-<serial>.key.pem
//! D/crl/<ca-id>/<municipality>.crl  the current DER CRL of each partition
//! ```
//! Certificates name their partition in cRLDistributionPoints as a DirName *(assumed format)*:
//! `C=JP, O=JPKI, OU=<hierarchy unit>, OU=CRL Distribution Points, OU=<ca-id>, OU=<prefecture>,
//! CN=<municipality code> CRLDP`.
//!
//! # Library
//! [`Simulator`] is what a server uses: [`Simulator::open`], read-only queries
//! ([`Simulator::certificate`] by CA id or issuer key hash, [`Simulator::holder`],
//! [`Simulator::partitions`], [`Simulator::crl_of`], [`Simulator::latest_signing_cert`],
//! [`Simulator::responder`], and for OCSP `CertID` matching [`Simulator::ca_by_cert_id`],
//! [`Simulator::ca_by_key_hash`], [`Simulator::cas_by_name_hash`]) and
//! mutations ([`Simulator::revoke`], [`Simulator::move_holder`], [`Simulator::add_consent`],
//! [`Simulator::withdraw_consent`], [`Simulator::publish_crls`]), each persisted atomically under a
//! directory lock.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod asn1;
pub mod ca;
pub mod cli;
mod consent;
pub mod crl;
pub mod crl_stream;
pub mod drbg;
mod ecdsa;
pub mod error;
mod init;
pub mod issue;
pub mod keys;
pub mod person;
mod profile;
pub mod serve;
pub mod sign;
pub mod store;

pub use ca::CaRecord;
pub use crl::PublishedCrl;
pub use crl_stream::{SyntheticCrlRequest, SyntheticCrlSummary};
pub use error::{Result, SimError};
pub use init::{DEFAULT_SEED, InitSummary};
pub use issue::{IssueRequest, Issued, IssuedCert, Moved};
pub use person::{Person, PersonInput};
pub use sign::{CmsMode, HashAlg, SignInput, SignRequest};
pub use store::{
    CertRecord, CertStatus, Consent, CrlRecord, Holder, IssuerRef, PartitionInfo, Simulator, State,
};
