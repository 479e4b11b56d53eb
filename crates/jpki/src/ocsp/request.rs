//! OCSP requests, RFC 6960 §4.1.1.

use der::asn1::{Any, BitString, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Sequence};
use x509_cert::ext::{Extension, Extensions};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::{
    CertId, MAX_NONCE_LEN, OID_NONCE, OID_PREF_SIG_ALGS, OcspError, Version, check_size, encoding, malformed,
};
use crate::serial::Serial;

/// RFC 6960 §4.1.1:
///
/// ```text
/// OCSPRequest ::= SEQUENCE {
///     tbsRequest                  TBSRequest,
///     optionalSignature   [0]     EXPLICIT Signature OPTIONAL }
/// ```
///
/// A request signature is accepted and ignored: JPKI responders do not require signed requests.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspRequest {
    /// The request proper.
    pub tbs_request: TbsRequest,
    /// The requestor's signature, when sent.
    #[asn1(context_specific = "0", optional = "true")]
    pub optional_signature: Option<RequestSignature>,
}

/// RFC 6960 §4.1.1:
///
/// ```text
/// TBSRequest ::= SEQUENCE {
///     version             [0]     EXPLICIT Version DEFAULT v1,
///     requestorName       [1]     EXPLICIT GeneralName OPTIONAL,
///     requestList                 SEQUENCE OF Request,
///     requestExtensions   [2]     EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TbsRequest {
    /// Always v1.
    #[asn1(context_specific = "0", default = "Default::default")]
    pub version: Version,
    /// The requestor's GeneralName, kept undecoded (any GeneralName kind is tolerated).
    #[asn1(context_specific = "1", optional = "true")]
    pub requestor_name: Option<Any>,
    /// One entry per certificate asked about.
    pub request_list: Vec<SingleRequest>,
    /// Nonce, preferred signature algorithms, and any other extension, uninterpreted.
    #[asn1(context_specific = "2", optional = "true")]
    pub request_extensions: Option<Extensions>,
}

/// RFC 6960 §4.1.1:
///
/// ```text
/// Signature ::= SEQUENCE {
///     signatureAlgorithm      AlgorithmIdentifier,
///     signature               BIT STRING,
///     certs               [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct RequestSignature {
    /// The signature algorithm.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// The signature.
    pub signature: BitString,
    /// Certificates, undecoded.
    #[asn1(context_specific = "0", optional = "true")]
    pub certs: Option<Vec<Any>>,
}

/// RFC 6960 §4.1.1 (`Request`):
///
/// ```text
/// Request ::= SEQUENCE {
///     reqCert                     CertID,
///     singleRequestExtensions     [0] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SingleRequest {
    /// The certificate asked about.
    pub req_cert: CertId,
    /// Per-certificate extensions, uninterpreted.
    #[asn1(context_specific = "0", optional = "true")]
    pub single_request_extensions: Option<Extensions>,
}

/// RFC 6960 §4.4.7.1:
///
/// ```text
/// PreferredSignatureAlgorithms ::= SEQUENCE OF PreferredSignatureAlgorithm
/// PreferredSignatureAlgorithm ::= SEQUENCE {
///     sigIdentifier   AlgorithmIdentifier,
///     certIdentifier  AlgorithmIdentifier OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct PreferredSignatureAlgorithm {
    /// A signature algorithm the client can verify.
    pub sig_identifier: AlgorithmIdentifierOwned,
    /// The public key algorithm of the responder certificate that goes with it, when stated.
    #[asn1(optional = "true")]
    pub cert_identifier: Option<AlgorithmIdentifierOwned>,
}

/// One certificate asked about, with its serial checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedCert<'a> {
    /// The hash algorithm of the issuer hashes.
    pub hash_algorithm: ObjectIdentifier,
    /// Hash of the issuer's name.
    pub issuer_name_hash: &'a [u8],
    /// Hash of the issuer's public key.
    pub issuer_key_hash: &'a [u8],
    /// The certificate serial.
    pub serial: Serial,
}

impl OcspRequest {
    /// Parses a DER request of at most [`super::MAX_OCSP_LEN`] bytes with at least one `Request`.
    /// Never panics.
    pub fn from_der(der: &[u8]) -> Result<OcspRequest, OcspError> {
        check_size(der)?;
        let req = <OcspRequest as Decode>::from_der(der).map_err(malformed("OCSPRequest"))?;
        if req.tbs_request.request_list.is_empty() {
            return Err(OcspError::EmptyRequestList);
        }
        Ok(req)
    }

    /// An unsigned request for `cert_ids`, with an RFC 8954 nonce extension when `nonce` is given
    /// (the extnValue is the DER of an OCTET STRING holding the nonce, as OpenSSL sends it).
    pub fn build(cert_ids: Vec<CertId>, nonce: Option<&[u8]>) -> Result<OcspRequest, OcspError> {
        let request_extensions = match nonce {
            None => None,
            Some(nonce) => {
                let inner = OctetString::new(nonce).map_err(encoding("nonce"))?;
                let value = inner.to_der().map_err(encoding("nonce"))?;
                Some(vec![Extension {
                    extn_id: OID_NONCE,
                    critical: false,
                    extn_value: OctetString::new(value).map_err(encoding("nonce"))?,
                }])
            }
        };
        Ok(OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: cert_ids
                    .into_iter()
                    .map(|req_cert| SingleRequest {
                        req_cert,
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions,
            },
            optional_signature: None,
        })
    }

    /// The DER encoding.
    pub fn to_der(&self) -> Result<Vec<u8>, OcspError> {
        Encode::to_der(self).map_err(encoding("OCSPRequest"))
    }

    /// The nonce extension exactly as sent, for a responder to echo it unchanged.
    pub fn nonce_extension(&self) -> Option<&Extension> {
        self.tbs_request
            .request_extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == OID_NONCE)
    }

    /// The nonce: the content of the OCTET STRING in the extnValue (RFC 8954), or the raw extnValue
    /// for older clients that put the nonce there directly.
    pub fn nonce(&self) -> Option<&[u8]> {
        let raw = self.nonce_extension()?.extn_value.as_bytes();
        match <&der::asn1::OctetStringRef>::from_der(raw) {
            Ok(inner) => Some(inner.as_bytes()),
            Err(_) => Some(raw),
        }
    }

    /// The nonce under RFC 8954 §2.1: `None` without the extension; the nonce octets when the
    /// extnValue is the DER of an OCTET STRING of 1 to [`MAX_NONCE_LEN`] octets; otherwise
    /// [`OcspError::BadNonce`] (or [`OcspError::DuplicateExtension`] for two nonce extensions),
    /// which a responder answers with `malformedRequest`.
    pub fn checked_nonce(&self) -> Result<Option<&[u8]>, OcspError> {
        let Some(ext) = self.unique_extension(OID_NONCE)? else {
            return Ok(None);
        };
        let inner = <&der::asn1::OctetStringRef>::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            OcspError::BadNonce {
                detail: format!("extnValue is not an OCTET STRING: {e}"),
            }
        })?;
        let nonce = inner.as_bytes();
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
            return Err(OcspError::BadNonce {
                detail: format!("{} octets, expected 1 to {MAX_NONCE_LEN}", nonce.len()),
            });
        }
        Ok(Some(nonce))
    }

    /// The signature algorithms the client prefers (RFC 6960 §4.4.7), most preferred first; empty
    /// without the extension. A malformed extension is an error: a client that sends it expects
    /// it to be honoured.
    pub fn preferred_signature_algorithms(&self) -> Result<Vec<PreferredSignatureAlgorithm>, OcspError> {
        match self.unique_extension(OID_PREF_SIG_ALGS)? {
            None => Ok(Vec::new()),
            Some(ext) => <Vec<PreferredSignatureAlgorithm> as Decode>::from_der(ext.extn_value.as_bytes())
                .map_err(malformed("PreferredSignatureAlgorithms")),
        }
    }

    fn unique_extension(&self, oid: ObjectIdentifier) -> Result<Option<&Extension>, OcspError> {
        let Some(exts) = self.tbs_request.request_extensions.as_ref() else {
            return Ok(None);
        };
        let mut found = exts.iter().filter(|e| e.extn_id == oid);
        let first = found.next();
        if found.next().is_some() {
            return Err(OcspError::DuplicateExtension { oid: oid.to_string() });
        }
        Ok(first)
    }

    /// Each certificate asked about, with its serial checked; the first bad serial is an error.
    pub fn requested(&self) -> Result<Vec<RequestedCert<'_>>, OcspError> {
        self.tbs_request
            .request_list
            .iter()
            .map(|r| {
                let id = &r.req_cert;
                Ok(RequestedCert {
                    hash_algorithm: id.hash_algorithm.oid,
                    issuer_name_hash: id.issuer_name_hash.as_bytes(),
                    issuer_key_hash: id.issuer_key_hash.as_bytes(),
                    serial: id.serial()?,
                })
            })
            .collect()
    }
}
