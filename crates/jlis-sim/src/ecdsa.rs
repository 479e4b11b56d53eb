//! Deterministic ECDSA (RFC 6979 §3.2) with OpenSSL big-number and point arithmetic.
//!
//! OpenSSL's own ECDSA draws a random nonce, which would make every ECDSA certificate and CRL
//! different on each run. Here the nonce comes from HMAC over the private key and the digest, so
//! signatures are reproducible; they are ordinary ECDSA signatures to any verifier.

use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::ec::{EcKeyRef, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::Private;

use crate::drbg::hmac;
use crate::error::{Result, SimError};

/// `bits2int` (RFC 6979 §2.3.2): the leftmost `qlen` bits of `bytes` as an integer.
fn bits2int(bytes: &[u8], qlen: usize) -> Result<BigNum> {
    let mut v = BigNum::from_slice(bytes).map_err(SimError::ssl("bn"))?;
    let blen = bytes.len() * 8;
    if blen > qlen {
        let mut shifted = BigNum::new().map_err(SimError::ssl("bn"))?;
        shifted
            .rshift(&v, (blen - qlen) as i32)
            .map_err(SimError::ssl("rshift"))?;
        v = shifted;
    }
    Ok(v)
}

/// `int2octets`: big-endian, left-padded to `rlen` octets.
fn int2octets(v: &BigNumRef, rlen: usize) -> Result<Vec<u8>> {
    v.to_vec_padded(rlen as i32).map_err(SimError::ssl("bn pad"))
}

/// Signs `digest` (the hash of the message under `md`) with `key`, the nonce derived per RFC 6979
/// with HMAC-`md`. Returns the DER ECDSA-Sig-Value.
pub(crate) fn sign_rfc6979(key: &EcKeyRef<Private>, md: MessageDigest, digest: &[u8]) -> Result<Vec<u8>> {
    let s = SimError::ssl;
    let group = key.group();
    let mut ctx = BigNumContext::new().map_err(s("bn ctx"))?;
    let mut q = BigNum::new().map_err(s("bn"))?;
    group.order(&mut q, &mut ctx).map_err(s("order"))?;
    let qlen = q.num_bits() as usize;
    let rlen = qlen.div_ceil(8);
    let x = key.private_key();

    // h1 reduced mod q for bits2octets; e (the value signed) is bits2int(h1) unreduced.
    let e = bits2int(digest, qlen)?;
    let mut h_mod_q = BigNum::new().map_err(s("bn"))?;
    h_mod_q.nnmod(&e, &q, &mut ctx).map_err(s("mod"))?;
    let x_oct = int2octets(x, rlen)?;
    let h_oct = int2octets(&h_mod_q, rlen)?;

    let hlen = md.size();
    let mut v = vec![1u8; hlen];
    let mut k = vec![0u8; hlen];
    k = hmac(md, &k, &[&v, &[0], &x_oct, &h_oct])?;
    v = hmac(md, &k, &[&v])?;
    k = hmac(md, &k, &[&v, &[1], &x_oct, &h_oct])?;
    v = hmac(md, &k, &[&v])?;

    loop {
        let mut t = Vec::with_capacity(rlen + hlen);
        while t.len() < rlen {
            v = hmac(md, &k, &[&v])?;
            t.extend_from_slice(&v);
        }
        let nonce = bits2int(&t, qlen)?;
        if nonce.num_bits() > 0 && nonce < q {
            let mut point = EcPoint::new(group).map_err(s("point"))?;
            point
                .mul_generator2(group, &nonce, &mut ctx)
                .map_err(s("mul_generator"))?;
            let mut px = BigNum::new().map_err(s("bn"))?;
            let mut py = BigNum::new().map_err(s("bn"))?;
            point
                .affine_coordinates(group, &mut px, &mut py, &mut ctx)
                .map_err(s("affine"))?;
            let mut r = BigNum::new().map_err(s("bn"))?;
            r.nnmod(&px, &q, &mut ctx).map_err(s("mod"))?;
            if r.num_bits() > 0 {
                // s = k⁻¹ (e + r·x) mod q
                let mut rx = BigNum::new().map_err(s("bn"))?;
                rx.mod_mul(&r, x, &q, &mut ctx).map_err(s("mod_mul"))?;
                let mut sum = BigNum::new().map_err(s("bn"))?;
                sum.mod_add(&e, &rx, &q, &mut ctx).map_err(s("mod_add"))?;
                let mut kinv = BigNum::new().map_err(s("bn"))?;
                kinv.mod_inverse(&nonce, &q, &mut ctx).map_err(s("mod_inverse"))?;
                let mut sig_s = BigNum::new().map_err(s("bn"))?;
                sig_s.mod_mul(&kinv, &sum, &q, &mut ctx).map_err(s("mod_mul"))?;
                if sig_s.num_bits() > 0 {
                    let sig = EcdsaSig::from_private_components(r, sig_s).map_err(s("ecdsa sig"))?;
                    return sig.to_der().map_err(s("ecdsa sig DER"));
                }
            }
        }
        k = hmac(md, &k, &[&v, &[0]])?;
        v = hmac(md, &k, &[&v])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;

    /// RFC 6979 appendix A.2.6 (P-384), SHA-384, message "sample".
    #[test]
    fn rfc6979_p384_sha384_sample() {
        let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        let x = BigNum::from_hex_str(
            "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5",
        )
        .unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let mut p = EcPoint::new(&group).unwrap();
        p.mul_generator2(&group, &x, &mut ctx).unwrap();
        let key = EcKey::from_private_components(&group, &x, &p).unwrap();
        let digest = openssl::sha::sha384(b"sample");
        let der = sign_rfc6979(&key, MessageDigest::sha384(), &digest).unwrap();
        let sig = EcdsaSig::from_der(&der).unwrap();
        assert_eq!(
            sig.r().to_hex_str().unwrap().to_string(),
            "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46"
        );
        assert!(sig.verify(&digest, &key).unwrap());
    }
}
