//! OCSP responses, RFC 6960 §4.2.1, and builders that do no cryptography.

use der::asn1::{Any, AnyRef, BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Reader, Sequence, SliceReader};
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::name::Name;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::{CertId, OID_BASIC_RESPONSE, OcspError, Version, check_size, encoding, malformed};
use crate::reason::Reason;

/// RFC 6960 §4.2.1:
///
/// ```text
/// OCSPResponse ::= SEQUENCE {
///    responseStatus         OCSPResponseStatus,
///    responseBytes          [0] EXPLICIT ResponseBytes OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspResponse {
    /// Whether the request was processed.
    pub response_status: ResponseStatus,
    /// Present exactly when the status is `successful`.
    #[asn1(context_specific = "0", optional = "true")]
    pub response_bytes: Option<ResponseBytes>,
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// OCSPResponseStatus ::= ENUMERATED {
///     successful            (0),  -- Response has valid confirmations
///     malformedRequest      (1),  -- Illegal confirmation request
///     internalError         (2),  -- Internal error in issuer
///     tryLater              (3),  -- Try again later
///                                 -- (4) is not used
///     sigRequired           (5),  -- Must sign the request
///     unauthorized          (6)   -- Request unauthorized }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Enumerated)]
#[repr(u32)]
pub enum ResponseStatus {
    /// `successful (0)`.
    Successful = 0,
    /// `malformedRequest (1)`.
    MalformedRequest = 1,
    /// `internalError (2)`.
    InternalError = 2,
    /// `tryLater (3)`.
    TryLater = 3,
    /// `sigRequired (5)`.
    SigRequired = 5,
    /// `unauthorized (6)`.
    Unauthorized = 6,
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// ResponseBytes ::= SEQUENCE {
///     responseType   OBJECT IDENTIFIER,
///     response       OCTET STRING }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct ResponseBytes {
    /// `id-pkix-ocsp-basic` in practice.
    pub response_type: ObjectIdentifier,
    /// The DER of a [`BasicOcspResponse`].
    pub response: OctetString,
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// BasicOCSPResponse ::= SEQUENCE {
///    tbsResponseData      ResponseData,
///    signatureAlgorithm   AlgorithmIdentifier,
///    signature            BIT STRING,
///    certs            [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct BasicOcspResponse {
    /// The signed data.
    pub tbs_response_data: ResponseData,
    /// The signature algorithm.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// The signature over the DER of `tbs_response_data`.
    pub signature: BitString,
    /// Certificates to help verify the signature (a delegated responder's), undecoded.
    #[asn1(context_specific = "0", optional = "true")]
    pub certs: Option<Vec<Any>>,
}

/// The BasicOCSPResponse with its signed part kept as bytes, so assembly never re-encodes it.
#[derive(Sequence)]
struct RawBasicOcspResponse {
    tbs_response_data: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", optional = "true")]
    certs: Option<Vec<Any>>,
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// ResponseData ::= SEQUENCE {
///    version              [0] EXPLICIT Version DEFAULT v1,
///    responderID              ResponderID,
///    producedAt               GeneralizedTime,
///    responses                SEQUENCE OF SingleResponse,
///    responseExtensions   [1] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct ResponseData {
    /// Always v1.
    #[asn1(context_specific = "0", default = "Default::default")]
    pub version: Version,
    /// Who signed.
    pub responder_id: ResponderId,
    /// When the response was signed.
    pub produced_at: GeneralizedTime,
    /// One per certificate asked about.
    pub responses: Vec<SingleResponse>,
    /// The echoed nonce, and any other extension.
    #[asn1(context_specific = "1", optional = "true")]
    pub response_extensions: Option<Extensions>,
}

/// RFC 6960 §4.2.1 (the module uses EXPLICIT tags):
///
/// ```text
/// ResponderID ::= CHOICE {
///    byName   [1] Name,
///    byKey    [2] KeyHash }
/// KeyHash ::= OCTET STRING -- SHA-1 hash of responder's public key
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Choice)]
pub enum ResponderId {
    /// The responder certificate's subject.
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    /// SHA-1 of the responder's subjectPublicKey BIT STRING value.
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// SingleResponse ::= SEQUENCE {
///    certID                       CertID,
///    certStatus                   CertStatus,
///    thisUpdate                   GeneralizedTime,
///    nextUpdate         [0]       EXPLICIT GeneralizedTime OPTIONAL,
///    singleExtensions   [1]       EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SingleResponse {
    /// The CertID as requested.
    pub cert_id: CertId,
    /// Good, revoked or unknown.
    pub cert_status: CertStatus,
    /// When the status was known to be correct.
    pub this_update: GeneralizedTime,
    /// When newer information will be available.
    #[asn1(context_specific = "0", optional = "true")]
    pub next_update: Option<GeneralizedTime>,
    /// Per-certificate extensions.
    #[asn1(context_specific = "1", optional = "true")]
    pub single_extensions: Option<Extensions>,
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// CertStatus ::= CHOICE {
///     good        [0]     IMPLICIT NULL,
///     revoked     [1]     IMPLICIT RevokedInfo,
///     unknown     [2]     IMPLICIT UnknownInfo }
/// UnknownInfo ::= NULL
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Choice)]
pub enum CertStatus {
    /// Not revoked.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    /// Revoked, permanently or on hold.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    /// The responder does not know (or will not say: a stale CRL fails closed to this).
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

/// RFC 6960 §4.2.1:
///
/// ```text
/// RevokedInfo ::= SEQUENCE {
///     revocationTime              GeneralizedTime,
///     revocationReason    [0]     EXPLICIT CRLReason OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct RevokedInfo {
    /// When the certificate was revoked.
    pub revocation_time: GeneralizedTime,
    /// Why, when known.
    #[asn1(context_specific = "0", optional = "true")]
    pub revocation_reason: Option<CrlReason>,
}

impl RevokedInfo {
    /// The reason as a JPKI [`Reason`], when present and known.
    pub fn reason(&self) -> Option<Reason> {
        let code = u8::try_from(self.revocation_reason? as u32).ok()?;
        Reason::from_code(code)
    }
}

impl ResponseData {
    /// The DER of the ResponseData: the bytes to sign.
    pub fn to_der(&self) -> Result<Vec<u8>, OcspError> {
        Encode::to_der(self).map_err(encoding("ResponseData"))
    }
}

impl BasicOcspResponse {
    /// The full `OCSPResponse` DER (status successful) around a ResponseData signed elsewhere.
    ///
    /// `tbs_der` is embedded verbatim, so the signature stays valid; it must decode as a
    /// [`ResponseData`] (catching a caller that passes the wrong bytes). `signature` is the raw
    /// signature octets; `certs` are DER certificates to include (a delegated responder's).
    pub fn assemble(
        tbs_der: &[u8],
        signature_algorithm: AlgorithmIdentifierOwned,
        signature: &[u8],
        certs: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, OcspError> {
        check_size(tbs_der)?;
        <ResponseData as Decode>::from_der(tbs_der).map_err(malformed("ResponseData"))?;
        let tbs = Any::from_der(tbs_der).map_err(malformed("ResponseData"))?;
        let certs = certs
            .iter()
            .map(|c| Any::from_der(c).map_err(malformed("certificate")))
            .collect::<Result<Vec<Any>, _>>()?;
        let raw = RawBasicOcspResponse {
            tbs_response_data: tbs,
            signature_algorithm,
            signature: BitString::from_bytes(signature).map_err(encoding("signature"))?,
            certs: (!certs.is_empty()).then_some(certs),
        };
        let basic = raw.to_der().map_err(encoding("BasicOCSPResponse"))?;
        let response = OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: OID_BASIC_RESPONSE,
                response: OctetString::new(basic).map_err(encoding("ResponseBytes"))?,
            }),
        };
        Encode::to_der(&response).map_err(encoding("OCSPResponse"))
    }

    /// The exact bytes of `tbsResponseData` inside a BasicOCSPResponse DER, to verify the
    /// signature over what was sent rather than over a re-encoding.
    pub fn tbs_der(basic_der: &[u8]) -> Result<&[u8], OcspError> {
        check_size(basic_der)?;
        let outer = AnyRef::from_der(basic_der).map_err(malformed("BasicOCSPResponse"))?;
        let mut reader = SliceReader::new(outer.value()).map_err(malformed("BasicOCSPResponse"))?;
        reader.tlv_bytes().map_err(malformed("BasicOCSPResponse"))
    }
}

impl OcspResponse {
    /// Parses a DER response of at most [`super::MAX_OCSP_LEN`] bytes; checks that responseBytes
    /// are present exactly when the status is successful. Never panics.
    pub fn from_der(der: &[u8]) -> Result<OcspResponse, OcspError> {
        check_size(der)?;
        let resp = <OcspResponse as Decode>::from_der(der).map_err(malformed("OCSPResponse"))?;
        if (resp.response_status == ResponseStatus::Successful) != resp.response_bytes.is_some() {
            return Err(OcspError::StatusMismatch);
        }
        Ok(resp)
    }

    /// The DER of an error response (no responseBytes); `Successful` is refused because a
    /// successful response needs a signed body.
    pub fn error(status: ResponseStatus) -> Result<Vec<u8>, OcspError> {
        if status == ResponseStatus::Successful {
            return Err(OcspError::StatusMismatch);
        }
        let response = OcspResponse {
            response_status: status,
            response_bytes: None,
        };
        Encode::to_der(&response).map_err(encoding("OCSPResponse"))
    }

    /// The DER encoding.
    pub fn to_der(&self) -> Result<Vec<u8>, OcspError> {
        Encode::to_der(self).map_err(encoding("OCSPResponse"))
    }

    /// The basic response, when the status is successful; an error for any other response type.
    pub fn basic(&self) -> Result<Option<BasicOcspResponse>, OcspError> {
        let Some(bytes) = &self.response_bytes else {
            return Ok(None);
        };
        if bytes.response_type != OID_BASIC_RESPONSE {
            return Err(OcspError::UnsupportedResponseType {
                oid: bytes.response_type.to_string(),
            });
        }
        let der = bytes.response.as_bytes();
        check_size(der)?;
        let basic = <BasicOcspResponse as Decode>::from_der(der).map_err(malformed("BasicOCSPResponse"))?;
        Ok(Some(basic))
    }
}
