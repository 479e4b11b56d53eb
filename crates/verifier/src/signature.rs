//! Raw signature verification: RSASSA-PKCS1-v1_5 and RSASSA-PSS over data or a supplied digest
//! (SHA-256/384/512), ECDSA P-384. SHA-1 and MD5 are refused (`CRYPTO_CONSTRAINTS_FAILURE`).

use jpki::algorithm::Hash;
use openssl::hash::MessageDigest;
use openssl::md::{Md, MdRef};
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::rsa::Rsa;
use openssl::sign::RsaPssSaltlen;
use serde::Serialize;

use crate::error::Failure;
use crate::report::ReasonCode;

/// A hash algorithm named by a caller. SHA-1 and MD5 exist only to be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// MD5 (refused).
    Md5,
    /// SHA-1 (refused).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl From<Hash> for HashAlg {
    fn from(hash: Hash) -> HashAlg {
        match hash {
            Hash::Sha256 => HashAlg::Sha256,
            Hash::Sha384 => HashAlg::Sha384,
            Hash::Sha512 => HashAlg::Sha512,
        }
    }
}

impl HashAlg {
    /// Parses `sha256`, `SHA-256`, ...
    pub fn from_name(name: &str) -> Option<HashAlg> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => Some(HashAlg::Md5),
            "sha1" => Some(HashAlg::Sha1),
            "sha256" => Some(HashAlg::Sha256),
            "sha384" => Some(HashAlg::Sha384),
            "sha512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Md5 => 16,
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The OpenSSL digest, or `CRYPTO_CONSTRAINTS_FAILURE` for SHA-1 and MD5.
    pub(crate) fn allowed(self) -> Result<(MessageDigest, &'static MdRef), Failure> {
        match self {
            HashAlg::Sha256 => Ok((MessageDigest::sha256(), Md::sha256())),
            HashAlg::Sha384 => Ok((MessageDigest::sha384(), Md::sha384())),
            HashAlg::Sha512 => Ok((MessageDigest::sha512(), Md::sha512())),
            HashAlg::Md5 | HashAlg::Sha1 => Err(Failure::new(
                ReasonCode::CryptoConstraintsFailure,
                format!("{self:?} is refused for signatures (CRYPTREC)"),
            )),
        }
    }

    /// Hashes `data`.
    pub(crate) fn digest(self, data: &[u8]) -> Result<Vec<u8>, Failure> {
        self.allowed()?;
        // The low-level functions: no per-call algorithm fetch as with EVP in OpenSSL 3.
        Ok(match self {
            HashAlg::Sha384 => openssl::sha::sha384(data).to_vec(),
            HashAlg::Sha512 => openssl::sha::sha512(data).to_vec(),
            _ => crate::cert_checks::sha256(data).to_vec(),
        })
    }
}

/// What was signed.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// The data; hashed with `hash`, or the scheme's default (SHA-256 for RSA, SHA-384 for ECDSA).
    Data {
        /// The signed bytes.
        bytes: &'a [u8],
        /// The hash the signer used, when not the default.
        hash: Option<HashAlg>,
    },
    /// A digest the host computed.
    Digest {
        /// Its algorithm.
        hash: HashAlg,
        /// The digest bytes.
        bytes: &'a [u8],
    },
}

/// The signature scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5.
    Pkcs1,
    /// RSASSA-PSS, MGF1 with the same hash, salt length = hash length.
    Pss,
    /// ECDSA (P-384), DER Ecdsa-Sig-Value.
    Ecdsa,
    /// PKCS#1 v1.5 for RSA keys, ECDSA for EC keys.
    #[default]
    Auto,
}

/// A supported public key (RSA >= 2048 bits or ECDSA P-384), prepared once per certificate:
/// OpenSSL 3 makes the RSA view of a key (`EVP_PKEY_get1_RSA`) costly, so it is taken here.
#[derive(Debug)]
pub(crate) struct VerifyKey {
    pkey: PKey<Public>,
    rsa: Option<Rsa<Public>>,
}

impl VerifyKey {
    /// Checks `pkey` is supported; `Err` carries the reason.
    pub fn new(pkey: PKey<Public>) -> Result<VerifyKey, String> {
        crate::trust::supported_key(&pkey)?;
        let rsa = if pkey.id() == Id::EC {
            None
        } else {
            Some(pkey.rsa().map_err(|_| {
                crate::cert_checks::clear_openssl_errors();
                "RSA key unusable".to_owned()
            })?)
        };
        Ok(VerifyKey { pkey, rsa })
    }

    fn is_ec(&self) -> bool {
        self.rsa.is_none()
    }
}

/// Verifies `signature` over `payload` with `key`.
pub(crate) fn verify_raw(
    key: &VerifyKey,
    payload: &Payload<'_>,
    signature: &[u8],
    scheme: Scheme,
) -> Result<(), Failure> {
    let is_ec = key.is_ec();
    let scheme = match (scheme, is_ec) {
        (Scheme::Auto, false) => Scheme::Pkcs1,
        (Scheme::Auto, true) => Scheme::Ecdsa,
        (Scheme::Pkcs1 | Scheme::Pss, false) | (Scheme::Ecdsa, true) => scheme,
        _ => {
            return Err(Failure::new(
                ReasonCode::UnsupportedAlgorithm,
                format!("scheme {scheme:?} does not fit the certificate's key"),
            ));
        }
    };
    let (hash, digest) = match *payload {
        Payload::Data { bytes, hash } => {
            let h = hash.unwrap_or(if is_ec { HashAlg::Sha384 } else { HashAlg::Sha256 });
            (h, h.digest(bytes)?)
        }
        Payload::Digest { hash, bytes } => {
            hash.allowed()?;
            if bytes.len() != hash.digest_len() {
                return Err(Failure::malformed(format!(
                    "a {hash:?} digest is {} bytes, got {}",
                    hash.digest_len(),
                    bytes.len()
                )));
            }
            (hash, bytes.to_vec())
        }
    };
    let (_, md) = hash.allowed()?;
    if let (Scheme::Pkcs1, Some(rsa)) = (scheme, &key.rsa) {
        return verify_pkcs1(rsa, hash, &digest, signature);
    }
    let crypto = |_: openssl::error::ErrorStack| {
        crate::cert_checks::clear_openssl_errors();
        Failure::new(
            ReasonCode::SigCryptoFailure,
            "signature does not verify with the certificate's key",
        )
    };
    let mut ctx = PkeyCtx::new(&key.pkey).map_err(crypto)?;
    ctx.verify_init().map_err(crypto)?;
    if scheme == Scheme::Pss {
        ctx.set_rsa_padding(Padding::PKCS1_PSS).map_err(crypto)?;
        ctx.set_signature_md(md).map_err(crypto)?;
        ctx.set_rsa_mgf1_md(md).map_err(crypto)?;
        ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(crypto)?;
    }
    match ctx.verify(&digest, signature) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => {
            crate::cert_checks::clear_openssl_errors();
            Err(Failure::new(
                ReasonCode::SigCryptoFailure,
                "signature does not verify with the certificate's key",
            ))
        }
    }
}

/// RSASSA-PKCS1-v1_5 by encoding and comparing (RFC 8017 §8.2.2): the public-key operation with
/// the padding checked by OpenSSL recovers the DigestInfo, which must equal the expected one
/// byte for byte. The recovered DigestInfo also tells a SHA-1 or MD5 signer apart.
fn verify_pkcs1(rsa: &Rsa<Public>, hash: HashAlg, digest: &[u8], signature: &[u8]) -> Result<(), Failure> {
    let recovered = recover_digest_info(rsa, signature);
    let expected = DIGEST_INFO_PREFIXES
        .iter()
        .find(|(h, _)| *h == hash)
        .map(|(_, p)| [*p, digest].concat());
    match (&recovered, expected) {
        (Some(r), Some(e)) if *r == e => Ok(()),
        _ => Err(explain_pkcs1_failure(recovered.as_deref(), hash)),
    }
}

/// The payload of a PKCS#1 v1.5 type-1 block, or `None` when the signature is not one.
fn recover_digest_info(rsa: &Rsa<Public>, signature: &[u8]) -> Option<Vec<u8>> {
    let size = usize::try_from(rsa.size()).ok()?;
    if signature.len() != size {
        return None;
    }
    let mut out = vec![0u8; size];
    match rsa.public_decrypt(signature, &mut out, Padding::PKCS1) {
        Ok(n) => {
            out.truncate(n);
            Some(out)
        }
        Err(_) => {
            crate::cert_checks::clear_openssl_errors();
            None
        }
    }
}

/// DigestInfo prefixes (RFC 8017 §9.2 note 1), each followed by the digest.
const DIGEST_INFO_PREFIXES: [(HashAlg, &[u8]); 5] = [
    (
        HashAlg::Md5,
        &[
            0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00,
            0x04, 0x10,
        ],
    ),
    (
        HashAlg::Sha1,
        &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
        ],
    ),
    (
        HashAlg::Sha256,
        &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00, 0x04, 0x20,
        ],
    ),
    (
        HashAlg::Sha384,
        &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
            0x00, 0x04, 0x30,
        ],
    ),
    (
        HashAlg::Sha512,
        &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
            0x00, 0x04, 0x40,
        ],
    ),
];

/// Why a PKCS#1 v1.5 signature failed, when the recovered DigestInfo tells: a signer that used
/// SHA-1 or MD5 gets its own reason (`CRYPTO_CONSTRAINTS_FAILURE`), and a hash other than the
/// one claimed is named. Anything else is `SIG_CRYPTO_FAILURE`.
fn explain_pkcs1_failure(recovered: Option<&[u8]>, claimed: HashAlg) -> Failure {
    let used = recovered.and_then(|info| {
        DIGEST_INFO_PREFIXES
            .iter()
            .find(|(h, p)| info.starts_with(p) && info.len() == p.len() + h.digest_len())
            .map(|(h, _)| *h)
    });
    match used {
        Some(h @ (HashAlg::Sha1 | HashAlg::Md5)) => Failure::new(
            ReasonCode::CryptoConstraintsFailure,
            format!("the signer used {h:?}, which is refused for signatures (CRYPTREC)"),
        ),
        Some(h) if h != claimed => Failure::new(
            ReasonCode::SigCryptoFailure,
            format!("signature does not verify: the signer used {h:?}, not {claimed:?}"),
        ),
        _ => Failure::new(
            ReasonCode::SigCryptoFailure,
            "signature does not verify with the certificate's key",
        ),
    }
}
