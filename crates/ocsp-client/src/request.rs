//! The request builder: a CertID for one certificate under its CA, a fresh random nonce, the DER
//! to POST.

use der::Decode;
use der::asn1::{Any, ObjectIdentifier};
use jpki::Serial;
use jpki::ocsp::{CertId, MAX_NONCE_LEN, OcspRequest};
use x509_cert::Certificate;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::error::OcspClientError;
use crate::issuer::IssuingCa;

/// `id-sha1` (RFC 3279 §2.2).
pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// `id-sha256` (RFC 5754 §2.2).
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// Shortest nonce we send: 16 octets, as OpenSSL sends (RFC 8954 §2.1 recommends at least 16).
pub const MIN_NONCE_LEN: usize = 16;
/// The default nonce length.
pub const DEFAULT_NONCE_LEN: usize = 16;

/// The hash of the CertID's issuer hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CertIdHash {
    /// SHA-1: what J-LIS's responder (and OpenSSL, Java and .NET by default) use. SHA-1 here is an
    /// identifier, not a signature; its collision weakness does not let anyone forge an answer.
    #[default]
    Sha1,
    /// SHA-256.
    Sha256,
}

impl CertIdHash {
    /// The hash algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            CertIdHash::Sha1 => OID_SHA1,
            CertIdHash::Sha256 => OID_SHA256,
        }
    }
}

/// One OCSP question: the CertID of one certificate, the nonce sent with it (if any), and the DER
/// request. Keep it to verify the answer ([`crate::verify_response`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspQuery {
    cert_id: CertId,
    serial: Serial,
    nonce: Option<Vec<u8>>,
    der: Vec<u8>,
}

impl OcspQuery {
    /// The question for `cert_der` (a DER certificate) issued by `issuer`, with a fresh random
    /// nonce of `nonce_len` octets (clamped to 16..=32) or none.
    ///
    /// Refuses a certificate whose issuer name is not the CA's subject, or whose
    /// authorityKeyIdentifier is not the CA's subjectKeyIdentifier (when both are present): the
    /// CertID would name a CA that did not issue it.
    pub fn new(
        cert_der: &[u8],
        issuer: &IssuingCa,
        hash: CertIdHash,
        nonce_len: Option<usize>,
    ) -> Result<OcspQuery, OcspClientError> {
        let serial = certificate_serial(cert_der, issuer)?;
        let nonce = nonce_len.map(fresh_nonce).transpose()?;
        OcspQuery::for_serial(serial, issuer, hash, nonce)
    }

    /// The question for a serial under `issuer`, with the given nonce (or none): for callers that
    /// know the serial but hold no certificate (an OCSP relay answering a CertID).
    pub fn for_serial(
        serial: Serial,
        issuer: &IssuingCa,
        hash: CertIdHash,
        nonce: Option<Vec<u8>>,
    ) -> Result<OcspQuery, OcspClientError> {
        let (name_hash, key_hash) = issuer.cert_id_hashes(hash == CertIdHash::Sha256);
        // Parameters NULL, as OpenSSL sends them (RFC 3279 §2.2 allows NULL or absent).
        let algorithm = AlgorithmIdentifierOwned {
            oid: hash.oid(),
            parameters: Some(Any::from(der::asn1::Null)),
        };
        let encoding = |e: jpki::ocsp::OcspError| OcspClientError::Internal {
            context: "encoding the OCSP request",
            detail: e.to_string(),
        };
        let cert_id = CertId::new(algorithm, name_hash, key_hash, serial).map_err(encoding)?;
        if let Some(n) = &nonce
            && (n.is_empty() || n.len() > MAX_NONCE_LEN)
        {
            return Err(OcspClientError::Internal {
                context: "building the OCSP request",
                detail: format!("a nonce of {} octets (1 to {MAX_NONCE_LEN} allowed)", n.len()),
            });
        }
        let der = OcspRequest::build(vec![cert_id.clone()], nonce.as_deref())
            .and_then(|r| r.to_der())
            .map_err(encoding)?;
        Ok(OcspQuery {
            cert_id,
            serial,
            nonce,
            der,
        })
    }

    /// The CertID asked about.
    pub fn cert_id(&self) -> &CertId {
        &self.cert_id
    }

    /// The certificate's serial.
    pub fn serial(&self) -> Serial {
        self.serial
    }

    /// The nonce sent, if any.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// The DER `OCSPRequest` to send.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// `len` random octets from OpenSSL's CSPRNG, `len` clamped to 16..=32.
pub fn fresh_nonce(len: usize) -> Result<Vec<u8>, OcspClientError> {
    let mut nonce = vec![0u8; len.clamp(MIN_NONCE_LEN, MAX_NONCE_LEN)];
    openssl::rand::rand_bytes(&mut nonce).map_err(OcspClientError::internal("drawing a nonce"))?;
    Ok(nonce)
}

/// The certificate's serial, after checking it names `issuer` as its issuer.
pub(crate) fn certificate_serial(cert_der: &[u8], issuer: &IssuingCa) -> Result<Serial, OcspClientError> {
    let cert = parse_certificate(cert_der)?;
    let tbs = cert.tbs_certificate();
    let issuer_der = der::Encode::to_der(tbs.issuer()).map_err(|e| OcspClientError::BadCertificate {
        what: "certificate",
        detail: format!("issuer does not encode: {e}"),
    })?;
    if issuer_der != issuer.subject_der() {
        return Err(OcspClientError::IssuerMismatch {
            detail: format!("the certificate's issuer is {}", tbs.issuer()),
        });
    }
    let aki = tbs
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == OID_AKI)
        .and_then(|e| AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
        .and_then(|a| a.key_identifier);
    if let (Some(aki), Some(ski)) = (aki, issuer.certificate().subject_key_id())
        && aki.as_bytes() != ski.as_slice()
    {
        return Err(OcspClientError::IssuerMismatch {
            detail: "authorityKeyIdentifier is not the CA's subjectKeyIdentifier".into(),
        });
    }
    Serial::from_der_content(tbs.serial_number().as_bytes()).map_err(|e| OcspClientError::BadCertificate {
        what: "certificate",
        detail: format!("serial: {e}"),
    })
}

pub(crate) fn parse_certificate(der: &[u8]) -> Result<Certificate, OcspClientError> {
    Certificate::from_der(der).map_err(|e| OcspClientError::BadCertificate {
        what: "certificate",
        detail: format!("does not parse: {e}"),
    })
}
