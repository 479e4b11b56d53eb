//! Verification ids that carry their own proof of registration.
//!
//! A verification id names the certificate it registered (the CA key, by a 4-byte tag, and the
//! serial) and is sealed with HMAC-SHA-256 under the gateway's secret **and the SP's id**. So a
//! status check by id needs no Redis round trip (it keeps working when Redis is down, and a
//! 100,000-item bulk check costs 100,000 MACs and index lookups, nothing else), an SP cannot
//! forge an id for a certificate it did not register, and SP B presenting SP A's id gets "not
//! found" because the MAC does not verify under B's id.
//!
//! Layout before base64url: version (1) ‖ flags (1; bit 0 = a certificate was registered) ‖
//! random (6) ‖ [key tag (4) ‖ serial length (1) ‖ serial magnitude (1..=20)] ‖ MAC (12, the
//! first 96 bits of HMAC-SHA-256 over `"vf1" ‖ len(sp) ‖ sp ‖ everything before the MAC`). The
//! string form is `vf_` followed by the base64url text.

use std::collections::HashMap;

use jpki::Serial;
use openssl::sha::Sha256;

use crate::body::{from_b64url, to_b64url};

const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
const PREFIX: &str = "vf_";

/// HMAC-SHA-256 with the padded key states computed once (the low-level SHA-256 is cloned per
/// message, which avoids OpenSSL 3's per-call algorithm fetch: about 1 µs per id).
#[derive(Clone)]
pub struct Mac {
    inner: Sha256,
    outer: Sha256,
}

impl std::fmt::Debug for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mac(..)")
    }
}

impl Mac {
    /// A MAC keyed with `key` (RFC 2104).
    pub fn new(key: &[u8]) -> Mac {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            let d = openssl::sha::sha256(key);
            for (b, k) in block.iter_mut().zip(d.iter()) {
                *b = *k;
            }
        } else {
            for (b, k) in block.iter_mut().zip(key.iter()) {
                *b = *k;
            }
        }
        let mut inner = Sha256::new();
        let mut outer = Sha256::new();
        inner.update(&block.map(|b| b ^ 0x36));
        outer.update(&block.map(|b| b ^ 0x5c));
        Mac { inner, outer }
    }

    /// HMAC-SHA-256 over the concatenation of `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut i = self.inner.clone();
        for p in parts {
            i.update(p);
        }
        let mut o = self.outer.clone();
        o.update(&i.finish());
        o.finish()
    }
}

/// The certificate a verification registered: which CA key and which serial.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertRef {
    /// The 4-byte tag of the CA key (see [`KeyTags`]).
    pub tag: [u8; 4],
    /// The serial.
    pub serial: Serial,
}

impl CertRef {
    /// `tag-hex:serial-hex`, the form used in Redis.
    pub fn to_key(&self) -> String {
        format!("{}:{}", hex::encode(self.tag), self.serial.to_hex())
    }

    /// Parses [`CertRef::to_key`].
    pub fn from_key(s: &str) -> Option<CertRef> {
        let (t, s) = s.split_once(':')?;
        let tag = <[u8; 4]>::try_from(hex::decode(t).ok()?.as_slice()).ok()?;
        Some(CertRef {
            tag,
            serial: Serial::from_hex(s).ok()?,
        })
    }
}

/// A parsed, verified id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationId {
    /// The certificate registered, when one was.
    pub cert: Option<CertRef>,
}

/// Seals and opens verification ids.
#[derive(Clone, Debug)]
pub struct IdSealer {
    mac: Mac,
}

impl IdSealer {
    /// A sealer keyed with the gateway's secret (at least 32 bytes).
    pub fn new(secret: &[u8]) -> IdSealer {
        IdSealer {
            mac: Mac::new(secret),
        }
    }

    fn tag(&self, sp: &str, body: &[u8]) -> [u8; 32] {
        let sp_len = [u8::try_from(sp.len()).unwrap_or(u8::MAX)];
        self.mac.sign(&[b"vf1", &sp_len, sp.as_bytes(), body])
    }

    /// A new id for `sp`, registering `cert` if given.
    pub fn seal(&self, sp: &str, cert: Option<&CertRef>) -> Result<String, openssl::error::ErrorStack> {
        let mut body = Vec::with_capacity(48);
        body.push(VERSION);
        body.push(u8::from(cert.is_some()));
        let mut random = [0u8; 6];
        openssl::rand::rand_bytes(&mut random)?;
        body.extend_from_slice(&random);
        if let Some(c) = cert {
            let mag = c.serial.magnitude();
            body.extend_from_slice(&c.tag);
            body.push(u8::try_from(mag.len()).unwrap_or(0));
            body.extend_from_slice(&mag);
        }
        let mac = self.tag(sp, &body);
        body.extend_from_slice(mac.get(..MAC_LEN).unwrap_or_default());
        Ok(format!("{PREFIX}{}", to_b64url(&body)))
    }

    /// Opens an id presented by `sp`; `None` unless it is well formed and was sealed for `sp`.
    pub fn open(&self, sp: &str, id: &str) -> Option<VerificationId> {
        if id.len() > 96 {
            return None;
        }
        let raw = from_b64url(id.strip_prefix(PREFIX)?)?;
        let split = raw.len().checked_sub(MAC_LEN)?;
        let (body, mac) = raw.split_at(split);
        let expected = self.tag(sp, body);
        if !openssl::memcmp::eq(expected.get(..MAC_LEN)?, mac) {
            return None;
        }
        let (&version, rest) = body.split_first()?;
        let (&flags, rest) = rest.split_first()?;
        if version != VERSION {
            return None;
        }
        let rest = rest.get(6..)?;
        if flags & 1 == 0 {
            return rest.is_empty().then_some(VerificationId { cert: None });
        }
        let tag = <[u8; 4]>::try_from(rest.get(..4)?).ok()?;
        let (&len, serial) = rest.get(4..)?.split_first()?;
        if serial.len() != usize::from(len) {
            return None;
        }
        Some(VerificationId {
            cert: Some(CertRef {
                tag,
                serial: Serial::from_magnitude(serial).ok()?,
            }),
        })
    }
}

/// The CA keys the gateway can register certificates under, by 4-byte tag (the first bytes of
/// SHA-256 of the key id) and by root fingerprint.
#[derive(Clone, Debug, Default)]
pub struct KeyTags {
    by_tag: HashMap<[u8; 4], Vec<u8>>,
    by_fingerprint: HashMap<String, [u8; 4]>,
}

impl KeyTags {
    /// From the trust store's roots; `Err` names two roots whose tags collide.
    pub fn from_trust(store: &verifier::TrustStore) -> Result<KeyTags, String> {
        let mut t = KeyTags::default();
        for root in store.roots() {
            let tag = tag_of(root.key_id());
            if let Some(other) = t.by_tag.get(&tag)
                && other.as_slice() != root.key_id()
            {
                return Err(format!(
                    "two CA keys share the tag {}: remove one root",
                    hex::encode(tag)
                ));
            }
            t.by_tag.insert(tag, root.key_id().to_vec());
            t.by_fingerprint.insert(hex::encode(root.fingerprint()), tag);
        }
        Ok(t)
    }

    /// The key id of a tag.
    pub fn key_id(&self, tag: &[u8; 4]) -> Option<&[u8]> {
        self.by_tag.get(tag).map(Vec::as_slice)
    }

    /// The tag of a root, by its fingerprint (hex, as in the verifier's report).
    pub fn tag_of_root(&self, fingerprint_hex: &str) -> Option<[u8; 4]> {
        self.by_fingerprint.get(fingerprint_hex).copied()
    }
}

/// The tag of a CA key id.
pub fn tag_of(key_id: &[u8]) -> [u8; 4] {
    let d = openssl::sha::sha256(key_id);
    [d[0], d[1], d[2], d[3]]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hmac_matches_openssl() {
        for key in [&b"k"[..], &[9u8; 100][..]] {
            let pkey = openssl::pkey::PKey::hmac(key).unwrap();
            let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
            s.update(b"hello world").unwrap();
            let want = s.sign_to_vec().unwrap();
            assert_eq!(Mac::new(key).sign(&[b"hello", b" world"]).to_vec(), want);
        }
    }

    #[test]
    fn ids_are_bound_to_the_sp() {
        let s = IdSealer::new(&[1u8; 32]);
        let c = CertRef {
            tag: [1, 2, 3, 4],
            serial: Serial::from_hex("1a2b3c").unwrap(),
        };
        let id = s.seal("bank-a", Some(&c)).unwrap();
        assert_eq!(s.open("bank-a", &id).unwrap().cert, Some(c.clone()));
        assert!(s.open("bank-b", &id).is_none());
        assert!(IdSealer::new(&[2u8; 32]).open("bank-a", &id).is_none());
        let bare = s.seal("bank-a", None).unwrap();
        assert_eq!(s.open("bank-a", &bare).unwrap().cert, None);
        assert_ne!(s.seal("bank-a", Some(&c)).unwrap(), id);
        // Any flipped character breaks it.
        let mut bytes = id.clone().into_bytes();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        assert!(s.open("bank-a", &String::from_utf8(bytes).unwrap()).is_none());
        assert!(s.open("bank-a", "vf_").is_none());
        assert!(s.open("bank-a", "nonsense").is_none());
        assert_eq!(CertRef::from_key(&c.to_key()), Some(c));
    }
}
