//! An OCSP request as it arrives over HTTP (RFC 6960 appendix A), decoded and checked.
//!
//! For: the body of a `POST` (`application/ocsp-request`; the server checks the media type) and
//! the path of a `GET` (percent-encoded base64 in either alphabet, padded or not, `/` allowed
//! inside: [`jpki::ocsp::decode_get`]), both bounded by [`Limits`]. A [`Request`] holds each CertID
//! with its serial checked, the nonce extension to echo and the client's preferred signature
//! algorithms. Not for: deciding a status ([`crate::answer`]) or signing ([`crate::sign`]).
//!
//! **Signed requests** are accepted and their signature is not checked. That is safe because an
//! OCSP response only states public facts (the status a CA published in its CRLs), so knowing
//! who asked changes nothing in the answer; per-SP access control, when configured, is the HTTP
//! layer's job (Bearer key or mTLS), not the request signature's.
//!
//! **Nonces** follow RFC 8954 §2.1: a nonce extension whose value is not an OCTET STRING of 1 to
//! 32 octets makes the whole request `malformedRequest`; a valid one is echoed unchanged.
//!
//! **Preferred signature algorithms** (RFC 6960 §4.4.7) are read and passed to
//! [`crate::sign::Responder::sign`], which honours the first one its single key can produce
//! (RSA: SHA-256/384/512 with PKCS#1 v1.5; ECDSA: SHA-256/384/512); the responder has one key, so
//! the preference can only choose the hash. A malformed extension is `malformedRequest`.

use der::asn1::ObjectIdentifier;
use jpki::Serial;
use jpki::ocsp::{CertId, MAX_OCSP_LEN, OcspRequest, decode_get};
use x509_cert::ext::Extension;

use crate::Error;

/// Bounds on what a request may carry; checked before and while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest DER request accepted, in bytes (at most [`MAX_OCSP_LEN`], which the parser
    /// enforces in any case).
    pub max_request_bytes: usize,
    /// Most CertIDs answered in one request; more is `malformedRequest`, so one request cannot
    /// make the responder do unbounded work.
    pub max_cert_ids: usize,
}

impl Default for Limits {
    /// 64 KiB and 32 CertIDs: OpenSSL, Java and .NET clients send one CertID per request.
    fn default() -> Limits {
        Limits {
            max_request_bytes: MAX_OCSP_LEN,
            max_cert_ids: 32,
        }
    }
}

/// One certificate asked about: the CertID exactly as sent (a response echoes it) and its serial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskedCert {
    /// The CertID as sent.
    pub cert_id: CertId,
    /// Its serial number, checked as an RFC 5280 serial.
    pub serial: Serial,
}

/// A decoded, checked OCSP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    certs: Vec<AskedCert>,
    nonce: Option<Extension>,
    preferred: Vec<ObjectIdentifier>,
    signed: bool,
}

impl Request {
    /// Decodes a `POST` body.
    pub fn from_post(body: &[u8], limits: &Limits) -> Result<Request, Error> {
        let max = limits.max_request_bytes.min(MAX_OCSP_LEN);
        if body.len() > max {
            return Err(Error::RequestTooLarge { len: body.len(), max });
        }
        let req = OcspRequest::from_der(body).map_err(Error::Malformed)?;
        Request::check(req, limits)
    }

    /// Decodes a `GET` path: everything after the responder's base path, `/` characters included.
    pub fn from_get(path: &str, limits: &Limits) -> Result<Request, Error> {
        let der = decode_get(path).map_err(|e| match e {
            jpki::ocsp::OcspError::InputTooLarge { len, max } => Error::RequestTooLarge { len, max },
            e => Error::Malformed(e),
        })?;
        Request::from_post(&der, limits)
    }

    fn check(req: OcspRequest, limits: &Limits) -> Result<Request, Error> {
        let count = req.tbs_request.request_list.len();
        if count > limits.max_cert_ids {
            return Err(Error::TooManyCertIds {
                count,
                max: limits.max_cert_ids,
            });
        }
        req.checked_nonce().map_err(Error::Malformed)?;
        let preferred = req
            .preferred_signature_algorithms()
            .map_err(Error::Malformed)?
            .into_iter()
            .map(|p| p.sig_identifier.oid)
            .collect();
        let nonce = req.nonce_extension().cloned();
        let signed = req.optional_signature.is_some();
        let certs = req
            .tbs_request
            .request_list
            .into_iter()
            .map(|single| {
                let serial = single.req_cert.serial().map_err(Error::Malformed)?;
                Ok(AskedCert {
                    cert_id: single.req_cert,
                    serial,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Request {
            certs,
            nonce,
            preferred,
            signed,
        })
    }

    /// The certificates asked about, in request order (at least one).
    pub fn certs(&self) -> &[AskedCert] {
        &self.certs
    }

    /// The nonce extension as sent (its length checked), to echo in the response.
    pub fn nonce_extension(&self) -> Option<&Extension> {
        self.nonce.as_ref()
    }

    /// The client's preferred signature algorithms (sigIdentifier OIDs), most preferred first.
    pub fn preferred_signature_algorithms(&self) -> &[ObjectIdentifier] {
        &self.preferred
    }

    /// Whether the request carried a signature (accepted and not checked; see the module docs).
    pub fn was_signed(&self) -> bool {
        self.signed
    }
}

#[cfg(test)]
mod tests {
    use der::asn1::{BitString, Null};
    use jpki::ocsp::{OID_PREF_SIG_ALGS, RequestSignature};
    use proptest::prelude::*;
    use x509_cert::spki::AlgorithmIdentifierOwned;

    use super::*;

    fn sha1() -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
            parameters: Some(der::Any::from(Null)),
        }
    }

    fn cert_id(serial: u64) -> CertId {
        CertId::new(sha1(), &[1; 20], &[2; 20], Serial::from_u64(serial)).unwrap()
    }

    fn der(n: usize, nonce: Option<&[u8]>) -> Vec<u8> {
        OcspRequest::build((1..=n as u64).map(cert_id).collect(), nonce)
            .unwrap()
            .to_der()
            .unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        // A tiny encoder, so the tests do not share the decoder's dependency.
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn post_and_get_give_the_same_request() {
        let body = der(3, Some(&[5; 16]));
        let limits = Limits::default();
        let post = Request::from_post(&body, &limits).unwrap();
        assert_eq!(post.certs().len(), 3);
        assert_eq!(post.certs()[2].serial, Serial::from_u64(3));
        assert!(post.nonce_extension().is_some());
        assert!(!post.was_signed());
        let text = b64(&body);
        let url_safe: String = text
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .into();
        let pct = text.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
        for form in [&text, &url_safe, &pct] {
            assert_eq!(Request::from_get(form, &limits).unwrap(), post, "{form}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_request_bytes: 200,
            max_cert_ids: 2,
        };
        assert!(Request::from_post(&der(2, None), &limits).is_ok());
        let e = Request::from_post(&der(3, None), &limits).unwrap_err();
        assert_eq!(e.code(), "TOO_MANY_CERT_IDS");
        let e = Request::from_post(&der(10, None), &limits).unwrap_err();
        assert_eq!(e.code(), "REQUEST_TOO_LARGE");
        let e = Request::from_get(&b64(&der(10, None)), &limits).unwrap_err();
        assert_eq!(e.code(), "REQUEST_TOO_LARGE");
        // 10,000 CertIDs with the default limits: refused by size before any CertID is read.
        let e = Request::from_post(&der(10_000, None), &Limits::default()).unwrap_err();
        assert_eq!(e.code(), "REQUEST_TOO_LARGE");
        let e = Request::from_post(&vec![0; 1 << 20], &Limits::default()).unwrap_err();
        assert_eq!(e.code(), "REQUEST_TOO_LARGE");
    }

    #[test]
    fn bad_requests_are_malformed() {
        let limits = Limits::default();
        for body in [&b""[..], b"garbage", &der(1, None)[..10]] {
            let e = Request::from_post(body, &limits).unwrap_err();
            assert_eq!(e.response_status(), jpki::ocsp::ResponseStatus::MalformedRequest);
        }
        for nonce in [&[][..], &[1; 33][..]] {
            let e = Request::from_post(&der(1, Some(nonce)), &limits).unwrap_err();
            assert_eq!(e.code(), "MALFORMED_REQUEST", "{}", nonce.len());
        }
        for path in ["", "%", "!!", "AAA%zz"] {
            assert!(Request::from_get(path, &limits).is_err(), "{path}");
        }
        let mut neg = OcspRequest::build(vec![cert_id(1)], None).unwrap();
        neg.tbs_request.request_list[0].req_cert.serial_number = der::asn1::Int::new(&[0x80]).unwrap();
        let e = Request::from_post(&neg.to_der().unwrap(), &limits).unwrap_err();
        assert_eq!(e.code(), "MALFORMED_REQUEST");
    }

    #[test]
    fn signed_requests_and_preferences_are_read() {
        let mut req = OcspRequest::build(vec![cert_id(9)], Some(&[1; 32])).unwrap();
        req.optional_signature = Some(RequestSignature {
            signature_algorithm: sha1(),
            signature: BitString::from_bytes(&[1, 2, 3]).unwrap(),
            certs: None,
        });
        // SEQUENCE OF { SEQUENCE { ecdsa-with-SHA384 } }, SEQUENCE { sha256WithRSAEncryption }
        let pref = vec![
            0x30, 0x1D, 0x30, 0x0C, 0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03,
            0x30, 0x0D, 0x30, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B,
        ];
        req.tbs_request
            .request_extensions
            .get_or_insert_with(Vec::new)
            .push(Extension {
                extn_id: OID_PREF_SIG_ALGS,
                critical: false,
                extn_value: der::asn1::OctetString::new(pref).unwrap(),
            });
        let got = Request::from_post(&req.to_der().unwrap(), &Limits::default()).unwrap();
        assert!(got.was_signed());
        assert_eq!(
            got.preferred_signature_algorithms(),
            &[
                ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"),
                ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11")
            ]
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Request::from_post(&bytes, &Limits::default());
        }

        #[test]
        fn arbitrary_paths_never_panic(path in "[A-Za-z0-9+/=%_-]{0,300}") {
            let _ = Request::from_get(&path, &Limits::default());
        }

        #[test]
        fn mutated_requests_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut body = der(2, Some(&[4; 16]));
            let i = pos.index(body.len());
            body[i] = byte;
            if let Ok(req) = Request::from_post(&body, &Limits::default()) {
                prop_assert!(!req.certs().is_empty());
            }
        }
    }
}
