//! CRL signature and issuer checks with OpenSSL, and the freshness and rollback rules.
//!
//! All JPKI CA generations share one DN, so a CRL is tied to its CA by key: the CRL's
//! authorityKeyIdentifier must equal the CA certificate's subjectKeyIdentifier when both exist,
//! the issuer Name must equal the CA subject byte for byte, and the signature over `tbs` must
//! verify with the CA key. Accepted algorithms: sha256/384/512WithRSAEncryption,
//! ecdsa-with-SHA256/384/512 and RSASSA-PSS with SHA-2 (RFC 4055); MD5 and SHA-1 are refused as
//! weak, and so are RSA keys below 2048 bits.
//!
//! This module does not decide which CAs are trusted: the caller passes the configured CA
//! certificates, and checks their own validity and chain elsewhere (the `verifier` crate).
//! [`check_times`] and [`check_progress`] are pure functions that the snapshot writer applies.

use const_oid::ObjectIdentifier;
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use openssl::x509::{X509, X509Ref};

use crate::error::CrlError;
use crate::parse::{CrlHeader, HASH_CHUNK, Reader, SignatureAlgorithm};

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");

/// Signature algorithms refused as weak rather than unknown.
const WEAK: [ObjectIdentifier; 7] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.2"), // md2WithRSAEncryption
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.4"), // md5WithRSAEncryption
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"), // sha1WithRSAEncryption
    ObjectIdentifier::new_unwrap("1.3.14.3.2.29"),        // sha1WithRSASignature (OIW)
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),    // ecdsa-with-SHA1
    ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),    // dsa-with-sha1
    SHA1,                                                 // sha1 (as a PSS hash)
];

/// Minimum RSA modulus size accepted for a CA key.
const MIN_RSA_BITS: u32 = 2048;

const NULL: &[u8] = &[0x05, 0x00];

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    RsaPss { salt_len: i32 },
    Ec,
}

struct Algorithm {
    digest: MessageDigest,
    key: KeyKind,
}

fn weak(oid: &ObjectIdentifier) -> CrlError {
    CrlError::WeakAlgorithm {
        what: oid.to_string(),
    }
}

fn unsupported(oid: &ObjectIdentifier) -> CrlError {
    CrlError::UnsupportedAlgorithm { oid: oid.to_string() }
}

fn sha2(oid: &ObjectIdentifier) -> Result<MessageDigest, CrlError> {
    match *oid {
        SHA256 => Ok(MessageDigest::sha256()),
        SHA384 => Ok(MessageDigest::sha384()),
        SHA512 => Ok(MessageDigest::sha512()),
        _ if WEAK.contains(oid) => Err(weak(oid)),
        _ => Err(unsupported(oid)),
    }
}

fn algorithm(alg: &SignatureAlgorithm<'_>) -> Result<Algorithm, CrlError> {
    let oid = alg.oid;
    let rsa = |digest| {
        // RFC 4055 §5: the parameters are NULL; absent parameters are tolerated.
        match alg.parameters {
            None | Some(NULL) => Ok(Algorithm {
                digest,
                key: KeyKind::Rsa,
            }),
            Some(_) => Err(unsupported(&oid)),
        }
    };
    let ec = |digest| {
        // RFC 5758 §3.2: the parameters are absent.
        match alg.parameters {
            None => Ok(Algorithm {
                digest,
                key: KeyKind::Ec,
            }),
            Some(_) => Err(unsupported(&oid)),
        }
    };
    match oid {
        SHA256_WITH_RSA => rsa(MessageDigest::sha256()),
        SHA384_WITH_RSA => rsa(MessageDigest::sha384()),
        SHA512_WITH_RSA => rsa(MessageDigest::sha512()),
        ECDSA_WITH_SHA256 => ec(MessageDigest::sha256()),
        ECDSA_WITH_SHA384 => ec(MessageDigest::sha384()),
        ECDSA_WITH_SHA512 => ec(MessageDigest::sha512()),
        RSASSA_PSS => pss(alg.parameters.unwrap_or_default(), &oid),
        _ if WEAK.contains(&oid) => Err(weak(&oid)),
        _ => Err(unsupported(&oid)),
    }
}

/// Reads an `AlgorithmIdentifier` whose parameters are absent or NULL; returns its OID and the
/// parameters TLV.
fn algorithm_identifier(der: &[u8]) -> Option<(ObjectIdentifier, Option<&[u8]>)> {
    let mut r = Reader::new(der, 0);
    let seq = r.expect(0x30, "").ok()?;
    r.finish("").ok()?;
    let mut fields = Reader::new(seq.content, 0);
    let oid = fields.expect(0x06, "").ok()?;
    let oid = ObjectIdentifier::from_bytes(oid.content).ok()?;
    let params = if fields.is_empty() {
        None
    } else {
        Some(fields.read().ok()?.raw)
    };
    fields.finish("").ok()?;
    Some((oid, params))
}

/// ```text
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm DEFAULT sha1,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
///     saltLength         [2] INTEGER DEFAULT 20,
///     trailerField       [3] TrailerField DEFAULT trailerFieldBC }
/// ```
/// The SHA-1 defaults are refused as weak, so `hashAlgorithm` and `maskGenAlgorithm` must be
/// present and name the same SHA-2 hash.
fn pss(params: &[u8], oid: &ObjectIdentifier) -> Result<Algorithm, CrlError> {
    let bad = || unsupported(oid);
    let mut r = Reader::new(params, 0);
    let seq = r.expect(0x30, "").map_err(|_| bad())?;
    r.finish("").map_err(|_| bad())?;
    let mut fields = Reader::new(seq.content, 0);
    let mut hash = None;
    let mut mgf_hash = None;
    let mut salt_len: i32 = 20;
    let mut last = None;
    while !fields.is_empty() {
        let field = fields.read().map_err(|_| bad())?;
        let number = field.tag & 0x1f;
        if field.tag & 0xe0 != 0xa0 || number > 3 || last.is_some_and(|l| l >= number) {
            return Err(bad());
        }
        last = Some(number);
        match number {
            0 => {
                let (h, p) = algorithm_identifier(field.content).ok_or_else(bad)?;
                if !matches!(p, None | Some(NULL)) {
                    return Err(bad());
                }
                hash = Some(h);
            }
            1 => {
                let (m, p) = algorithm_identifier(field.content).ok_or_else(bad)?;
                if m != MGF1 {
                    return Err(bad());
                }
                let (h, hp) = algorithm_identifier(p.ok_or_else(bad)?).ok_or_else(bad)?;
                if !matches!(hp, None | Some(NULL)) {
                    return Err(bad());
                }
                mgf_hash = Some(h);
            }
            2 => {
                salt_len = match field.content {
                    [0x02, 0x01, n] if *n < 0x80 => i32::from(*n),
                    [0x02, 0x02, hi, lo] if *hi < 0x80 => i32::from(u16::from_be_bytes([*hi, *lo])),
                    _ => return Err(bad()),
                };
            }
            _ => {
                if field.content != [0x02, 0x01, 0x01] {
                    return Err(bad());
                }
            }
        }
    }
    let hash = hash.unwrap_or(SHA1);
    let mgf_hash = mgf_hash.unwrap_or(SHA1);
    let digest = sha2(&hash)?;
    sha2(&mgf_hash)?;
    if hash != mgf_hash {
        return Err(bad());
    }
    Ok(Algorithm {
        digest,
        key: KeyKind::RsaPss { salt_len },
    })
}

fn check_key(key: &PKey<Public>, kind: KeyKind, oid: &ObjectIdentifier) -> Result<(), CrlError> {
    let ok = match (kind, key.id()) {
        (KeyKind::Rsa, Id::RSA) | (KeyKind::RsaPss { .. }, Id::RSA | Id::RSA_PSS) => {
            if key.bits() < MIN_RSA_BITS {
                return Err(CrlError::WeakAlgorithm {
                    what: format!("RSA-{}", key.bits()),
                });
            }
            true
        }
        (KeyKind::Ec, Id::EC) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(CrlError::KeyTypeMismatch { oid: oid.to_string() })
    }
}

/// Checks that `issuer_cert` issued the CRL: key id (when both sides carry one), issuer Name
/// (byte-equal DER) and the signature over `tbs`, hashed in 1 MiB chunks.
pub fn verify_signature(header: &CrlHeader<'_>, issuer_cert: &X509Ref) -> Result<(), CrlError> {
    if let (Some(aki), Some(ski)) = (header.authority_key_id, issuer_cert.subject_key_id())
        && aki != ski.as_slice()
    {
        return Err(CrlError::KeyIdMismatch);
    }
    if issuer_cert.subject_name().to_der()? != header.issuer_der {
        return Err(CrlError::IssuerNameMismatch);
    }
    let oid = header.signature_algorithm.oid;
    let alg = algorithm(&header.signature_algorithm)?;
    let key = issuer_cert.public_key()?;
    check_key(&key, alg.key, &oid)?;

    if let Some(digest) = header.tbs_digest {
        return verify_digest(&alg, &key, digest, header.signature);
    }
    let mut verifier = Verifier::new(alg.digest, &key)?;
    if let KeyKind::RsaPss { salt_len } = alg.key {
        verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
        verifier.set_rsa_mgf1_md(alg.digest)?;
        verifier.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt_len))?;
    }
    for chunk in header.tbs.chunks(HASH_CHUNK) {
        verifier.update(chunk)?;
    }
    // A malformed signature (an ECDSA value that is not a DER Ecdsa-Sig-Value, a wrong-length
    // RSA value) is an error inside OpenSSL; for us it is just a signature that does not verify.
    match verifier.verify(header.signature) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(CrlError::BadSignature),
    }
}

/// The same check given the digest of the TBS (computed while the CRL was streamed).
fn verify_digest(
    alg: &Algorithm,
    key: &PKey<Public>,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), CrlError> {
    if digest.len() != alg.digest.size() {
        return Err(CrlError::BadSignature);
    }
    let mut ctx = PkeyCtx::new(key)?;
    ctx.verify_init()?;
    match alg.key {
        KeyKind::Rsa => ctx.set_rsa_padding(Padding::PKCS1)?,
        KeyKind::RsaPss { salt_len } => {
            ctx.set_rsa_padding(Padding::PKCS1_PSS)?;
            ctx.set_rsa_mgf1_md(Md::from_nid(alg.digest.type_()).ok_or(CrlError::BadSignature)?)?;
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt_len))?;
        }
        KeyKind::Ec => {}
    }
    ctx.set_signature_md(Md::from_nid(alg.digest.type_()).ok_or(CrlError::BadSignature)?)?;
    let ok = ctx.verify(digest, signature);
    // As above: an error inside OpenSSL is a signature that does not verify.
    let _ = openssl::error::ErrorStack::get();
    match ok {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(CrlError::BadSignature),
    }
}

/// The hash the CRL's signature algorithm signs with (the TBS digest a streamed CRL needs).
pub(crate) fn tbs_digest_algorithm(alg: &SignatureAlgorithm<'_>) -> Result<MessageDigest, CrlError> {
    algorithm(alg).map(|a| a.digest)
}

/// Picks the CA certificate that signed the CRL among `candidates` (for example all generations
/// of one hierarchy, which share a DN).
///
/// Candidates whose subjectKeyIdentifier equals the CRL's authorityKeyIdentifier are tried
/// first; then candidates that have the right name and whose key id cannot contradict (the CRL
/// or the certificate lacks one). A candidate is returned only once [`verify_signature`] accepts
/// it, so a name alone never selects a CA.
pub fn select_issuer<'c>(header: &CrlHeader<'_>, candidates: &'c [X509]) -> Option<&'c X509> {
    let aki = header.authority_key_id;
    let by_key_id = candidates
        .iter()
        .filter(|c| aki.is_some() && c.subject_key_id().map(|s| s.as_slice()) == aki);
    let by_name = candidates.iter().filter(|c| {
        (aki.is_none() || c.subject_key_id().is_none())
            && c.subject_name().to_der().is_ok_and(|d| d == header.issuer_der)
    });
    by_key_id
        .chain(by_name)
        .find(|c| verify_signature(header, c).is_ok())
}

/// The CA certificate a CRL names by its authorityKeyIdentifier, the first [`select_issuer`]
/// tries; `None` when the CRL has no key id or no candidate carries it. Nothing is verified.
pub fn claimed_issuer<'c>(header: &CrlHeader<'_>, candidates: &'c [X509]) -> Option<&'c X509> {
    let aki = header.authority_key_id?;
    candidates
        .iter()
        .find(|c| c.subject_key_id().map(|s| s.as_slice()) == Some(aki))
}

/// Checks a CRL's times against `now` (Unix seconds): thisUpdate may be at most `max_skew_secs`
/// in the future ([`CrlError::NotYetValid`]), and nextUpdate must not have passed
/// ([`CrlError::Stale`]; no skew is granted there, so a stale CRL fails closed).
pub fn check_times(header: &CrlHeader<'_>, now: i64, max_skew_secs: i64) -> Result<(), CrlError> {
    if header.this_update > now.saturating_add(max_skew_secs.max(0)) {
        return Err(CrlError::NotYetValid {
            this_update: header.this_update,
            now,
        });
    }
    if header.next_update < now {
        return Err(CrlError::Stale {
            next_update: header.next_update,
            now,
        });
    }
    Ok(())
}

/// What identifies a CRL for rollback checks: its number, thisUpdate and the SHA-256 of its bytes.
/// The snapshot header stores the same three for the CRL it was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlMark<'a> {
    /// cRLNumber INTEGER content (leading zero octets are ignored when comparing).
    pub crl_number: Option<&'a [u8]>,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// SHA-256 of the CRL as fetched (DER).
    pub sha256: [u8; 32],
}

impl<'a> CrlMark<'a> {
    /// The mark of a parsed CRL, given the SHA-256 of its DER.
    pub fn of(header: &CrlHeader<'a>, sha256: [u8; 32]) -> CrlMark<'a> {
        CrlMark {
            crl_number: header.crl_number,
            this_update: header.this_update,
            sha256,
        }
    }
}

/// The outcome of [`check_progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A newer CRL: build a new snapshot.
    New,
    /// The very CRL we already have: keep the snapshot.
    Unchanged,
}

/// Compares two unsigned big-endian integers given as INTEGER contents.
fn compare_unsigned(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |x: &[u8]| -> Vec<u8> { x.iter().copied().skip_while(|b| *b == 0).collect() };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

/// Rollback rules between the CRL we have (`prev`, if any) and a candidate (`new`) of the same
/// partition:
/// - identical bytes (same SHA-256) → [`Progress::Unchanged`];
/// - a lower CRL number, or the same CRL number with different bytes → [`CrlError::Rollback`];
/// - an earlier thisUpdate → [`CrlError::Rollback`]; the same thisUpdate with different bytes is
///   accepted only when the CRL number went up;
/// - a new CRL without a CRL number after one that had one → [`CrlError::Rollback`];
/// - otherwise [`Progress::New`].
pub fn check_progress(prev: Option<&CrlMark<'_>>, new: &CrlMark<'_>) -> Result<Progress, CrlError> {
    use std::cmp::Ordering;
    let Some(prev) = prev else {
        return Ok(Progress::New);
    };
    if prev.sha256 == new.sha256 {
        return Ok(Progress::Unchanged);
    }
    let number = match (prev.crl_number, new.crl_number) {
        (Some(p), Some(n)) => Some(compare_unsigned(n, p)),
        (Some(_), None) => {
            return Err(CrlError::Rollback {
                what: "the new CRL has no CRL number but the previous one had",
            });
        }
        (None, _) => None,
    };
    match number {
        Some(Ordering::Less) => {
            return Err(CrlError::Rollback {
                what: "the CRL number went back",
            });
        }
        Some(Ordering::Equal) => {
            return Err(CrlError::Rollback {
                what: "same CRL number with different content",
            });
        }
        _ => {}
    }
    match new.this_update.cmp(&prev.this_update) {
        Ordering::Less => Err(CrlError::Rollback {
            what: "thisUpdate went back",
        }),
        Ordering::Equal if number.is_none() => Err(CrlError::Rollback {
            what: "same thisUpdate with different content",
        }),
        _ => Ok(Progress::New),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(n: Option<&'static [u8]>, t: i64, h: u8) -> CrlMark<'static> {
        CrlMark {
            crl_number: n,
            this_update: t,
            sha256: [h; 32],
        }
    }

    #[test]
    fn progress() {
        let prev = mark(Some(&[0x05]), 100, 1);
        assert_eq!(check_progress(None, &prev).unwrap(), Progress::New);
        assert_eq!(check_progress(Some(&prev), &prev).unwrap(), Progress::Unchanged);
        assert_eq!(
            check_progress(Some(&prev), &mark(Some(&[0x06]), 200, 2)).unwrap(),
            Progress::New
        );
        assert_eq!(
            check_progress(Some(&prev), &mark(Some(&[0x00, 0x80]), 200, 2)).unwrap(),
            Progress::New
        );
        assert_eq!(
            check_progress(Some(&prev), &mark(Some(&[0x06]), 100, 2)).unwrap(),
            Progress::New
        );
        for bad in [
            mark(Some(&[0x04]), 200, 2),
            mark(Some(&[0x05]), 200, 2),
            mark(Some(&[0x00, 0x05]), 100, 2),
            mark(Some(&[0x06]), 99, 2),
            mark(None, 200, 2),
        ] {
            assert!(
                matches!(check_progress(Some(&prev), &bad), Err(CrlError::Rollback { .. })),
                "{bad:?}"
            );
        }
        let unnumbered = mark(None, 100, 1);
        assert_eq!(
            check_progress(Some(&unnumbered), &mark(None, 101, 2)).unwrap(),
            Progress::New
        );
        assert!(check_progress(Some(&unnumbered), &mark(None, 100, 2)).is_err());
    }
}
