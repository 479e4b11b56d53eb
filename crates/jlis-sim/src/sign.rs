//! Signing as a card does: PKCS#1 v1.5 over the DigestInfo of a host-chosen hash, RSASSA-PSS,
//! ECDSA P-384 for next-generation keys, a login challenge with the user-authentication key, and
//! CMS SignedData (attached or detached) as desktop tools produce it.
//!
//! SHA-1 is allowed here on purpose: the verifier must refuse it.

use jpki::CertKind;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::RsaPssSaltlen;

use crate::error::{Result, SimError};
use crate::keys::{KeyAlgorithm, SigningKey};
use crate::store::{Simulator, load_cert, load_key};

/// The hash the host chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HashAlg {
    /// SHA-1 (to test refusal).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// The OpenSSL digest.
    pub fn md(self) -> MessageDigest {
        match self {
            HashAlg::Sha1 => MessageDigest::sha1(),
            HashAlg::Sha256 => MessageDigest::sha256(),
            HashAlg::Sha384 => MessageDigest::sha384(),
            HashAlg::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// CMS packaging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CmsMode {
    /// Content inside the SignedData.
    Attached,
    /// Content outside.
    Detached,
}

/// What is signed.
#[derive(Clone, Debug)]
pub enum SignInput {
    /// The data; the simulator hashes it.
    Data(Vec<u8>),
    /// A digest computed by the host.
    Digest(Vec<u8>),
}

/// A signing request.
#[derive(Clone, Debug)]
pub struct SignRequest {
    /// Holder id.
    pub holder: String,
    /// Which of the holder's current keys.
    pub key: CertKind,
    /// Data or digest.
    pub input: SignInput,
    /// Hash; defaults to SHA-256 (RSA) or SHA-384 (P-384).
    pub hash: Option<HashAlg>,
    /// RSASSA-PSS (salt = hash length, MGF1 with the same hash) instead of PKCS#1 v1.5.
    pub pss: bool,
    /// CMS SignedData instead of a raw signature (needs data).
    pub cms: Option<CmsMode>,
}

impl Simulator {
    /// Signs with a holder's current signing or user-authentication key. Returns the raw signature
    /// (RSA octets or DER ECDSA-Sig-Value) or the DER CMS ContentInfo.
    pub fn sign(&self, req: &SignRequest) -> Result<Vec<u8>> {
        let holder = self.holder(&req.holder).ok_or_else(|| SimError::NotFound {
            what: "holder",
            id: req.holder.clone(),
        })?;
        let serial = match req.key {
            CertKind::Signing => holder.sign_serial,
            CertKind::UserAuthentication => holder.auth_serial,
        };
        let rec = self
            .certificate_by_serial(&serial)
            .ok_or_else(|| SimError::NotFound {
                what: "certificate",
                id: serial.to_hex(),
            })?;
        let key = SigningKey::new(load_key(&self.path(&rec.key_path))?)?;
        let hash = req.hash.unwrap_or(match key.algorithm() {
            KeyAlgorithm::Rsa2048 => HashAlg::Sha256,
            KeyAlgorithm::EcdsaP384 => HashAlg::Sha384,
        });
        if req.pss && key.algorithm() != KeyAlgorithm::Rsa2048 {
            return Err(SimError::arg(
                "pss",
                "PSS needs an RSA key; this holder has P-384 keys",
            ));
        }
        if let Some(mode) = req.cms {
            let SignInput::Data(data) = &req.input else {
                return Err(SimError::arg("cms", "CMS needs --data, not --digest"));
            };
            if req.pss || req.hash.is_some_and(|h| h != HashAlg::Sha256) {
                return Err(SimError::arg(
                    "cms",
                    "CMS output uses PKCS#1 v1.5 (or ECDSA) with SHA-256",
                ));
            }
            let cert = load_cert(&self.path(&rec.cert_path))?;
            let mut flags = CMSOptions::BINARY | CMSOptions::NOSMIMECAP;
            if mode == CmsMode::Detached {
                flags |= CMSOptions::DETACHED;
            }
            let cms = CmsContentInfo::sign(Some(&cert), Some(key.pkey()), None, Some(data), flags)
                .map_err(SimError::ssl("CMS sign"))?;
            return cms.to_der().map_err(SimError::ssl("CMS DER"));
        }
        let md = hash.md();
        let digest = match &req.input {
            SignInput::Data(d) => openssl::hash::hash(md, d)
                .map_err(SimError::ssl("hash"))?
                .to_vec(),
            SignInput::Digest(d) => {
                if d.len() != md.size() {
                    return Err(SimError::arg(
                        "digest",
                        format!(
                            "{} octets, but {:?} digests are {} octets",
                            d.len(),
                            hash,
                            md.size()
                        ),
                    ));
                }
                d.clone()
            }
        };
        if req.pss {
            let s = SimError::ssl;
            let md_ref =
                openssl::md::Md::from_nid(md.type_()).ok_or_else(|| SimError::arg("hash", "unsupported"))?;
            let mut ctx = PkeyCtx::new(key.pkey()).map_err(s("pkey ctx"))?;
            ctx.sign_init().map_err(s("sign init"))?;
            ctx.set_rsa_padding(Padding::PKCS1_PSS).map_err(s("padding"))?;
            ctx.set_signature_md(md_ref).map_err(s("signature md"))?;
            ctx.set_rsa_mgf1_md(md_ref).map_err(s("mgf1 md"))?;
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .map_err(s("salt length"))?;
            let mut sig = Vec::new();
            ctx.sign_to_vec(&digest, &mut sig).map_err(s("PSS sign"))?;
            return Ok(sig);
        }
        key.sign_digest(md, &digest)
    }
}

/// Shorthands for the signing forms other crates' tests need; each is [`Simulator::sign`] with
/// one request shape.
impl Simulator {
    /// PKCS#1 v1.5 (RSA) or ECDSA (P-384) over `hash(data)` with the holder's current signing key.
    pub fn sign_data(&self, holder: &str, data: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        self.sign(&SignRequest {
            holder: holder.to_owned(),
            key: CertKind::Signing,
            input: SignInput::Data(data.to_vec()),
            hash: Some(hash),
            pss: false,
            cms: None,
        })
    }

    /// Like [`Simulator::sign_data`] over a digest the host computed.
    pub fn sign_digest(&self, holder: &str, digest: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        self.sign(&SignRequest {
            holder: holder.to_owned(),
            key: CertKind::Signing,
            input: SignInput::Digest(digest.to_vec()),
            hash: Some(hash),
            pss: false,
            cms: None,
        })
    }

    /// RSASSA-PSS (MGF1 with the same hash, salt = hash length) over `hash(data)` with the
    /// holder's signing key; RSA holders only.
    pub fn sign_pss(&self, holder: &str, data: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        self.sign(&SignRequest {
            holder: holder.to_owned(),
            key: CertKind::Signing,
            input: SignInput::Data(data.to_vec()),
            hash: Some(hash),
            pss: true,
            cms: None,
        })
    }

    /// A login: the challenge signed with the user-authentication key (PKCS#1 v1.5 with SHA-256,
    /// or ECDSA with SHA-384 on next-generation keys).
    pub fn sign_challenge(&self, holder: &str, challenge: &[u8]) -> Result<Vec<u8>> {
        self.sign(&SignRequest {
            holder: holder.to_owned(),
            key: CertKind::UserAuthentication,
            input: SignInput::Data(challenge.to_vec()),
            hash: None,
            pss: false,
            cms: None,
        })
    }

    /// DER CMS SignedData over `data` with the signing key, signer certificate included, signed
    /// attributes contentType, messageDigest and signingTime; `Detached` leaves the content out.
    pub fn sign_cms(&self, holder: &str, data: &[u8], mode: CmsMode) -> Result<Vec<u8>> {
        self.sign(&SignRequest {
            holder: holder.to_owned(),
            key: CertKind::Signing,
            input: SignInput::Data(data.to_vec()),
            hash: None,
            pss: false,
            cms: Some(mode),
        })
    }

    /// The DER of the holder's current signing or user-authentication certificate.
    pub fn holder_certificate_der(&self, holder: &str, key: CertKind) -> Result<Vec<u8>> {
        let h = self.holder(holder).ok_or_else(|| SimError::NotFound {
            what: "holder",
            id: holder.to_owned(),
        })?;
        self.certificate_der(&match key {
            CertKind::Signing => h.sign_serial,
            CertKind::UserAuthentication => h.auth_serial,
        })
    }
}
