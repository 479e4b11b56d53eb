//! CRL publication: one v2 CRL per (CA key, municipality partition), RFC 5280 §5.
//!
//! ```text
//! TBSCertList ::= SEQUENCE { version v2, signature, issuer, thisUpdate, nextUpdate,
//!     revokedCertificates SEQUENCE OF SEQUENCE { userCertificate, revocationDate,
//!         crlEntryExtensions OPTIONAL } OPTIONAL,
//!     crlExtensions [0] EXPLICIT Extensions OPTIONAL }
//! ```
//! Entries carry a reasonCode unless the reason is unspecified; the CRL carries
//! authorityKeyIdentifier and cRLNumber. Every known partition gets a CRL, empty or not.

use serde::Serialize;
use time::OffsetDateTime;

use crate::asn1;
use crate::ca::ca_spec;
use crate::error::{Result, SimError};
use crate::keys::SigningKey;
use crate::person::MUNICIPALITIES;
use crate::profile::{self, ext};
use crate::store::{CertStatus, CrlRecord, Files, Simulator, load_key, partition_key};

/// DER of a reasonCode entry extension list: `Extensions { { id-ce-cRLReasons, OCTET STRING {
/// ENUMERATED } } }` (14 octets).
const fn reason_ext(code: u8) -> [u8; 14] {
    [
        0x30, 0x0C, 0x30, 0x0A, 0x06, 0x03, 0x55, 0x1D, 0x15, 0x04, 0x03, 0x0A, 0x01, code,
    ]
}

fn strip(magnitude: &[u8]) -> &[u8] {
    let start = magnitude.iter().position(|b| *b != 0).unwrap_or(magnitude.len());
    magnitude.get(start..).unwrap_or_default()
}

/// Content length of the INTEGER for a magnitude, without allocating.
fn int_content_len(mag: &[u8]) -> usize {
    match mag.first() {
        None => 1,
        Some(b) if b & 0x80 != 0 => mag.len() + 1,
        Some(_) => mag.len(),
    }
}

/// Encoded size of one revokedCertificates entry.
pub(crate) fn entry_len(serial_magnitude: &[u8], revoked_unix: i64, reason: Option<u8>) -> usize {
    let serial = asn1::tlv_len(int_content_len(strip(serial_magnitude)));
    let content = serial + asn1::time_len_unix(revoked_unix) + if reason.is_some() { 14 } else { 0 };
    asn1::tlv_len(content)
}

/// Appends one revokedCertificates entry (no allocation: this is the synthetic hot path).
pub(crate) fn push_entry(out: &mut Vec<u8>, serial_magnitude: &[u8], revoked_unix: i64, reason: Option<u8>) {
    let mag = strip(serial_magnitude);
    let int_len = int_content_len(mag);
    let content =
        asn1::tlv_len(int_len) + asn1::time_len_unix(revoked_unix) + if reason.is_some() { 14 } else { 0 };
    asn1::push_header(out, asn1::tag::SEQUENCE, content);
    asn1::push_header(out, asn1::tag::INTEGER, int_len);
    if int_len != mag.len() {
        out.push(0);
    }
    out.extend_from_slice(mag);
    asn1::push_time_unix(out, revoked_unix);
    if let Some(code) = reason {
        out.extend_from_slice(&reason_ext(code));
    }
}

/// The parts of a TBSCertList that surround the entries.
pub(crate) struct CrlFrame {
    /// version, signature, issuer, thisUpdate, nextUpdate.
    pub head: Vec<u8>,
    /// `[0] EXPLICIT Extensions` (AKI, cRLNumber, and issuingDistributionPoint for a partition).
    pub tail: Vec<u8>,
    /// The signatureAlgorithm AlgorithmIdentifier.
    pub alg: Vec<u8>,
}

pub(crate) fn frame(
    key: &SigningKey,
    issuer_name: &[u8],
    key_id: &[u8],
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    partition: Option<&[u8]>,
) -> Result<CrlFrame> {
    let alg = key.signature_algorithm_der()?;
    let mut head = asn1::uint_u64(1);
    head.extend_from_slice(&alg);
    head.extend_from_slice(issuer_name);
    head.extend_from_slice(&asn1::time(this_update));
    head.extend_from_slice(&asn1::time(next_update));
    let mut exts = vec![ext::aki(key_id), ext::crl_number(number)];
    exts.extend(partition.map(ext::issuing_dp_dirname));
    let tail = profile::extensions_der(0xA0, &exts)?;
    Ok(CrlFrame { head, tail, alg })
}

/// One published CRL, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct PublishedCrl {
    /// CA id.
    pub ca: String,
    /// Municipality code.
    pub municipality: String,
    /// Absolute path of the DER file.
    pub file: std::path::PathBuf,
    /// cRLNumber.
    pub crl_number: u64,
    /// Number of entries.
    pub entries: usize,
}

impl Simulator {
    /// Publishes a CRL for every (CA, municipality) partition at `at`, valid for
    /// `next_update_hours`. Expired certificates are left out.
    pub fn publish_crls(&self, at: OffsetDateTime, next_update_hours: u32) -> Result<Vec<PublishedCrl>> {
        if next_update_hours == 0 || next_update_hours > 24 * 366 {
            return Err(SimError::arg(
                "next-update-hours",
                format!("{next_update_hours}: must be 1..=8784"),
            ));
        }
        let this_update = at.replace_nanosecond(0).unwrap_or(at);
        let next_update = this_update + time::Duration::hours(i64::from(next_update_hours));
        self.mutate(|st| {
            let mut files: Files = Vec::new();
            let mut out = Vec::new();
            let cas = st.cas.clone();
            for ca in &cas {
                let spec = ca_spec(&ca.id).ok_or_else(|| SimError::NotFound {
                    what: "CA",
                    id: ca.id.clone(),
                })?;
                let key = SigningKey::new(load_key(&self.path(&ca.key_path))?)?;
                let key_id =
                    hex::decode(&ca.key_id).map_err(|e| SimError::arg("state key_id", e.to_string()))?;
                let name = spec.name_der()?;
                for m in MUNICIPALITIES {
                    let mut revoked: Vec<_> = st
                        .certificates
                        .values()
                        .filter(|c| {
                            c.ca == ca.id && c.municipality == m.code && c.status == CertStatus::Revoked
                        })
                        .filter(|c| c.revoked_at.is_some_and(|r| r <= at) && c.not_after >= this_update)
                        .map(|c| (c.serial, c.revoked_at.unwrap_or(at), c.reason))
                        .collect();
                    revoked.sort_by_key(|(s, _, _)| *s);
                    let number = st.crl_number(&ca.id, m.code) + 1;
                    let dp = spec.crl_dp_name_der(m)?;
                    let fr = frame(&key, &name, &key_id, number, this_update, next_update, Some(&dp))?;
                    let mut entries = Vec::new();
                    for (serial, when, reason) in &revoked {
                        let code = reason
                            .filter(|r| *r != jpki::Reason::Unspecified)
                            .map(|r| r.code());
                        push_entry(&mut entries, &serial.magnitude(), when.unix_timestamp(), code);
                    }
                    let list = if revoked.is_empty() {
                        Vec::new()
                    } else {
                        asn1::tlv(asn1::tag::SEQUENCE, &entries)
                    };
                    let tbs = asn1::seq(&[&fr.head, &list, &fr.tail]);
                    let sig = key.sign_message(&tbs)?;
                    let der = asn1::seq(&[&tbs, &fr.alg, &asn1::bit_string(&sig)]);
                    let path = format!("crl/{}/{}.crl", ca.id, m.code);
                    st.crls.insert(
                        partition_key(&ca.id, m.code),
                        CrlRecord {
                            ca: ca.id.clone(),
                            municipality: m.code.to_owned(),
                            path: path.clone(),
                            number,
                            this_update,
                            next_update,
                            entries: revoked.len(),
                            sha256: hex::encode(openssl::sha::sha256(&der)),
                        },
                    );
                    out.push(PublishedCrl {
                        ca: ca.id.clone(),
                        municipality: m.code.to_owned(),
                        file: self.path(&path),
                        crl_number: number,
                        entries: revoked.len(),
                    });
                    files.push((path, der));
                }
            }
            Ok((out, files))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_lengths_match() {
        for (mag, reason) in [
            (vec![1, 0, 0, 1], Some(3u8)),
            (vec![0x81, 2, 3, 4], None),
            (vec![7; 20], Some(1)),
        ] {
            let mut v = Vec::new();
            push_entry(&mut v, &mag, 1_700_000_000, reason);
            assert_eq!(v.len(), entry_len(&mag, 1_700_000_000, reason));
        }
        let mut v = Vec::new();
        push_entry(&mut v, &[1, 0, 0, 1], 1_700_000_000, Some(3));
        assert_eq!(v.len(), 37);
    }
}
