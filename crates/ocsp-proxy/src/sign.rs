//! The signed response: a BasicOCSPResponse from the PF's delegated responder.
//!
//! For: loading the responder certificate and key (PEM files named in the configuration), and
//! signing the answers of one request: ResponderID byKey (SHA-1 of the responder's public key),
//! producedAt, the responses, the request's nonce extension echoed unchanged, and the responder
//! certificate in `certs` so a client can check that the issuing CA delegated OCSP signing to it
//! (RFC 6960 §4.2.2.2: id-kp-OCSPSigning, issued by the CA).
//!
//! Keys: RSA of at least 2048 bits (sha256WithRSAEncryption) or ECDSA P-256 (ecdsa-with-SHA256).
//! A client's preferred signature algorithms (RFC 6960 §4.4.7) can only change the hash, since
//! there is one key: the first preference the key can produce is used (RSA: SHA-256, SHA-384,
//! SHA-512 with PKCS#1 v1.5; ECDSA: the same hashes), SHA-256 otherwise.
//!
//! A client that checks delegation (RFC 6960 §4.2.2.2) accepts a response only when every
//! CertID in it names the CA that issued the responder certificate; a client that trusts the
//! responder certificate directly (OpenSSL's `-VAfile`, a configured trust anchor) accepts any.
//! A [`Responder`] is one certificate and key; a server that serves several CAs under
//! delegation holds one per CA.
//!
//! Not for: deciding statuses ([`crate::answer`]) or caching responses.

use std::path::Path;

use der::Decode;
use der::asn1::{Any, Null, ObjectIdentifier, OctetString};
use jpki::ocsp::{BasicOcspResponse, ResponderId, ResponseData, SingleResponse, Version};
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;
use openssl::x509::X509;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::Error;
use crate::answer::gtime;

/// `sha256WithRSAEncryption` (RFC 4055 §5).
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption`.
pub const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption`.
pub const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384`.
pub const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// `ecdsa-with-SHA512`.
pub const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-kp-OCSPSigning` (RFC 6960 §4.2.2.2).
pub const OID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// Smallest RSA responder key accepted, in bits.
pub const MIN_RSA_BITS: u32 = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
}

/// The PF's delegated OCSP responder: its certificate and private key.
pub struct Responder {
    certificate: Vec<u8>,
    key: PKey<Private>,
    kind: KeyKind,
    key_hash: Vec<u8>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Responder")
            .field("kind", &self.kind)
            .field("key_hash", &self.key_hash)
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// Loads the responder from a PEM certificate file and a PEM private key file.
    pub fn from_pem_files(certificate: &Path, key: &Path) -> Result<Responder, Error> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| Error::ReadFile {
                path: path.to_path_buf(),
                source,
            })
        };
        Responder::from_pem(&read(certificate)?, &read(key)?)
    }

    /// The responder from PEM text. Checks that the key is RSA of at least [`MIN_RSA_BITS`] or
    /// ECDSA P-256, that it is the certificate's key, and that the certificate carries
    /// id-kp-OCSPSigning (without it no client accepts the responses).
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Responder, Error> {
        let bad = |detail: &str| Error::Responder {
            detail: detail.into(),
        };
        let x509 = X509::from_pem(certificate_pem).map_err(|_| bad("the certificate is not PEM"))?;
        let key = PKey::private_key_from_pem(key_pem).map_err(|_| bad("the key is not a PEM private key"))?;
        let kind = match key.id() {
            Id::RSA if key.bits() >= MIN_RSA_BITS => KeyKind::Rsa,
            Id::RSA => return Err(bad("RSA key shorter than 2048 bits")),
            Id::EC => {
                let curve = key.ec_key().ok().and_then(|k| k.group().curve_name());
                if curve != Some(Nid::X9_62_PRIME256V1) {
                    return Err(bad("ECDSA key not on P-256"));
                }
                KeyKind::EcP256
            }
            _ => return Err(bad("neither an RSA nor an ECDSA key")),
        };
        let cert_key = x509
            .public_key()
            .map_err(|_| bad("the certificate's key is unreadable"))?;
        if !cert_key.public_eq(&key) {
            return Err(bad("the key does not belong to the certificate"));
        }
        let certificate = x509.to_der().map_err(|source| Error::Crypto {
            context: "encoding the responder certificate",
            source,
        })?;
        let cert = Certificate::from_der(&certificate).map_err(|_| bad("the certificate does not parse"))?;
        let tbs = cert.tbs_certificate();
        let ocsp_signing = tbs
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|e| e.extn_id == OID_EKU)
            .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
            .any(|eku| eku.0.contains(&OID_KP_OCSP_SIGNING));
        if !ocsp_signing {
            return Err(bad("the certificate lacks id-kp-OCSPSigning"));
        }
        let spk = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        let key_hash = hash(MessageDigest::sha1(), spk)
            .map_err(|source| Error::Crypto {
                context: "hashing the responder key",
                source,
            })?
            .to_vec();
        Ok(Responder {
            certificate,
            key,
            kind,
            key_hash,
        })
    }

    /// The responder certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// SHA-1 of the responder's public key: the ResponderID byKey.
    pub fn key_hash(&self) -> &[u8] {
        &self.key_hash
    }

    /// The signature algorithm used for a client preferring `preferred` (most preferred first).
    pub fn signature_algorithm(&self, preferred: &[ObjectIdentifier]) -> ObjectIdentifier {
        let ours: &[ObjectIdentifier] = match self.kind {
            KeyKind::Rsa => &[SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA],
            KeyKind::EcP256 => &[ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512],
        };
        preferred
            .iter()
            .find(|p| ours.contains(p))
            .copied()
            .unwrap_or(match self.kind {
                KeyKind::Rsa => SHA256_WITH_RSA,
                KeyKind::EcP256 => ECDSA_WITH_SHA256,
            })
    }

    /// The full `OCSPResponse` DER (successful) for `responses`, produced at `produced_at` (unix
    /// seconds), echoing `nonce` (the request's nonce extension) unchanged.
    pub fn sign(
        &self,
        responses: Vec<SingleResponse>,
        nonce: Option<&Extension>,
        produced_at: i64,
        preferred: &[ObjectIdentifier],
    ) -> Result<Vec<u8>, Error> {
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(self.key_hash.clone()).map_err(enc)?),
            produced_at: gtime(produced_at)?,
            responses,
            response_extensions: nonce.map(|e| vec![e.clone()]),
        };
        let tbs = data.to_der().map_err(Error::Encoding)?;
        let oid = self.signature_algorithm(preferred);
        let md = match oid {
            SHA384_WITH_RSA | ECDSA_WITH_SHA384 => MessageDigest::sha384(),
            SHA512_WITH_RSA | ECDSA_WITH_SHA512 => MessageDigest::sha512(),
            _ => MessageDigest::sha256(),
        };
        let crypto = |source| Error::Crypto {
            context: "signing the response",
            source,
        };
        let mut signer = Signer::new(md, &self.key).map_err(crypto)?;
        signer.update(&tbs).map_err(crypto)?;
        let signature = signer.sign_to_vec().map_err(crypto)?;
        // RSA signature algorithms carry NULL parameters (RFC 4055 §5); ECDSA ones none (RFC 5758).
        let parameters = match self.kind {
            KeyKind::Rsa => Some(Any::encode_from(&Null).map_err(enc)?),
            KeyKind::EcP256 => None,
        };
        let algorithm = AlgorithmIdentifierOwned { oid, parameters };
        BasicOcspResponse::assemble(&tbs, algorithm, &signature, vec![self.certificate.clone()])
            .map_err(Error::Encoding)
    }
}

fn enc(e: der::Error) -> Error {
    Error::Encoding(jpki::ocsp::OcspError::Encoding {
        context: "ResponseData",
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
