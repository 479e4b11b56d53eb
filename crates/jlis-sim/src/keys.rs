//! Deterministic key generation and the signing keys of the simulator.
//!
//! RSA-2048 keys (e = 65537) are built from two 1024-bit primes found by a sieve plus OpenSSL's
//! Miller–Rabin test on candidates drawn from a [`Drbg`]; ECDSA P-384 keys take their scalar from
//! the same stream. Together with RSA PKCS#1 v1.5 and RFC 6979 ECDSA (`crate::ecdsa`) this makes
//! every certificate and CRL byte reproducible from the seed. **These are test keys**: anyone who
//! knows the seed knows them.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};

use crate::asn1;
use crate::drbg::Drbg;
use crate::ecdsa;
use crate::error::{Result, SimError};

/// Key algorithm of a CA or a card key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// RSA-2048, e = 65537; certificates signed sha256WithRSAEncryption.
    Rsa2048,
    /// ECDSA on P-384; certificates signed ecdsa-with-SHA384.
    EcdsaP384,
}

const SIEVE_LIMIT: u32 = 1 << 14;
const SIEVE_WINDOW: u32 = 1 << 16;

fn small_primes() -> Vec<u32> {
    let n = SIEVE_LIMIT as usize;
    let mut composite = vec![false; n];
    let mut out = Vec::new();
    for i in 3..n {
        if composite.get(i).copied().unwrap_or(true) {
            continue;
        }
        if i % 2 == 1 {
            out.push(i as u32);
        }
        let mut j = i * i;
        while j < n {
            if let Some(c) = composite.get_mut(j) {
                *c = true;
            }
            j += i;
        }
    }
    out
}

/// A probable prime of exactly `bytes * 8` bits with its top two bits set and `p mod e != 1`.
fn prime(drbg: &mut Drbg, bytes: usize, e: u32, primes: &[u32], ctx: &mut BigNumContext) -> Result<BigNum> {
    loop {
        let mut raw = drbg.bytes(bytes)?;
        if let Some(b) = raw.first_mut() {
            *b |= 0xC0;
        }
        if let Some(b) = raw.last_mut() {
            *b |= 1;
        }
        let base = BigNum::from_slice(&raw).map_err(SimError::ssl("bignum"))?;
        let residues = primes
            .iter()
            .map(|p| base.mod_word(*p).map(|r| r as u32))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(SimError::ssl("mod_word"))?;
        let base_mod_e = base.mod_word(e).map_err(SimError::ssl("mod_word"))? as u32;
        let mut delta = 0u32;
        while delta < SIEVE_WINDOW {
            let survives = primes
                .iter()
                .zip(&residues)
                .all(|(p, r)| !(r + delta % p).is_multiple_of(*p));
            if survives && (base_mod_e + delta % e) % e != 1 {
                let mut cand = BigNum::from_slice(&raw).map_err(SimError::ssl("bignum"))?;
                cand.add_word(delta).map_err(SimError::ssl("add_word"))?;
                if cand.num_bits() == (bytes * 8) as i32
                    && cand.is_prime(64, ctx).map_err(SimError::ssl("is_prime"))?
                {
                    return Ok(cand);
                }
            }
            delta += 2;
        }
    }
}

/// A deterministic RSA-2048 key (e = 65537) from the stream.
pub fn rsa_2048(drbg: &mut Drbg) -> Result<PKey<Private>> {
    let primes = small_primes();
    let mut ctx = BigNumContext::new().map_err(SimError::ssl("bn ctx"))?;
    let s = SimError::ssl;
    loop {
        let p = prime(drbg, 128, 65_537, &primes, &mut ctx)?;
        let q = prime(drbg, 128, 65_537, &primes, &mut ctx)?;
        if p == q {
            continue;
        }
        let (p, q) = if p > q { (p, q) } else { (q, p) };
        let mut n = BigNum::new().map_err(s("bn"))?;
        n.checked_mul(&p, &q, &mut ctx).map_err(s("mul"))?;
        if n.num_bits() != 2048 {
            continue;
        }
        let one = BigNum::from_u32(1).map_err(s("bn"))?;
        let e = BigNum::from_u32(65_537).map_err(s("bn"))?;
        let mut p1 = BigNum::new().map_err(s("bn"))?;
        p1.checked_sub(&p, &one).map_err(s("sub"))?;
        let mut q1 = BigNum::new().map_err(s("bn"))?;
        q1.checked_sub(&q, &one).map_err(s("sub"))?;
        let mut g = BigNum::new().map_err(s("bn"))?;
        g.gcd(&p1, &q1, &mut ctx).map_err(s("gcd"))?;
        let mut phi = BigNum::new().map_err(s("bn"))?;
        phi.checked_mul(&p1, &q1, &mut ctx).map_err(s("mul"))?;
        let mut lcm = BigNum::new().map_err(s("bn"))?;
        lcm.checked_div(&phi, &g, &mut ctx).map_err(s("div"))?;
        let mut d = BigNum::new().map_err(s("bn"))?;
        d.mod_inverse(&e, &lcm, &mut ctx).map_err(s("mod_inverse"))?;
        let mut dmp1 = BigNum::new().map_err(s("bn"))?;
        dmp1.nnmod(&d, &p1, &mut ctx).map_err(s("mod"))?;
        let mut dmq1 = BigNum::new().map_err(s("bn"))?;
        dmq1.nnmod(&d, &q1, &mut ctx).map_err(s("mod"))?;
        let mut iqmp = BigNum::new().map_err(s("bn"))?;
        iqmp.mod_inverse(&q, &p, &mut ctx).map_err(s("mod_inverse"))?;
        let rsa = Rsa::from_private_components(n, e, d, p, q, dmp1, dmq1, iqmp)
            .map_err(s("rsa from components"))?;
        if !rsa.check_key().map_err(s("rsa check"))? {
            continue;
        }
        return PKey::from_rsa(rsa).map_err(s("pkey"));
    }
}

/// The P-384 group.
pub(crate) fn p384() -> Result<EcGroup> {
    EcGroup::from_curve_name(Nid::SECP384R1).map_err(SimError::ssl("P-384 group"))
}

/// A deterministic ECDSA P-384 key from the stream.
pub fn ecdsa_p384(drbg: &mut Drbg) -> Result<PKey<Private>> {
    let s = SimError::ssl;
    let group = p384()?;
    let mut ctx = BigNumContext::new().map_err(s("bn ctx"))?;
    let mut order = BigNum::new().map_err(s("bn"))?;
    group.order(&mut order, &mut ctx).map_err(s("order"))?;
    let one = BigNum::from_u32(1).map_err(s("bn"))?;
    let mut order1 = BigNum::new().map_err(s("bn"))?;
    order1.checked_sub(&order, &one).map_err(s("sub"))?;
    let raw = BigNum::from_slice(&drbg.bytes(64)?).map_err(s("bn"))?;
    let mut d = BigNum::new().map_err(s("bn"))?;
    d.nnmod(&raw, &order1, &mut ctx).map_err(s("mod"))?;
    d.add_word(1).map_err(s("add"))?;
    let mut point = EcPoint::new(&group).map_err(s("point"))?;
    point
        .mul_generator2(&group, &d, &mut ctx)
        .map_err(s("mul_generator"))?;
    let key = EcKey::from_private_components(&group, &d, &point).map_err(s("ec key"))?;
    key.check_key().map_err(s("ec check"))?;
    PKey::from_ec_key(key).map_err(s("pkey"))
}

/// A deterministic key of the given algorithm.
pub fn generate(alg: KeyAlgorithm, drbg: &mut Drbg) -> Result<PKey<Private>> {
    match alg {
        KeyAlgorithm::Rsa2048 => rsa_2048(drbg),
        KeyAlgorithm::EcdsaP384 => ecdsa_p384(drbg),
    }
}

/// A private key that signs certificates, CRLs and card operations reproducibly.
#[derive(Clone)]
pub struct SigningKey {
    pkey: PKey<Private>,
    alg: KeyAlgorithm,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Wraps an RSA or P-384 key.
    pub fn new(pkey: PKey<Private>) -> Result<SigningKey> {
        let alg = match pkey.id() {
            Id::RSA => KeyAlgorithm::Rsa2048,
            Id::EC => KeyAlgorithm::EcdsaP384,
            other => {
                return Err(SimError::arg("key", format!("unsupported key type {other:?}")));
            }
        };
        Ok(SigningKey { pkey, alg })
    }

    /// Loads a PEM private key.
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey> {
        SigningKey::new(PKey::private_key_from_pem(pem).map_err(SimError::ssl("read key PEM"))?)
    }

    /// The OpenSSL key.
    pub fn pkey(&self) -> &PKey<Private> {
        &self.pkey
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    /// PKCS#8 PEM of the private key.
    pub fn to_pem(&self) -> Result<Vec<u8>> {
        self.pkey
            .private_key_to_pem_pkcs8()
            .map_err(SimError::ssl("write key PEM"))
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        self.pkey.public_key_to_der().map_err(SimError::ssl("SPKI"))
    }

    /// The subjectPublicKey BIT STRING content (without the unused-bits octet).
    pub fn public_key_bits(&self) -> Result<Vec<u8>> {
        match self.alg {
            KeyAlgorithm::Rsa2048 => self
                .pkey
                .rsa()
                .and_then(|r| r.public_key_to_der_pkcs1())
                .map_err(SimError::ssl("RSA public key")),
            KeyAlgorithm::EcdsaP384 => {
                let ec = self.pkey.ec_key().map_err(SimError::ssl("EC key"))?;
                let mut ctx = BigNumContext::new().map_err(SimError::ssl("bn ctx"))?;
                ec.public_key()
                    .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
                    .map_err(SimError::ssl("EC point"))
            }
        }
    }

    /// Key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), which is
    /// also the OCSP issuerKeyHash.
    pub fn key_id(&self) -> Result<Vec<u8>> {
        let bits = self.public_key_bits()?;
        Ok(openssl::sha::sha1(&bits).to_vec())
    }

    /// The digest this key signs certificates and CRLs with.
    pub fn cert_digest(&self) -> MessageDigest {
        match self.alg {
            KeyAlgorithm::Rsa2048 => MessageDigest::sha256(),
            KeyAlgorithm::EcdsaP384 => MessageDigest::sha384(),
        }
    }

    /// DER AlgorithmIdentifier of the certificate/CRL signature.
    pub fn signature_algorithm_der(&self) -> Result<Vec<u8>> {
        Ok(match self.alg {
            KeyAlgorithm::Rsa2048 => asn1::seq(&[&asn1::oid_str("1.2.840.113549.1.1.11")?, &asn1::null()]),
            KeyAlgorithm::EcdsaP384 => asn1::seq(&[&asn1::oid_str("1.2.840.10045.4.3.3")?]),
        })
    }

    /// Signs a message with [`SigningKey::cert_digest`]: sha256WithRSAEncryption or
    /// ecdsa-with-SHA384 (RFC 6979, DER ECDSA-Sig-Value).
    pub fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        let md = self.cert_digest();
        let digest = openssl::hash::hash(md, message).map_err(SimError::ssl("hash"))?;
        self.sign_digest(md, &digest)
    }

    /// Signs a precomputed digest: PKCS#1 v1.5 over its DigestInfo for RSA, RFC 6979 ECDSA for
    /// P-384 (the nonce derived with HMAC over `md`).
    pub fn sign_digest(&self, md: MessageDigest, digest: &[u8]) -> Result<Vec<u8>> {
        match self.alg {
            KeyAlgorithm::Rsa2048 => {
                let s = SimError::ssl;
                let mut ctx = PkeyCtx::new(&self.pkey).map_err(s("pkey ctx"))?;
                ctx.sign_init().map_err(s("sign init"))?;
                ctx.set_rsa_padding(Padding::PKCS1).map_err(s("padding"))?;
                let md_ref = openssl::md::Md::from_nid(md.type_())
                    .ok_or_else(|| SimError::arg("hash", "unsupported digest"))?;
                ctx.set_signature_md(md_ref).map_err(s("signature md"))?;
                let mut sig = Vec::new();
                ctx.sign_to_vec(digest, &mut sig).map_err(s("RSA sign"))?;
                Ok(sig)
            }
            KeyAlgorithm::EcdsaP384 => {
                let ec = self.pkey.ec_key().map_err(SimError::ssl("EC key"))?;
                ecdsa::sign_rfc6979(&ec, md, digest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_keygen_is_deterministic() {
        let a = rsa_2048(&mut Drbg::new("t", "k").unwrap()).unwrap();
        let b = rsa_2048(&mut Drbg::new("t", "k").unwrap()).unwrap();
        assert_eq!(
            a.private_key_to_pem_pkcs8().unwrap(),
            b.private_key_to_pem_pkcs8().unwrap()
        );
        assert_eq!(a.bits(), 2048);
        let k = SigningKey::new(a).unwrap();
        let sig = k.sign_message(b"hello").unwrap();
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), k.pkey()).unwrap();
        v.update(b"hello").unwrap();
        assert!(v.verify(&sig).unwrap());
    }

    #[test]
    fn ec_keygen_is_deterministic() {
        let a = ecdsa_p384(&mut Drbg::new("t", "e").unwrap()).unwrap();
        let b = ecdsa_p384(&mut Drbg::new("t", "e").unwrap()).unwrap();
        assert_eq!(
            a.private_key_to_pem_pkcs8().unwrap(),
            b.private_key_to_pem_pkcs8().unwrap()
        );
        let k = SigningKey::new(a).unwrap();
        assert_eq!(k.public_key_bits().unwrap().len(), 97);
        let s1 = k.sign_message(b"hello").unwrap();
        let s2 = k.sign_message(b"hello").unwrap();
        assert_eq!(s1, s2);
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha384(), k.pkey()).unwrap();
        v.update(b"hello").unwrap();
        assert!(v.verify(&s1).unwrap());
    }
}
