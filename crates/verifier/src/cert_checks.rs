//! Parsing an end-entity certificate once, and the JPKI profile checks on it: validity at an
//! instant, critical certificatePolicies with the right OID for the use, critical keyUsage with
//! the right bits, no unknown critical extension, not a CA.

use const_oid::ObjectIdentifier;
use der::Decode;
use jpki::algorithm::{self, Accepted, AlgorithmError};
use jpki::{CertKind, PolicyClass, Serial, classify_policy};
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, KeyUsage, SubjectKeyIdentifier,
};

use crate::error::Failure;
use crate::report::{CertificateFacts, ReasonCode, rfc3339};

const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXT_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
const EXT_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const EXT_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const EXT_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const EXT_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
pub(crate) const EXT_CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const EXT_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");

/// Extensions this verifier processes; any other one marked critical is rejected.
const PROCESSED: [ObjectIdentifier; 8] = [
    EXT_KEY_USAGE,
    EXT_POLICIES,
    EXT_AKI,
    EXT_SKI,
    EXT_SAN,
    EXT_BASIC_CONSTRAINTS,
    EXT_CRL_DP,
    EXT_AIA,
];

/// A certificate parsed once: the x509-cert structure facts and the OpenSSL key.
#[derive(Debug)]
pub(crate) struct ParsedCert {
    pub fingerprint: [u8; 32],
    pub x509: X509,
    pub issuer_der: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub issuer: String,
    pub subject: String,
    pub serial: Serial,
    pub not_before: i64,
    pub not_after: i64,
    /// The certificate's signatureAlgorithm as the policy table judges it.
    pub signature_alg: Result<Accepted, AlgorithmError>,
    pub aki: Option<Vec<u8>>,
    pub ski: Option<Vec<u8>>,
    /// (critical, policy OIDs)
    pub policies: Option<(bool, Vec<ObjectIdentifier>)>,
    /// (critical, value)
    pub key_usage: Option<(bool, KeyUsage)>,
    pub is_ca: bool,
    pub unknown_critical: Vec<ObjectIdentifier>,
    /// The cRLDistributionPoints names ([`crate::crl_points`]); empty when absent or unparsable.
    pub crl_points: Vec<String>,
}

fn unix(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// The SHA-256 of `data`.
///
/// `openssl::sha::sha256` calls OpenSSL 3's one-shot `SHA256()`, which looks the algorithm up by
/// name (`EVP_Q_digest`, `EVP_MD_fetch`) on every call: under KYC load the lookup cost about as
/// much as hashing the certificate. The incremental `openssl::sha::Sha256` goes straight to the
/// same implementation.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(data);
    h.finish()
}

/// Empties this thread's OpenSSL error queue, which a failed check may leave behind (calls that
/// return `Ok(false)` do not drain it), so that one verification never leaks into the next.
pub(crate) fn clear_openssl_errors() {
    let _ = openssl::error::ErrorStack::get();
}

/// `X509::verify` with the error queue left empty.
pub(crate) fn x509_verify(cert: &X509, key: &PKey<Public>) -> bool {
    let ok = cert.verify(key).unwrap_or(false);
    if !ok {
        clear_openssl_errors();
    }
    ok
}

impl ParsedCert {
    /// Parses a DER certificate (size already checked).
    pub fn parse(der: &[u8]) -> Result<ParsedCert, Failure> {
        let cert = Certificate::from_der(der)
            .map_err(|e| Failure::malformed(format!("certificate does not parse: {e}")))?;
        let x509 = X509::from_der(der).map_err(|_| {
            clear_openssl_errors();
            Failure::malformed("certificate does not parse (OpenSSL)")
        })?;
        let tbs = cert.tbs_certificate();
        let enc = |n: &x509_cert::name::Name| der::Encode::to_der(n).unwrap_or_default();
        let serial = Serial::from_der_content(tbs.serial_number().as_bytes())
            .map_err(|e| Failure::malformed(format!("certificate serial: {e}")))?;
        let mut parsed = ParsedCert {
            fingerprint: sha256(der),
            x509,
            issuer_der: enc(tbs.issuer()),
            subject_der: enc(tbs.subject()),
            issuer: tbs.issuer().to_string(),
            subject: tbs.subject().to_string(),
            serial,
            not_before: unix(tbs.validity().not_before),
            not_after: unix(tbs.validity().not_after),
            signature_alg: algorithm::classify_identifier(&cert.signature_algorithm().into()),
            aki: None,
            ski: None,
            policies: None,
            key_usage: None,
            is_ca: false,
            unknown_critical: Vec::new(),
            crl_points: crate::crl_points::from_certificate(&cert),
        };
        for ext in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
            let value = ext.extn_value.as_bytes();
            let bad = |what: &str| Failure::malformed(format!("certificate {what} does not parse"));
            match ext.extn_id {
                EXT_AKI => {
                    let aki =
                        AuthorityKeyIdentifier::from_der(value).map_err(|_| bad("authorityKeyIdentifier"))?;
                    parsed.aki = aki.key_identifier.map(|k| k.as_bytes().to_vec());
                }
                EXT_SKI => {
                    let ski =
                        SubjectKeyIdentifier::from_der(value).map_err(|_| bad("subjectKeyIdentifier"))?;
                    parsed.ski = Some(ski.0.as_bytes().to_vec());
                }
                EXT_POLICIES => {
                    let cp = CertificatePolicies::from_der(value).map_err(|_| bad("certificatePolicies"))?;
                    let oids = cp.0.iter().map(|p| p.policy_identifier).collect();
                    parsed.policies = Some((ext.critical, oids));
                }
                EXT_KEY_USAGE => {
                    let ku = KeyUsage::from_der(value).map_err(|_| bad("keyUsage"))?;
                    parsed.key_usage = Some((ext.critical, ku));
                }
                EXT_BASIC_CONSTRAINTS => {
                    let bc = BasicConstraints::from_der(value).map_err(|_| bad("basicConstraints"))?;
                    parsed.is_ca = bc.ca;
                }
                other => {
                    if ext.critical && !PROCESSED.contains(&other) {
                        parsed.unknown_critical.push(other);
                    }
                }
            }
        }
        Ok(parsed)
    }

    /// The JPKI policy class, if the certificate carries exactly one JPKI policy.
    pub fn policy_class(&self) -> Option<PolicyClass> {
        let (_, oids) = self.policies.as_ref()?;
        let mut classes = oids.iter().filter_map(classify_policy);
        let first = classes.next()?;
        if classes.next().is_some() {
            return None;
        }
        Some(first)
    }

    pub fn public_key(&self) -> Result<PKey<Public>, Failure> {
        self.x509.public_key().map_err(|_| {
            clear_openssl_errors();
            Failure::malformed("certificate public key does not parse")
        })
    }

    pub fn facts(&self, root_fingerprint: Option<&[u8; 32]>) -> CertificateFacts {
        let class = self.policy_class();
        CertificateFacts {
            serial: self.serial.to_hex(),
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            not_before: rfc3339(self.not_before),
            not_after: rfc3339(self.not_after),
            kind: class.map(|c| c.kind),
            carrier: class.map(|c| c.carrier),
            hierarchy: class.map(|c| c.hierarchy),
            fingerprint: hex::encode(self.fingerprint),
            root_fingerprint: root_fingerprint.map(hex::encode),
        }
    }
}

/// The profile checks that do not depend on the issuer: extensions, policy for the use, keyUsage.
pub(crate) fn check_profile(cert: &ParsedCert, wanted: Option<CertKind>) -> Result<PolicyClass, Failure> {
    if let Some(oid) = cert.unknown_critical.first() {
        return Err(Failure::new(
            ReasonCode::ChainConstraintsFailure,
            format!("unknown critical extension {oid}"),
        ));
    }
    if cert.is_ca {
        return Err(Failure::new(
            ReasonCode::ChainConstraintsFailure,
            "the end-entity certificate is a CA certificate",
        ));
    }
    let policy = |m: &str| Failure::new(ReasonCode::PolicyMismatch, m.to_owned());
    let Some((critical, _)) = &cert.policies else {
        return Err(policy("no certificatePolicies extension"));
    };
    if !critical {
        return Err(policy("certificatePolicies is not critical"));
    }
    let class = cert
        .policy_class()
        .ok_or_else(|| policy("no single JPKI end-entity policy in certificatePolicies"))?;
    if let Some(kind) = wanted
        && kind != class.kind
    {
        return Err(policy(&format!(
            "a {} certificate was presented where a {} certificate is required",
            class.kind.short_name(),
            kind.short_name()
        )));
    }
    let ku = |m: &str| Failure::new(ReasonCode::KeyUsage, m.to_owned());
    let Some((critical, usage)) = &cert.key_usage else {
        return Err(ku("no keyUsage extension"));
    };
    if !critical {
        return Err(ku("keyUsage is not critical"));
    }
    let ok = match class.kind {
        CertKind::Signing => usage.digital_signature() && usage.non_repudiation(),
        CertKind::UserAuthentication => usage.digital_signature(),
    };
    if !ok || usage.key_cert_sign() || usage.crl_sign() {
        return Err(ku(&format!(
            "keyUsage does not fit a {} certificate",
            class.kind.short_name()
        )));
    }
    Ok(class)
}

/// Validity at `at`: NOT_YET_VALID or EXPIRED, naming `what`.
pub(crate) fn check_validity(what: &str, not_before: i64, not_after: i64, at: i64) -> Result<(), Failure> {
    if at < not_before {
        return Err(Failure::new(
            ReasonCode::NotYetValid,
            format!("{what} is not valid before {}", rfc3339(not_before)),
        ));
    }
    if at > not_after {
        return Err(Failure::new(
            ReasonCode::Expired,
            format!("{what} expired at {}", rfc3339(not_after)),
        ));
    }
    Ok(())
}

/// Certificate signature algorithms: accepted by the policy table ([`jpki::algorithm`]), or
/// refused with its reason.
pub(crate) fn check_cert_signature_alg(alg: &Result<Accepted, AlgorithmError>) -> Result<(), Failure> {
    match alg {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::refused_algorithm("certificate signatureAlgorithm", e)),
    }
}

#[cfg(test)]
mod sha256_tests {
    #[test]
    fn agrees_with_the_one_shot_function_and_the_known_vectors() {
        assert_eq!(
            hex::encode(super::sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for n in [0usize, 1, 55, 56, 63, 64, 65, 1000, 4096] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(super::sha256(&data), openssl::sha::sha256(&data), "{n} bytes");
        }
    }
}
