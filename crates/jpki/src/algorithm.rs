//! Signature-algorithm policy: which `AlgorithmIdentifier`s a JPKI signature (certificate, CRL,
//! CMS SignerInfo) may use, in one table that every verifier consults.
//!
//! ```asn1
//! AlgorithmIdentifier ::= SEQUENCE {
//!     algorithm   OBJECT IDENTIFIER,
//!     parameters  ANY DEFINED BY algorithm OPTIONAL }
//! ```
//!
//! | Algorithm | Parameters | Outcome |
//! |---|---|---|
//! | sha256/384/512WithRSAEncryption | NULL or absent ([RFC 4055 §5]) | [`Scheme::RsaPkcs1`] |
//! | ecdsa-with-SHA256/384/512 | absent ([RFC 5758 §3.2]) | [`Scheme::Ecdsa`] |
//! | id-RSASSA-PSS | RSASSA-PSS-params with hash = MGF1 hash = SHA-2 ([RFC 4055 §3.1]) | [`Scheme::RsaPss`] |
//! | md2/md5/sha1WithRSAEncryption, sha1WithRSASignature, ecdsa-with-SHA1, dsa-with-sha1 | any | [`AlgorithmError::Weak`] |
//! | RSASSA-PSS with SHA-1 (also by default), MD5 or MD2 | | [`AlgorithmError::Weak`] |
//! | anything else | | [`AlgorithmError::Unknown`] |
//!
//! RSASSA-PSS parameters are decoded with RustCrypto's [`pkcs1::RsaPssParams`], so `saltLength`
//! is at most 255 octets. The salt length itself is reported, not judged: a caller that needs it
//! to equal the hash length (as the CMS verifier does) checks [`Scheme::RsaPss`]'s `salt_len`.
//!
//! This module names algorithms; it does not verify signatures and has no cryptography. Mapping a
//! [`Hash`](enum@Hash) to a digest implementation (OpenSSL's) is the caller's.
//!
//! [RFC 4055 §3.1]: https://www.rfc-editor.org/rfc/rfc4055#section-3.1
//! [RFC 4055 §5]: https://www.rfc-editor.org/rfc/rfc4055#section-5
//! [RFC 5758 §3.2]: https://www.rfc-editor.org/rfc/rfc5758#section-3.2

use const_oid::ObjectIdentifier;
use der::asn1::{Any, AnyRef};
use der::{Decode, Encode};
use pkcs1::{RsaPssParamsOwned, RsaPssParamsRef};
use spki::{AlgorithmIdentifier, AlgorithmIdentifierRef};
use thiserror::Error;

/// rsaEncryption (RFC 8017 Appendix A.1): an RSA key, named as a CMS signatureAlgorithm by some
/// signers (RFC 3370 §3.2), the hash then being the SignerInfo's digestAlgorithm.
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480 §2.1.1): an EC key, named as a CMS signatureAlgorithm by some signers.
pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// id-RSASSA-PSS (RFC 4055 §3.1).
pub const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// id-mgf1 (RFC 4055 §2.2).
pub const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Signature algorithms refused as weak rather than unknown, whatever their parameters.
const WEAK_SIGNATURES: [(ObjectIdentifier, &str); 6] = [
    (
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.2"),
        "md2WithRSAEncryption",
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.4"),
        "md5WithRSAEncryption",
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
        "sha1WithRSAEncryption",
    ),
    (
        ObjectIdentifier::new_unwrap("1.3.14.3.2.29"),
        "sha1WithRSASignature",
    ),
    (
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
        "ecdsa-with-SHA1",
    ),
    (ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"), "dsa-with-sha1"),
];

/// Hash algorithms refused as weak (as a digestAlgorithm or inside RSASSA-PSS-params).
const WEAK_HASHES: [(ObjectIdentifier, &str); 3] = [
    (ObjectIdentifier::new_unwrap("1.3.14.3.2.26"), "SHA-1"),
    (ObjectIdentifier::new_unwrap("1.2.840.113549.2.5"), "MD5"),
    (ObjectIdentifier::new_unwrap("1.2.840.113549.2.2"), "MD2"),
];

/// The hash of an accepted signature algorithm: SHA-2 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hash {
    /// SHA-256 (`2.16.840.1.101.3.4.2.1`).
    Sha256,
    /// SHA-384 (`2.16.840.1.101.3.4.2.2`).
    Sha384,
    /// SHA-512 (`2.16.840.1.101.3.4.2.3`).
    Sha512,
}

impl Hash {
    /// Every accepted hash.
    pub const ALL: [Hash; 3] = [Hash::Sha256, Hash::Sha384, Hash::Sha512];

    /// The hash's object identifier (NIST, RFC 5754 §2).
    pub const fn oid(self) -> ObjectIdentifier {
        match self {
            Hash::Sha256 => SHA256,
            Hash::Sha384 => SHA384,
            Hash::Sha512 => SHA512,
        }
    }

    /// The digest length in octets.
    pub const fn digest_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// How an accepted signature is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    RsaPkcs1,
    /// RSASSA-PSS (RFC 8017 §8.1) with MGF1 over the same hash and trailer field 1.
    RsaPss {
        /// The salt length in octets, as the parameters state it (20 when they omit it).
        salt_len: u8,
    },
    /// ECDSA (RFC 5758 §3.2), DER `Ecdsa-Sig-Value`.
    Ecdsa,
}

/// An accepted signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Accepted {
    /// The scheme.
    pub scheme: Scheme,
    /// The hash the signature is computed over.
    pub hash: Hash,
}

/// Why an `AlgorithmIdentifier` is refused. Each variant has a stable machine code
/// ([`AlgorithmError::code`]).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// A known algorithm refused as weak: MD2, MD5 or SHA-1, or DSA.
    #[error("weak algorithm {name} ({oid})")]
    Weak {
        /// The algorithm's name (`sha1WithRSAEncryption`, `SHA-1` for a PSS hash, ...).
        name: &'static str,
        /// The weak OID: the signature algorithm, or the hash inside RSASSA-PSS-params.
        oid: ObjectIdentifier,
    },
    /// An algorithm this policy does not know.
    #[error("unknown algorithm {oid}")]
    Unknown {
        /// The unknown OID: the signature algorithm, or the hash inside RSASSA-PSS-params.
        oid: ObjectIdentifier,
    },
    /// The parameters are not what the algorithm's RFC defines (not NULL for PKCS#1 v1.5,
    /// present for ECDSA, absent or not an RSASSA-PSS-params for RSASSA-PSS, trailing bytes).
    #[error("malformed parameters for {oid}: {what}")]
    MalformedParameters {
        /// The signature algorithm.
        oid: ObjectIdentifier,
        /// What is wrong.
        what: &'static str,
    },
    /// Well-formed RSASSA-PSS parameters outside the policy (a mask generation function other
    /// than MGF1, an MGF1 hash that differs from the message hash).
    #[error("unsupported parameters for {oid}: {what}")]
    UnsupportedParameters {
        /// The signature algorithm.
        oid: ObjectIdentifier,
        /// What is refused.
        what: &'static str,
    },
    /// The `AlgorithmIdentifier` itself is not DER.
    #[error("malformed AlgorithmIdentifier: {detail}")]
    Malformed {
        /// The decoder's message.
        detail: String,
    },
}

impl AlgorithmError {
    /// The stable machine code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            AlgorithmError::Weak { .. } => "ALGORITHM_WEAK",
            AlgorithmError::Unknown { .. } => "ALGORITHM_UNKNOWN",
            AlgorithmError::MalformedParameters { .. } => "ALGORITHM_MALFORMED_PARAMETERS",
            AlgorithmError::UnsupportedParameters { .. } => "ALGORITHM_UNSUPPORTED_PARAMETERS",
            AlgorithmError::Malformed { .. } => "ALGORITHM_MALFORMED",
        }
    }

    /// Every machine code [`AlgorithmError::code`] can return.
    pub const CODES: [&'static str; 5] = [
        "ALGORITHM_WEAK",
        "ALGORITHM_UNKNOWN",
        "ALGORITHM_MALFORMED_PARAMETERS",
        "ALGORITHM_UNSUPPORTED_PARAMETERS",
        "ALGORITHM_MALFORMED",
    ];
}

/// What the table says about a signature algorithm OID before its parameters are looked at.
enum Entry {
    Pkcs1(Hash),
    Ecdsa(Hash),
    Pss,
}

const SIGNATURES: [(ObjectIdentifier, Entry); 7] = [
    (SHA256_WITH_RSA, Entry::Pkcs1(Hash::Sha256)),
    (SHA384_WITH_RSA, Entry::Pkcs1(Hash::Sha384)),
    (SHA512_WITH_RSA, Entry::Pkcs1(Hash::Sha512)),
    (ECDSA_WITH_SHA256, Entry::Ecdsa(Hash::Sha256)),
    (ECDSA_WITH_SHA384, Entry::Ecdsa(Hash::Sha384)),
    (ECDSA_WITH_SHA512, Entry::Ecdsa(Hash::Sha512)),
    (RSASSA_PSS, Entry::Pss),
];

/// Classifies a hash (digest) algorithm OID: SHA-2 is accepted, SHA-1, MD5 and MD2 are weak,
/// anything else is unknown.
pub fn digest(oid: &ObjectIdentifier) -> Result<Hash, AlgorithmError> {
    if let Some(h) = Hash::ALL.into_iter().find(|h| h.oid() == *oid) {
        return Ok(h);
    }
    match WEAK_HASHES.iter().find(|(w, _)| w == oid) {
        Some((_, name)) => Err(AlgorithmError::Weak { name, oid: *oid }),
        None => Err(AlgorithmError::Unknown { oid: *oid }),
    }
}

/// Classifies a DER `AlgorithmIdentifier` (the whole SEQUENCE, nothing after it).
pub fn classify_der(der: &[u8]) -> Result<Accepted, AlgorithmError> {
    let alg = AlgorithmIdentifierRef::from_der(der).map_err(|e| AlgorithmError::Malformed {
        detail: e.to_string(),
    })?;
    classify_identifier(&alg)
}

/// Classifies a decoded `AlgorithmIdentifier`.
pub fn classify_identifier(alg: &AlgorithmIdentifierRef<'_>) -> Result<Accepted, AlgorithmError> {
    classify_any(&alg.oid, alg.parameters)
}

/// Classifies a signature algorithm given its OID and its parameters' whole TLV (`None` when
/// absent). Bytes after the parameters' TLV make the parameters malformed.
pub fn classify(oid: &ObjectIdentifier, parameters: Option<&[u8]>) -> Result<Accepted, AlgorithmError> {
    let parameters = match parameters {
        None => None,
        Some(tlv) => Some(
            AnyRef::from_der(tlv).map_err(|_| AlgorithmError::MalformedParameters {
                oid: *oid,
                what: "the parameters are not one DER value",
            })?,
        ),
    };
    classify_any(oid, parameters)
}

fn classify_any(oid: &ObjectIdentifier, parameters: Option<AnyRef<'_>>) -> Result<Accepted, AlgorithmError> {
    if let Some((_, name)) = WEAK_SIGNATURES.iter().find(|(w, _)| w == oid) {
        return Err(AlgorithmError::Weak { name, oid: *oid });
    }
    let Some((_, entry)) = SIGNATURES.iter().find(|(s, _)| s == oid) else {
        return Err(AlgorithmError::Unknown { oid: *oid });
    };
    let malformed = |what| AlgorithmError::MalformedParameters { oid: *oid, what };
    match *entry {
        Entry::Pkcs1(hash) => {
            if !null_or_absent(parameters) {
                return Err(malformed("PKCS#1 v1.5 parameters must be NULL or absent"));
            }
            Ok(Accepted {
                scheme: Scheme::RsaPkcs1,
                hash,
            })
        }
        Entry::Ecdsa(hash) => {
            if parameters.is_some() {
                return Err(malformed("ECDSA parameters must be absent"));
            }
            Ok(Accepted {
                scheme: Scheme::Ecdsa,
                hash,
            })
        }
        Entry::Pss => {
            let parameters = parameters.ok_or_else(|| malformed("RSASSA-PSS parameters are absent"))?;
            // The borrowed `RsaPssParamsRef` decodes only from `'static` bytes in pkcs1 0.8.
            let params: RsaPssParamsOwned = parameters
                .decode_as()
                .map_err(|_| malformed("the parameters are not an RSASSA-PSS-params"))?;
            pss(oid, &params)
        }
    }
}

fn null_or_absent(parameters: Option<AnyRef<'_>>) -> bool {
    parameters.is_none_or(|p| p.is_null())
}

/// Judges decoded RSASSA-PSS parameters.
///
/// ```asn1
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm    DEFAULT sha1,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
///     saltLength         [2] INTEGER          DEFAULT 20,
///     trailerField       [3] TrailerField     DEFAULT trailerFieldBC }
/// ```
///
/// The SHA-1 defaults are weak, so `hashAlgorithm` and `maskGenAlgorithm` must be present and
/// name the same SHA-2 hash, each with NULL or absent parameters. `trailerField` other than 1 is
/// refused by the decoder.
fn pss(oid: &ObjectIdentifier, params: &RsaPssParamsOwned) -> Result<Accepted, AlgorithmError> {
    let malformed = |what| AlgorithmError::MalformedParameters { oid: *oid, what };
    if !null_or_absent(params.hash.parameters.as_ref().map(Any::to_ref)) {
        return Err(malformed("hashAlgorithm parameters must be NULL or absent"));
    }
    let hash = digest(&params.hash.oid)?;
    if params.mask_gen.oid != MGF1 {
        return Err(AlgorithmError::UnsupportedParameters {
            oid: *oid,
            what: "maskGenAlgorithm is not MGF1",
        });
    }
    let mgf_hash = params
        .mask_gen
        .parameters
        .as_ref()
        .ok_or_else(|| malformed("MGF1 without a hash"))?;
    if !null_or_absent(mgf_hash.parameters.as_ref().map(Any::to_ref)) {
        return Err(malformed("MGF1 hash parameters must be NULL or absent"));
    }
    if digest(&mgf_hash.oid)? != hash {
        return Err(AlgorithmError::UnsupportedParameters {
            oid: *oid,
            what: "the MGF1 hash differs from hashAlgorithm",
        });
    }
    Ok(Accepted {
        scheme: Scheme::RsaPss {
            salt_len: params.salt_len,
        },
        hash,
    })
}

/// The DER RSASSA-PSS-params this policy accepts for `hash` and `salt_len`: `hashAlgorithm` and
/// MGF1 over `hash` with absent parameters (RFC 5754 §2), default fields omitted.
pub fn pss_parameters(hash: Hash, salt_len: u8) -> der::Result<Vec<u8>> {
    let hash = AlgorithmIdentifierRef {
        oid: hash.oid(),
        parameters: None,
    };
    let params = RsaPssParamsRef {
        hash,
        mask_gen: AlgorithmIdentifier {
            oid: MGF1,
            parameters: Some(hash),
        },
        salt_len,
        trailer_field: pkcs1::TrailerField::BC,
    };
    params.to_der()
}

#[cfg(test)]
mod tests;
