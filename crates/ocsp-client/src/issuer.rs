//! The CA certificate whose certificates are checked: its CertID hashes, its key, and the
//! responder URL configured for it.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::error::OcspClientError;

const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// A CA certificate (one key of one J-LIS hierarchy), prepared once: the hashes a CertID names it
/// by, its public key for verifying responses and responder certificates, and the responder URL
/// the operator configured for it (used when a certificate carries no authorityInfoAccess, as
/// signing certificates do not).
///
/// The caller chooses which CA certificates to trust (J-LIS's published roots, from the
/// configuration); nothing here checks the CA certificate itself.
#[derive(Clone, Debug)]
pub struct IssuingCa {
    cert: X509,
    key: PKey<Public>,
    subject_der: Vec<u8>,
    key_id: Vec<u8>,
    sha1_name: Vec<u8>,
    sha1_key: Vec<u8>,
    sha256_name: Vec<u8>,
    sha256_key: Vec<u8>,
    responder_url: Option<String>,
}

impl IssuingCa {
    /// Reads a DER CA certificate.
    pub fn from_der(der: &[u8]) -> Result<IssuingCa, OcspClientError> {
        let bad = |detail: String| OcspClientError::BadCertificate {
            what: "CA certificate",
            detail,
        };
        let parsed = Certificate::from_der(der).map_err(|e| bad(format!("does not parse: {e}")))?;
        let tbs = parsed.tbs_certificate();
        let subject_der = tbs
            .subject()
            .to_der()
            .map_err(|e| bad(format!("subject does not encode: {e}")))?;
        let public_key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        let digest = |md: MessageDigest, data: &[u8]| {
            hash(md, data)
                .map(|d| d.to_vec())
                .map_err(OcspClientError::internal("hashing the CA certificate"))
        };
        let sha1_key = digest(MessageDigest::sha1(), public_key)?;
        let ski = tbs
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or_default()
            .iter()
            .find(|e| e.extn_id == OID_SKI)
            .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
            .map(|s| s.0.as_bytes().to_vec());
        let cert = X509::from_der(der).map_err(|e| bad(format!("OpenSSL does not read it: {e}")))?;
        let key = cert
            .public_key()
            .map_err(|e| bad(format!("unusable public key: {e}")))?;
        Ok(IssuingCa {
            key_id: ski.unwrap_or_else(|| sha1_key.clone()),
            sha1_name: digest(MessageDigest::sha1(), &subject_der)?,
            sha256_name: digest(MessageDigest::sha256(), &subject_der)?,
            sha256_key: digest(MessageDigest::sha256(), public_key)?,
            sha1_key,
            subject_der,
            cert,
            key,
            responder_url: None,
        })
    }

    /// Reads a PEM CA certificate.
    pub fn from_pem(pem: &[u8]) -> Result<IssuingCa, OcspClientError> {
        let cert = X509::from_pem(pem).map_err(|e| OcspClientError::BadCertificate {
            what: "CA certificate",
            detail: format!("not PEM: {e}"),
        })?;
        let der = cert
            .to_der()
            .map_err(OcspClientError::internal("encoding the CA certificate"))?;
        IssuingCa::from_der(&der)
    }

    /// The same CA with the responder URL to use for certificates without an authorityInfoAccess
    /// OCSP location.
    pub fn with_responder_url(mut self, url: impl Into<String>) -> IssuingCa {
        self.responder_url = Some(url.into());
        self
    }

    /// The configured responder URL, if any.
    pub fn responder_url(&self) -> Option<&str> {
        self.responder_url.as_deref()
    }

    /// The CA key's identifier: its subjectKeyIdentifier, or the SHA-1 of its public key when it
    /// has none. The cache is keyed by it (with the serial).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The DER of the CA's subject name.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    pub(crate) fn public_key(&self) -> &PKey<Public> {
        &self.key
    }

    /// SHA-1 of the CA's subjectPublicKey (the ResponderID byKey of a CA signing itself).
    pub(crate) fn sha1_key_hash(&self) -> &[u8] {
        &self.sha1_key
    }

    /// (issuerNameHash, issuerKeyHash) under SHA-1 (`sha256 == false`) or SHA-256.
    pub(crate) fn cert_id_hashes(&self, sha256: bool) -> (&[u8], &[u8]) {
        if sha256 {
            (&self.sha256_name, &self.sha256_key)
        } else {
            (&self.sha1_name, &self.sha1_key)
        }
    }
}
