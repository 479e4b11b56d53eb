//! The CA hierarchies: production signing and user-authentication roots in three generations
//! (RSA 2019 and 2023, ECDSA P-384 2026), all generations of one hierarchy sharing the same DN, and
//! a test hierarchy (`O=JPKI-TEST`). Each CA key has a delegated OCSP responder certificate.
//!
//! JPKI has no intermediate CAs: roots issue card certificates directly.

use jpki::CertKind;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

use crate::drbg::Drbg;
use crate::error::{Result, SimError};
use crate::keys::{self, KeyAlgorithm, SigningKey};
use crate::person::Municipality;
use crate::profile::{self, CertSpec, attr, ext, key_usage};

/// The OU naming the agency, last in every JPKI CA DN.
pub const AGENCY_OU: &str = "Japan Agency for Local Authority Information Systems";

/// A CA the simulator runs, as compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaSpec {
    /// CLI identifier, e.g. `sign-2023`.
    pub id: &'static str,
    /// Serial-number space shared by the generations of one hierarchy: `sign`, `auth`,
    /// `test-sign`, `test-auth`.
    pub hierarchy: &'static str,
    /// Which certificates it issues.
    pub kind: CertKind,
    /// The `O=JPKI-TEST` hierarchy.
    pub test: bool,
    /// Generation label (`2019`, `2023`, `2026`, or `test`).
    pub generation: &'static str,
    /// Key algorithm.
    pub algorithm: KeyAlgorithm,
    /// Year of the root's notBefore (April 1st, JST).
    pub year: i32,
    /// The root certificate's serial number.
    pub root_serial: u64,
}

#[allow(clippy::too_many_arguments)] // a table row, read positionally in CA_SPECS
const fn spec(
    id: &'static str,
    hierarchy: &'static str,
    kind: CertKind,
    test: bool,
    generation: &'static str,
    algorithm: KeyAlgorithm,
    year: i32,
    root_serial: u64,
) -> CaSpec {
    CaSpec {
        id,
        hierarchy,
        kind,
        test,
        generation,
        algorithm,
        year,
        root_serial,
    }
}

/// Every CA, in the order `init` creates them.
pub const CA_SPECS: [CaSpec; 8] = [
    spec(
        "sign-2019",
        "sign",
        CertKind::Signing,
        false,
        "2019",
        KeyAlgorithm::Rsa2048,
        2019,
        0x2019,
    ),
    spec(
        "sign-2023",
        "sign",
        CertKind::Signing,
        false,
        "2023",
        KeyAlgorithm::Rsa2048,
        2023,
        0x2023,
    ),
    spec(
        "sign-2026",
        "sign",
        CertKind::Signing,
        false,
        "2026",
        KeyAlgorithm::EcdsaP384,
        2026,
        0x2026,
    ),
    spec(
        "auth-2019",
        "auth",
        CertKind::UserAuthentication,
        false,
        "2019",
        KeyAlgorithm::Rsa2048,
        2019,
        0x2019,
    ),
    spec(
        "auth-2023",
        "auth",
        CertKind::UserAuthentication,
        false,
        "2023",
        KeyAlgorithm::Rsa2048,
        2023,
        0x2023,
    ),
    spec(
        "auth-2026",
        "auth",
        CertKind::UserAuthentication,
        false,
        "2026",
        KeyAlgorithm::EcdsaP384,
        2026,
        0x2026,
    ),
    spec(
        "test-sign",
        "test-sign",
        CertKind::Signing,
        true,
        "test",
        KeyAlgorithm::Rsa2048,
        2023,
        0x7E57_2023,
    ),
    spec(
        "test-auth",
        "test-auth",
        CertKind::UserAuthentication,
        true,
        "test",
        KeyAlgorithm::Rsa2048,
        2023,
        0x7E57_2023,
    ),
];

/// Looks a CA up by CLI id.
pub fn ca_spec(id: &str) -> Option<&'static CaSpec> {
    CA_SPECS.iter().find(|c| c.id == id)
}

/// First end-entity serial of a hierarchy. The hierarchies use disjoint ranges so that a serial
/// alone names a certificate in the simulator; real JPKI serials are about 4 octets.
pub fn serial_start(hierarchy: &str) -> u64 {
    match hierarchy {
        "sign" => 0x0100_0001,
        "auth" => 0x1100_0001,
        "test-sign" => 0x2100_0001,
        _ => 0x3100_0001,
    }
}

impl CaSpec {
    /// `O=` of the DN.
    pub fn organization(&self) -> &'static str {
        if self.test { "JPKI-TEST" } else { "JPKI" }
    }

    /// The hierarchy's `OU=`.
    pub fn unit(&self) -> &'static str {
        match self.kind {
            CertKind::Signing => "JPKI for digital signature",
            CertKind::UserAuthentication => "JPKI for user authentication",
        }
    }

    /// The CA's DN (the same for every generation of a hierarchy).
    pub fn name_der(&self) -> Result<Vec<u8>> {
        profile::name_der(&[
            (attr::C, "JP"),
            (attr::O, self.organization()),
            (attr::OU, self.unit()),
            (attr::OU, AGENCY_OU),
        ])
    }

    /// The DirName of a municipality's CRL partition under this CA key *(assumed format)*:
    /// `C=JP, O=JPKI, OU=<unit>, OU=CRL Distribution Points, OU=<ca-id>, OU=<prefecture>,
    /// CN=<code> CRLDP`. The CA id keeps the partitions of different generations apart.
    pub fn crl_dp_name_der(&self, m: &Municipality) -> Result<Vec<u8>> {
        profile::name_der(&[
            (attr::C, "JP"),
            (attr::O, self.organization()),
            (attr::OU, self.unit()),
            (attr::OU, "CRL Distribution Points"),
            (attr::OU, self.id),
            (attr::OU, m.prefecture_romaji),
            (attr::CN, &format!("{} CRLDP", m.code)),
        ])
    }

    /// The root's validity: April 1st of `year`, 00:00 JST, for ten years.
    pub fn root_validity(&self) -> Result<(OffsetDateTime, OffsetDateTime)> {
        let start = jst_midnight(self.year, Month::April, 1)?;
        Ok((start, add_years(start, 10)))
    }
}

/// 00:00 JST on a date, as UTC.
pub(crate) fn jst_midnight(year: i32, month: Month, day: u8) -> Result<OffsetDateTime> {
    let d = Date::from_calendar_date(year, month, day).map_err(|e| SimError::arg("date", e.to_string()))?;
    Ok(d.with_time(Time::MIDNIGHT).assume_utc() - time::Duration::hours(9))
}

/// The same instant `years` later; February 29th becomes February 28th.
pub(crate) fn add_years(t: OffsetDateTime, years: i32) -> OffsetDateTime {
    let y = t.year() + years;
    t.replace_year(y)
        .or_else(|_| t.replace_day(28).and_then(|t| t.replace_year(y)))
        .unwrap_or(t)
}

/// A CA as recorded in the state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaRecord {
    /// CLI identifier.
    pub id: String,
    /// Serial space (`sign`, `auth`, `test-sign`, `test-auth`).
    pub hierarchy: String,
    /// Which certificates it issues.
    pub kind: jpki::CertKind,
    /// Test hierarchy.
    pub test: bool,
    /// Generation label.
    pub generation: String,
    /// Key algorithm.
    pub algorithm: KeyAlgorithm,
    /// Root certificate PEM, relative to the state directory.
    pub cert_path: String,
    /// Root private key PEM (a test key), relative.
    pub key_path: String,
    /// OCSP responder certificate PEM, relative.
    pub responder_cert_path: String,
    /// OCSP responder private key PEM, relative.
    pub responder_key_path: String,
    /// Subject key identifier = SHA-1 of the public key bits = OCSP issuerKeyHash, hex.
    pub key_id: String,
    /// SHA-1 of the DER subject name = OCSP issuerNameHash, hex.
    pub name_hash: String,
    /// SHA-256 fingerprint of the root certificate, hex.
    pub fingerprint_sha256: String,
}

/// Files and the record of one CA made by `init`.
pub(crate) struct CreatedCa {
    pub record: CaRecord,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Creates a root and its OCSP responder, deterministically from the seed. The responder is
/// valid for a year from `now`.
pub(crate) fn create_ca(seed: &str, spec: &CaSpec, now: OffsetDateTime) -> Result<CreatedCa> {
    let key = SigningKey::new(keys::generate(
        spec.algorithm,
        &mut Drbg::new(seed, &format!("ca/{}", spec.id))?,
    )?)?;
    let name = spec.name_der()?;
    let key_id = key.key_id()?;
    let (nb, na) = spec.root_validity()?;
    let root = profile::build_certificate(
        &CertSpec {
            serial: spec.root_serial.to_be_bytes().to_vec(),
            issuer: name.clone(),
            subject: name.clone(),
            not_before: nb,
            not_after: na,
            spki: key.spki_der()?,
            extensions: vec![
                ext::ca_basic_constraints(),
                ext::key_usage(key_usage::CA),
                ext::ski(&key_id),
                ext::aki(&key_id),
            ],
        },
        &key,
    )?;

    let resp_key = SigningKey::new(keys::generate(
        spec.algorithm,
        &mut Drbg::new(seed, &format!("responder/{}", spec.id))?,
    )?)?;
    let resp_id = resp_key.key_id()?;
    let index = CA_SPECS.iter().position(|c| c.id == spec.id).unwrap_or(0) as u64;
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let responder = profile::build_certificate(
        &CertSpec {
            serial: (0x00FF_0000 + index).to_be_bytes().to_vec(),
            issuer: name.clone(),
            subject: profile::name_der(&[
                (attr::C, "JP"),
                (attr::O, spec.organization()),
                (attr::OU, spec.unit()),
                (attr::CN, &format!("OCSP Responder {}", spec.id)),
            ])?,
            not_before: now,
            not_after: now + time::Duration::days(365),
            spki: resp_key.spki_der()?,
            extensions: vec![
                ext::key_usage(key_usage::DIGITAL_SIGNATURE),
                ext::eku_ocsp_signing()?,
                ext::ocsp_nocheck(),
                ext::ski(&resp_id),
                ext::aki(&key_id),
            ],
        },
        &key,
    )?;

    let base = format!("ca/{}", spec.id);
    let record = CaRecord {
        id: spec.id.to_owned(),
        hierarchy: spec.hierarchy.to_owned(),
        kind: spec.kind,
        test: spec.test,
        generation: spec.generation.to_owned(),
        algorithm: spec.algorithm,
        cert_path: format!("{base}/root.pem"),
        key_path: format!("{base}/root.key.pem"),
        responder_cert_path: format!("{base}/ocsp.pem"),
        responder_key_path: format!("{base}/ocsp.key.pem"),
        key_id: hex::encode(&key_id),
        name_hash: hex::encode(openssl::sha::sha1(&name)),
        fingerprint_sha256: hex::encode(openssl::sha::sha256(&root)),
    };
    let files = vec![
        (record.cert_path.clone(), profile::pem("CERTIFICATE", &root)),
        (format!("{base}/root.der"), root),
        (record.key_path.clone(), key.to_pem()?),
        (
            record.responder_cert_path.clone(),
            profile::pem("CERTIFICATE", &responder),
        ),
        (record.responder_key_path.clone(), resp_key.to_pem()?),
    ];
    Ok(CreatedCa { record, files })
}
