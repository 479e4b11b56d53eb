//! Who may sign an answer about a CA's certificates, and the signature check.
//!
//! RFC 6960 §4.2.2.2: the signer is the CA itself, or a delegated responder certificate that the
//! CA issued with id-kp-OCSPSigning in extendedKeyUsage. J-LIS signs with a delegated responder
//! per CA (carrying id-pkix-ocsp-nocheck, so its own revocation is not checked), included in the
//! response's `certs`. A "trusted responder" configured out of band (§4.2.2.2's third case) is
//! not supported: nothing in JPKI needs it, and it would be a second trust anchor.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use jpki::algorithm::{self, Accepted, AlgorithmError, Hash, Scheme};
use jpki::ocsp::{BasicOcspResponse, ResponderId};
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use openssl::x509::X509;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, ExtendedKeyUsage, KeyUsage};

use crate::error::OcspClientError;
use crate::issuer::IssuingCa;

/// Minimum RSA modulus accepted for a response or responder-certificate signature.
const MIN_RSA_BITS: u32 = 2048;

const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// The key that signed a response, once it is known to be authorized for the CA.
pub(crate) struct Signer {
    key: PKey<Public>,
}

/// Finds the signer the ResponderID names (the CA itself, or a certificate in `certs`) and checks
/// that it is authorized for `issuer` at `now`; then checks the signature over `tbs` with it.
/// Every candidate the ResponderID names is tried; the first one's error is reported when none
/// passes.
pub(crate) fn verify_signed_by_authorized(
    basic: &BasicOcspResponse,
    tbs: &[u8],
    issuer: &IssuingCa,
    now: i64,
    skew: i64,
    max_certs: usize,
) -> Result<(), OcspClientError> {
    let alg = signature_algorithm(basic)?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or_else(|| OcspClientError::malformed("the signature BIT STRING has unused bits"))?;
    let rid = &basic.tbs_response_data.responder_id;
    let certs = basic.certs.as_deref().unwrap_or_default();
    if certs.len() > max_certs {
        return Err(OcspClientError::malformed(format!(
            "{} certificates in the response (at most {max_certs})",
            certs.len()
        )));
    }

    let mut first_error = None;
    let mut candidates = 0usize;
    if names_ca(rid, issuer)? {
        candidates += 1;
        let signer = Signer {
            key: issuer.public_key().clone(),
        };
        match check_signature(&signer, alg, tbs, signature) {
            Ok(()) => return Ok(()),
            Err(e) => first_error = Some(e),
        }
    }
    for any in certs {
        let der = any.to_der().map_err(|e| {
            OcspClientError::malformed(format!("a certificate in certs does not encode: {e}"))
        })?;
        let cert = Certificate::from_der(&der)
            .map_err(|e| OcspClientError::malformed(format!("a certificate in certs does not parse: {e}")))?;
        if !names_certificate(rid, &cert)? {
            continue;
        }
        candidates += 1;
        let outcome = authorize(&cert, &der, issuer, now, skew)
            .and_then(|signer| check_signature(&signer, alg, tbs, signature));
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Err(OcspClientError::ResponderNotAuthorized {
            detail: format!(
                "the ResponderID names neither the CA nor a certificate in the response ({candidates} candidates)"
            ),
        }),
    }
}

fn signature_algorithm(basic: &BasicOcspResponse) -> Result<Accepted, OcspClientError> {
    let der = basic
        .signature_algorithm
        .to_der()
        .map_err(|e| OcspClientError::malformed(format!("signatureAlgorithm does not encode: {e}")))?;
    algorithm::classify_der(&der).map_err(algorithm_error)
}

fn algorithm_error(e: AlgorithmError) -> OcspClientError {
    OcspClientError::UnsupportedAlgorithm {
        detail: format!("{} ({})", e, e.code()),
    }
}

fn sha1(data: &[u8]) -> Result<Vec<u8>, OcspClientError> {
    hash(MessageDigest::sha1(), data)
        .map(|d| d.to_vec())
        .map_err(OcspClientError::internal("hashing a responder key"))
}

/// Whether the ResponderID names the CA: byName its subject (shared by the generations of one
/// hierarchy, so only the signature check tells them apart), byKey the SHA-1 of its key.
fn names_ca(rid: &ResponderId, issuer: &IssuingCa) -> Result<bool, OcspClientError> {
    Ok(match rid {
        ResponderId::ByName(name) => name_der(name)? == issuer.subject_der(),
        ResponderId::ByKey(h) => h.as_bytes() == issuer.sha1_key_hash(),
    })
}

fn names_certificate(rid: &ResponderId, cert: &Certificate) -> Result<bool, OcspClientError> {
    let tbs = cert.tbs_certificate();
    Ok(match rid {
        ResponderId::ByName(name) => name_der(name)? == name_der(tbs.subject())?,
        ResponderId::ByKey(h) => {
            h.as_bytes() == sha1(tbs.subject_public_key_info().subject_public_key.raw_bytes())?
        }
    })
}

fn name_der(name: &x509_cert::name::Name) -> Result<Vec<u8>, OcspClientError> {
    name.to_der()
        .map_err(|e| OcspClientError::malformed(format!("a name does not encode: {e}")))
}

fn unix(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// A delegated responder certificate is authorized for `issuer` at `now` when: its issuer name
/// is the CA's subject and its authorityKeyIdentifier (if any) the CA's key id; its signature
/// (under an accepted algorithm) verifies with the CA's key; extendedKeyUsage carries
/// id-kp-OCSPSigning; keyUsage, when present, allows digitalSignature; it has no critical
/// extension we do not process; and `notBefore ≤ now + skew` and `now ≤ notAfter`.
fn authorize(
    cert: &Certificate,
    der: &[u8],
    issuer: &IssuingCa,
    now: i64,
    skew: i64,
) -> Result<Signer, OcspClientError> {
    let refuse = |detail: String| OcspClientError::ResponderNotAuthorized { detail };
    let tbs = cert.tbs_certificate();
    if name_der(tbs.issuer())? != issuer.subject_der() {
        return Err(refuse(format!(
            "the responder certificate is issued by {}",
            tbs.issuer()
        )));
    }
    let exts = tbs.extensions().map(|e| e.as_slice()).unwrap_or_default();
    let find = |oid: ObjectIdentifier| {
        let mut found = exts.iter().filter(move |e| e.extn_id == oid);
        let first = found.next();
        match found.next() {
            Some(_) => Err(refuse(format!(
                "the responder certificate repeats extension {oid}"
            ))),
            None => Ok(first),
        }
    };
    if let Some(aki) = find(OID_AKI)? {
        let aki = AuthorityKeyIdentifier::from_der(aki.extn_value.as_bytes())
            .map_err(|e| refuse(format!("authorityKeyIdentifier does not parse: {e}")))?;
        if let (Some(id), Some(ski)) = (aki.key_identifier, issuer.certificate().subject_key_id())
            && id.as_bytes() != ski.as_slice()
        {
            return Err(refuse("the responder certificate names another CA key".into()));
        }
    }

    // The CA's signature, under the same algorithm policy as everything else.
    let sig_alg = cert
        .signature_algorithm()
        .to_der()
        .map_err(|e| OcspClientError::malformed(format!("a signatureAlgorithm does not encode: {e}")))?;
    let accepted = algorithm::classify_der(&sig_alg).map_err(algorithm_error)?;
    check_key(issuer.public_key(), accepted)?;
    let x509 = X509::from_der(der)
        .map_err(|e| refuse(format!("OpenSSL does not read the responder certificate: {e}")))?;
    let signed_by_ca = x509.verify(issuer.public_key());
    let _ = openssl::error::ErrorStack::get();
    if !matches!(signed_by_ca, Ok(true)) {
        return Err(refuse("the responder certificate is not signed by the CA".into()));
    }

    let eku = find(OID_EXT_KEY_USAGE)?
        .ok_or_else(|| refuse("the responder certificate has no extendedKeyUsage".into()))?;
    let eku = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| refuse(format!("extendedKeyUsage does not parse: {e}")))?;
    if !eku.0.contains(&jpki::oid::KP_OCSP_SIGNING) {
        return Err(refuse("the responder certificate lacks id-kp-OCSPSigning".into()));
    }
    if let Some(ku) = find(OID_KEY_USAGE)? {
        let ku = KeyUsage::from_der(ku.extn_value.as_bytes())
            .map_err(|e| refuse(format!("keyUsage does not parse: {e}")))?;
        if !ku.digital_signature() {
            return Err(refuse(
                "the responder certificate's keyUsage forbids digitalSignature".into(),
            ));
        }
    }
    if let Some(e) = exts.iter().find(|e| {
        e.critical && ![OID_KEY_USAGE, OID_EXT_KEY_USAGE, OID_BASIC_CONSTRAINTS].contains(&e.extn_id)
    }) {
        return Err(refuse(format!(
            "the responder certificate has an unprocessed critical extension {}",
            e.extn_id
        )));
    }

    let validity = tbs.validity();
    let (not_before, not_after) = (unix(validity.not_before), unix(validity.not_after));
    if not_before > now.saturating_add(skew) || now > not_after {
        return Err(refuse(format!(
            "the responder certificate is valid from {not_before} to {not_after}, not at {now}"
        )));
    }
    let key = x509
        .public_key()
        .map_err(|e| refuse(format!("unusable responder key: {e}")))?;
    Ok(Signer { key })
}

fn message_digest(hash: Hash) -> MessageDigest {
    match hash {
        Hash::Sha256 => MessageDigest::sha256(),
        Hash::Sha384 => MessageDigest::sha384(),
        Hash::Sha512 => MessageDigest::sha512(),
    }
}

fn check_key(key: &PKey<Public>, alg: Accepted) -> Result<(), OcspClientError> {
    match (alg.scheme, key.id()) {
        (Scheme::RsaPkcs1, Id::RSA) | (Scheme::RsaPss { .. }, Id::RSA | Id::RSA_PSS) => {
            if key.bits() < MIN_RSA_BITS {
                return Err(OcspClientError::UnsupportedAlgorithm {
                    detail: format!("RSA-{} key (at least {MIN_RSA_BITS} bits)", key.bits()),
                });
            }
            Ok(())
        }
        (Scheme::Ecdsa, Id::EC) => Ok(()),
        (scheme, _) => Err(OcspClientError::UnsupportedAlgorithm {
            detail: format!("{scheme:?} does not fit the signer's key"),
        }),
    }
}

/// Checks `signature` over `tbs` with the signer's key under `alg`.
fn check_signature(
    signer: &Signer,
    alg: Accepted,
    tbs: &[u8],
    signature: &[u8],
) -> Result<(), OcspClientError> {
    check_key(&signer.key, alg)?;
    let md = message_digest(alg.hash);
    let outcome = (|| -> Result<bool, openssl::error::ErrorStack> {
        let mut verifier = Verifier::new(md, &signer.key)?;
        if let Scheme::RsaPss { salt_len } = alg.scheme {
            verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
            verifier.set_rsa_mgf1_md(md)?;
            verifier.set_rsa_pss_saltlen(RsaPssSaltlen::custom(i32::from(salt_len)))?;
        }
        verifier.verify_oneshot(signature, tbs)
    })();
    // A malformed signature value is an OpenSSL error; for us it is a signature that does not
    // verify. Clear the thread's error queue either way.
    let _ = openssl::error::ErrorStack::get();
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(OcspClientError::BadSignature),
    }
}
