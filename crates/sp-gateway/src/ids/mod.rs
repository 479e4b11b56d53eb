//! Verification ids that carry their own proof of registration.
//!
//! A verification id names the certificate it registered (the CA key, by a 4-byte tag, the
//! serial and, when known, the crl-sync id of the CRL partition that covers it) and is sealed with
//! HMAC-SHA-256 under the gateway's secret **and the SP's id**. So a status check by id needs no
//! Redis round trip (it keeps working when Redis is down, and a 100,000-item bulk check costs
//! 100,000 MACs and index lookups, nothing else), an SP cannot forge an id for a certificate it
//! did not register, and SP B presenting SP A's id gets "not found" because the MAC does not
//! verify under B's id.
//!
//! Layout before base64url: version (1) ‖ flags (1) ‖ random (6) ‖ [key tag (4) ‖ serial length
//! (1) ‖ serial magnitude (1..=20) ‖ [partition length (1) ‖ partition id (1..=64, UTF-8)]] ‖ MAC
//! (12, the first 96 bits of HMAC-SHA-256 over `"vf1" ‖ len(sp) ‖ sp ‖ everything before the
//! MAC`). Flags: bit 0 = a certificate was registered (the bracketed part follows), bit 1 = its
//! partition follows the serial; other bits are never set, and an id with one is refused. Ids
//! sealed before partitions were recorded have no bit 1: they still open, with no partition, and
//! their checks use the CA key's stalest partition as before (see [`crate::index`]). The string
//! form is `vf_` followed by the base64url text, at most [`MAX_ID_LEN`] characters.
//!
//! The partition is what lets a later status check answer from the certificate's own CRL
//! partition instead of the CA key's stalest one. A partition id that does not fit
//! ([`partition_fits`]: 1 to 64 bytes, no `,`, no control character) is not recorded; such a
//! certificate's checks use the stalest partition (fail closed).

use jpki::Serial;
use openssl::sha::Sha256;

use crate::body::{from_b64url, to_b64url};

mod cert_ref;
pub use cert_ref::{CertRef, KeyTags, MAX_PARTITION_LEN, partition_fits, tag_of};

const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
const PREFIX: &str = "vf_";
const RANDOM_LEN: usize = 6;
/// Flags bit 0: a certificate was registered.
const FLAG_CERT: u8 = 1;
/// Flags bit 1: the certificate's partition follows its serial.
const FLAG_PARTITION: u8 = 2;
/// The longest serial magnitude (RFC 5280 §4.1.2.2).
const MAX_SERIAL_LEN: usize = 20;

/// The longest id [`IdSealer::seal`] makes (and [`IdSealer::open`] accepts): `vf_` and the
/// base64url text of the largest body (a 20-byte serial and a 64-byte partition) and its MAC.
pub const MAX_ID_LEN: usize = PREFIX.len()
    + ((2 + RANDOM_LEN + 4 + 1 + MAX_SERIAL_LEN + 1 + MAX_PARTITION_LEN + MAC_LEN) * 4).div_ceil(3);

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
            let d = verifier::sha256(key);
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

    /// A new id for `sp`, registering `cert` if given (with its partition when that fits).
    pub fn seal(&self, sp: &str, cert: Option<&CertRef>) -> Result<String, openssl::error::ErrorStack> {
        let mut body = Vec::with_capacity(MAX_ID_LEN);
        body.push(VERSION);
        let partition = cert.and_then(CertRef::fitting_partition);
        let flags = match (cert, partition) {
            (None, _) => 0,
            (Some(_), None) => FLAG_CERT,
            (Some(_), Some(_)) => FLAG_CERT | FLAG_PARTITION,
        };
        body.push(flags);
        let mut random = [0u8; RANDOM_LEN];
        crate::random::fill(&mut random)?;
        body.extend_from_slice(&random);
        if let Some(c) = cert {
            let mag = c.serial.magnitude();
            body.extend_from_slice(&c.tag);
            body.push(u8::try_from(mag.len()).unwrap_or(0));
            body.extend_from_slice(&mag);
            if let Some(p) = partition {
                // partition_fits bounds the length to 64.
                body.push(u8::try_from(p.len()).unwrap_or(0));
                body.extend_from_slice(p.as_bytes());
            }
        }
        let mac = self.tag(sp, &body);
        body.extend_from_slice(mac.get(..MAC_LEN).unwrap_or_default());
        Ok(format!("{PREFIX}{}", to_b64url(&body)))
    }

    /// Opens an id presented by `sp`; `None` unless it is well formed and was sealed for `sp`.
    pub fn open(&self, sp: &str, id: &str) -> Option<VerificationId> {
        if id.len() > MAX_ID_LEN {
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
        if version != VERSION || flags & !(FLAG_CERT | FLAG_PARTITION) != 0 {
            return None;
        }
        let rest = rest.get(RANDOM_LEN..)?;
        if flags & FLAG_CERT == 0 {
            return (flags == 0 && rest.is_empty()).then_some(VerificationId { cert: None });
        }
        let tag = <[u8; 4]>::try_from(rest.get(..4)?).ok()?;
        let (&len, rest) = rest.get(4..)?.split_first()?;
        let len = usize::from(len);
        if len > MAX_SERIAL_LEN {
            return None;
        }
        let serial = Serial::from_magnitude(rest.get(..len)?).ok()?;
        let rest = rest.get(len..)?;
        let partition = if flags & FLAG_PARTITION == 0 {
            if !rest.is_empty() {
                return None;
            }
            None
        } else {
            let (&plen, p) = rest.split_first()?;
            if p.len() != usize::from(plen) {
                return None;
            }
            let p = std::str::from_utf8(p).ok()?;
            if !partition_fits(p) {
                return None;
            }
            Some(p.to_owned())
        };
        Some(VerificationId {
            cert: Some(CertRef {
                tag,
                serial,
                partition,
            }),
        })
    }
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

    fn cert(partition: Option<&str>) -> CertRef {
        CertRef {
            tag: [1, 2, 3, 4],
            serial: Serial::from_hex("1a2b3c").unwrap(),
            partition: partition.map(str::to_owned),
        }
    }

    /// An id with any body, sealed for `sp` (to check what `open` does with well-sealed but
    /// malformed bodies).
    fn forge(s: &IdSealer, sp: &str, body: &[u8]) -> String {
        let mut raw = body.to_vec();
        raw.extend_from_slice(&s.tag(sp, body)[..MAC_LEN]);
        format!("{PREFIX}{}", to_b64url(&raw))
    }

    #[test]
    fn ids_are_bound_to_the_sp() {
        let s = IdSealer::new(&[1u8; 32]);
        for c in [cert(None), cert(Some("sign-2023/131016"))] {
            let id = s.seal("bank-a", Some(&c)).unwrap();
            assert_eq!(s.open("bank-a", &id).unwrap().cert, Some(c.clone()));
            assert!(s.open("bank-b", &id).is_none());
            assert!(IdSealer::new(&[2u8; 32]).open("bank-a", &id).is_none());
            assert_ne!(s.seal("bank-a", Some(&c)).unwrap(), id);
            // Any flipped character breaks it.
            let mut bytes = id.clone().into_bytes();
            bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
            assert!(s.open("bank-a", &String::from_utf8(bytes).unwrap()).is_none());
        }
        let bare = s.seal("bank-a", None).unwrap();
        assert_eq!(s.open("bank-a", &bare).unwrap().cert, None);
        assert!(s.open("bank-a", "vf_").is_none());
        assert!(s.open("bank-a", "nonsense").is_none());
    }

    #[test]
    fn ids_round_trip_with_and_without_a_partition() {
        let s = IdSealer::new(&[1u8; 32]);
        let longest = "p".repeat(MAX_PARTITION_LEN);
        let unicode = "東京都/131016";
        for p in [
            None,
            Some("sign-2023/131016"),
            Some("x"),
            Some(unicode),
            Some(&longest[..]),
        ] {
            let c = cert(p);
            let id = s.seal("bank-a", Some(&c)).unwrap();
            assert!(id.len() <= MAX_ID_LEN, "{id}");
            assert_eq!(s.open("bank-a", &id).unwrap().cert, Some(c), "{p:?}");
        }
        // The largest id: a 20-byte serial and the longest partition, exactly at the limit.
        let big = CertRef {
            tag: [0xff; 4],
            serial: Serial::from_hex(&"ff".repeat(MAX_SERIAL_LEN)).unwrap(),
            partition: Some(longest.clone()),
        };
        let id = s.seal("bank-a", Some(&big)).unwrap();
        assert_eq!(id.len(), MAX_ID_LEN);
        assert_eq!(s.open("bank-a", &id).unwrap().cert, Some(big));
        // A partition that does not fit is dropped, not sealed: the id means "partition unknown".
        let too_long = "p".repeat(MAX_PARTITION_LEN + 1);
        for p in ["", "a,b", "tab\there", &too_long[..]] {
            let id = s.seal("bank-a", Some(&cert(Some(p)))).unwrap();
            assert_eq!(s.open("bank-a", &id).unwrap().cert, Some(cert(None)), "{p:?}");
        }
    }

    #[test]
    fn ids_sealed_before_partitions_still_open() {
        // Made outside Rust (Python's hmac) with the layout ids had before bit 1 existed:
        // secret 32 × 0x01, SP "bank-a", random 09 08 07 06 05 04, tag 01020304, serial 1a2b3c.
        let s = IdSealer::new(&[1u8; 32]);
        let old = "vf_AQEJCAcGBQQBAgMEAxorPL568ONHwZOs51H2KQ";
        assert_eq!(s.open("bank-a", old).unwrap().cert, Some(cert(None)));
        let old_bare = "vf_AQAJCAcGBQQLbfW655WsUlA8Vh8";
        assert_eq!(s.open("bank-a", old_bare).unwrap().cert, None);
        // The same, made the same way with bit 1 and the partition "sign-2023/131016".
        let new = "vf_AQMJCAcGBQQBAgMEAxorPBBzaWduLTIwMjMvMTMxMDE2DYl7KaM-QgRIWdR4";
        assert_eq!(
            s.open("bank-a", new).unwrap().cert,
            Some(cert(Some("sign-2023/131016")))
        );
        assert!(s.open("bank-b", new).is_none());
    }

    #[test]
    fn malformed_ids_are_refused() {
        let s = IdSealer::new(&[1u8; 32]);
        let head = |flags: u8| vec![VERSION, flags, 9, 8, 7, 6, 5, 4];
        let with = |flags: u8, tail: &[u8]| {
            let mut b = head(flags);
            b.extend_from_slice(tail);
            b
        };
        let cert_part = [1, 2, 3, 4, 3, 0x1a, 0x2b, 0x3c];
        let with_partition = |p: &[u8], len: u8| {
            let mut t = cert_part.to_vec();
            t.push(len);
            t.extend_from_slice(p);
            with(FLAG_CERT | FLAG_PARTITION, &t)
        };
        // Sanity: the well-formed ones open.
        assert!(
            s.open("bank-a", &forge(&s, "bank-a", &with(FLAG_CERT, &cert_part)))
                .is_some()
        );
        assert!(
            s.open("bank-a", &forge(&s, "bank-a", &with_partition(b"p1", 2)))
                .is_some()
        );
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("another version", {
                let mut b = with(FLAG_CERT, &cert_part);
                b[0] = 2;
                b
            }),
            ("an unknown flag bit", with(FLAG_CERT | 4, &cert_part)),
            ("the high flag bit", with(FLAG_CERT | 0x80, &cert_part)),
            (
                "a partition without a certificate",
                with(FLAG_PARTITION, &[1, b'p']),
            ),
            ("no certificate but bytes", with(0, &[0])),
            ("a certificate flag and nothing", head(FLAG_CERT)),
            ("a short random", vec![VERSION, 0, 1, 2]),
            ("a cut tag", with(FLAG_CERT, &[1, 2, 3])),
            ("no serial length", with(FLAG_CERT, &[1, 2, 3, 4])),
            ("a cut serial", with(FLAG_CERT, &[1, 2, 3, 4, 3, 0x1a])),
            (
                "a serial over 20 bytes",
                with(FLAG_CERT, &[&[1, 2, 3, 4, 21][..], &[7; 21]].concat()),
            ),
            (
                "bytes after the serial without bit 1",
                with(FLAG_CERT, &[&cert_part[..], &[1, b'p']].concat()),
            ),
            (
                "bit 1 and no partition",
                with(FLAG_CERT | FLAG_PARTITION, &cert_part),
            ),
            ("an empty partition", with_partition(b"", 0)),
            ("a partition longer than its length", with_partition(b"abc", 2)),
            ("a partition shorter than its length", with_partition(b"ab", 3)),
            ("a partition that is not UTF-8", with_partition(&[0xff, 0xfe], 2)),
            ("a partition with a comma", with_partition(b"a,b", 3)),
            ("a partition with a newline", with_partition(b"a\nb", 3)),
            ("a partition over 64 bytes", with_partition(&[b'p'; 65], 65)),
        ];
        for (why, body) in &bad {
            assert!(s.open("bank-a", &forge(&s, "bank-a", body)).is_none(), "{why}");
        }
        assert!(s.open("bank-a", &forge(&s, "bank-a", &[])).is_none());
        assert!(
            s.open("bank-a", &format!("{PREFIX}{}", "A".repeat(MAX_ID_LEN)))
                .is_none()
        );
        assert!(s.open("bank-a", "vf_!!!!").is_none());
    }

    #[test]
    fn truncated_flipped_and_random_ids_are_refused() {
        let s = IdSealer::new(&[1u8; 32]);
        let longest = "p".repeat(MAX_PARTITION_LEN);
        for c in [
            None,
            Some(cert(None)),
            Some(cert(Some("sign-2023/131016"))),
            Some(cert(Some(longest.as_str()))),
        ] {
            let id = s.seal("bank-a", c.as_ref()).unwrap();
            assert_eq!(s.open("bank-a", &id).unwrap().cert, c);
            // Every cut, at every character.
            for n in 0..id.len() {
                assert!(s.open("bank-a", &id[..n]).is_none(), "{id} cut to {n}");
            }
            // Every bit of every byte flipped, MAC included.
            let raw = from_b64url(&id[PREFIX.len()..]).unwrap();
            for i in 0..raw.len() {
                for bit in 0..8 {
                    let mut r = raw.clone();
                    r[i] ^= 1 << bit;
                    let flipped = format!("{PREFIX}{}", to_b64url(&r));
                    assert!(s.open("bank-a", &flipped).is_none(), "byte {i} bit {bit}");
                }
            }
            // Bytes appended after the MAC.
            let mut r = raw.clone();
            r.push(0);
            assert!(s.open("bank-a", &format!("{PREFIX}{}", to_b64url(&r))).is_none());
        }
        // Random bodies, sealed or not, of every length up to past the limit: never a panic, and
        // a sealed one opens only as what it says.
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..20_000 {
            let len = usize::try_from(next() % 120).unwrap();
            let mut body: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            // Mostly plausible heads, so the parser gets past the first checks.
            if let Some(b) = body.get_mut(0) {
                *b = VERSION;
            }
            if let Some(b) = body.get_mut(1) {
                *b &= 3;
            }
            if let Some(v) = s.open("bank-a", &forge(&s, "bank-a", &body)) {
                // Whatever opens seals back to the same meaning.
                let again = s.seal("bank-a", v.cert.as_ref()).unwrap();
                assert_eq!(s.open("bank-a", &again).unwrap(), v);
            }
            // Unsealed, the same bytes never open.
            assert!(
                s.open("bank-a", &format!("{PREFIX}{}", to_b64url(&body)))
                    .is_none()
            );
        }
    }

    #[test]
    fn cert_refs_in_redis_values_round_trip() {
        let c = cert(Some("sign-2023/131016"));
        assert_eq!(c.to_key(), "01020304:1A2B3C");
        assert_eq!(c.to_value(), "01020304:1A2B3C:sign-2023/131016");
        assert_eq!(CertRef::from_value(&c.to_value()), Some(c.clone()));
        assert_eq!(c.serials_entry(), "01020304:sign-2023/131016");
        assert_eq!(
            CertRef::from_serials_entry(&c.serials_entry(), c.serial),
            Some(c.clone())
        );
        // A partition may hold ':' (a URI): it is everything after the serial.
        let uri = cert(Some("http://crl.example/a.crl"));
        assert_eq!(CertRef::from_value(&uri.to_value()), Some(uri.clone()));
        assert_eq!(
            CertRef::from_serials_entry(&uri.serials_entry(), uri.serial),
            Some(uri)
        );
        // Values written before partitions were kept: partition unknown.
        let bare = cert(None);
        assert_eq!(bare.to_value(), "01020304:1A2B3C");
        assert_eq!(CertRef::from_value("01020304:1a2b3c"), Some(bare.clone()));
        assert_eq!(
            CertRef::from_serials_entry("01020304", bare.serial),
            Some(bare.clone())
        );
        // A partition that does not fit is not written, and not read.
        assert_eq!(cert(Some("a,b")).to_value(), "01020304:1A2B3C");
        assert_eq!(cert(Some("a,b")).serials_entry(), "01020304");
        for v in [
            "01020304:1a2b3c:",
            "01020304:1a2b3c:a,b",
            "01020304:1a2b3c:a\nb",
            "01020304",
            "0102030:1a2b3c",
            "01020304:xyz",
            "",
        ] {
            assert_eq!(CertRef::from_value(v), None, "{v:?}");
        }
        assert_eq!(
            CertRef::from_value(&format!("01020304:1a2b3c:{}", "p".repeat(65))),
            None
        );
        for e in ["01020304:", "01020304:a\tb", "zz", "", "010203"] {
            assert_eq!(CertRef::from_serials_entry(e, bare.serial), None, "{e:?}");
        }
    }
}
