//! Deterministic randomness: an HMAC-SHA256 DRBG (NIST SP 800-90A §10.1.2, without reseeding or
//! prediction resistance) keyed by the simulator seed and a label.
//!
//! Every key, serial gap and person drawn by the simulator comes from a [`Drbg`] whose label names
//! what it is for (`"ca/sign-2023"`, `"holder/H000001/sign/0"`), so one seed reproduces every byte
//! and adding a holder never changes an earlier one. It is **not** a source of secrets: the seed is
//! public and so are all the keys derived from it.

use openssl::hash::{Hasher, MessageDigest};

use crate::error::{Result, SimError};

/// HMAC (RFC 2104) over OpenSSL's digests.
pub(crate) fn hmac(md: MessageDigest, key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>> {
    let block = md.block_size();
    let mut k = if key.len() > block {
        openssl::hash::hash(md, key)
            .map_err(SimError::ssl("hmac key hash"))?
            .to_vec()
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = Hasher::new(md).map_err(SimError::ssl("hmac"))?;
    inner.update(&ipad).map_err(SimError::ssl("hmac"))?;
    for p in parts {
        inner.update(p).map_err(SimError::ssl("hmac"))?;
    }
    let ih = inner.finish().map_err(SimError::ssl("hmac"))?;
    let mut outer = Hasher::new(md).map_err(SimError::ssl("hmac"))?;
    outer.update(&opad).map_err(SimError::ssl("hmac"))?;
    outer.update(&ih).map_err(SimError::ssl("hmac"))?;
    Ok(outer.finish().map_err(SimError::ssl("hmac"))?.to_vec())
}

/// A deterministic byte stream from a seed and a label (HMAC_DRBG with SHA-256).
#[derive(Clone)]
pub struct Drbg {
    k: Vec<u8>,
    v: Vec<u8>,
}

impl std::fmt::Debug for Drbg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drbg").finish_non_exhaustive()
    }
}

impl Drbg {
    /// A stream for `label` under `seed`. Seed and label are length-prefixed so that
    /// `("ab", "c")` and `("a", "bc")` differ.
    pub fn new(seed: &str, label: &str) -> Result<Drbg> {
        let mut material = Vec::with_capacity(seed.len() + label.len() + 16);
        material.extend_from_slice(&(seed.len() as u64).to_be_bytes());
        material.extend_from_slice(seed.as_bytes());
        material.extend_from_slice(&(label.len() as u64).to_be_bytes());
        material.extend_from_slice(label.as_bytes());
        let mut d = Drbg {
            k: vec![0; 32],
            v: vec![1; 32],
        };
        d.update(&material)?;
        Ok(d)
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        let md = MessageDigest::sha256();
        self.k = hmac(md, &self.k, &[&self.v, &[0], data])?;
        self.v = hmac(md, &self.k, &[&self.v])?;
        if !data.is_empty() {
            self.k = hmac(md, &self.k, &[&self.v, &[1], data])?;
            self.v = hmac(md, &self.k, &[&self.v])?;
        }
        Ok(())
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<()> {
        let md = MessageDigest::sha256();
        for chunk in out.chunks_mut(32) {
            self.v = hmac(md, &self.k, &[&self.v])?;
            let n = chunk.len();
            chunk.copy_from_slice(self.v.get(..n).unwrap_or_default());
        }
        self.update(&[])
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut v = vec![0; n];
        self.fill(&mut v)?;
        Ok(v)
    }

    /// The next `u64`.
    pub fn next_u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    /// A value in `0..n` (`n > 0`; slight modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> Result<u64> {
        Ok(self.next_u64()? % n.max(1))
    }

    /// A fast non-cryptographic generator seeded from this stream, for bulk synthetic data.
    pub fn fast(&mut self) -> Result<FastRng> {
        let mut s = [0u64; 4];
        for w in &mut s {
            *w = self.next_u64()?;
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Ok(FastRng { s })
    }
}

/// xoshiro256** (Blackman and Vigna), for the millions of synthetic CRL entries.
#[derive(Clone, Debug)]
pub struct FastRng {
    s: [u64; 4],
}

impl FastRng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s1 << 17;
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        let s1 = s1 ^ s2;
        let s0 = s0 ^ s3;
        let s2 = s2 ^ t;
        let s3 = s3.rotate_left(45);
        self.s = [s0, s1, s2, s3];
        result
    }

    /// A value in `0..n` by multiply-shift (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_label_separated() {
        let a = Drbg::new("seed", "x").unwrap().bytes(80).unwrap();
        let b = Drbg::new("seed", "x").unwrap().bytes(80).unwrap();
        let c = Drbg::new("seed", "y").unwrap().bytes(80).unwrap();
        let d = Drbg::new("seedx", "").unwrap().bytes(80).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(c, d);
    }

    #[test]
    fn hmac_rfc4231_case2() {
        let mac = hmac(
            MessageDigest::sha256(),
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"],
        )
        .unwrap();
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
