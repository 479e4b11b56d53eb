//! CRL signature and issuer checks with OpenSSL, and the freshness and rollback rules.
//!
//! All JPKI CA generations share one DN, so a CRL is tied to its CA by key: the CRL's
//! authorityKeyIdentifier must equal the CA certificate's subjectKeyIdentifier when both exist,
//! the issuer Name must equal the CA subject byte for byte, and the signature over `tbs` must
//! verify with the CA key. Which signature algorithms are accepted and which are weak is the
//! policy table [`jpki::algorithm`] (SHA-2 with RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA; MD5 and
//! SHA-1 refused as weak); RSA keys below 2048 bits are refused as weak here.
//!
//! This module does not decide which CAs are trusted: the caller passes the configured CA
//! certificates, and checks their own validity and chain elsewhere (the `verifier` crate).
//! [`check_times`] and [`check_progress`] are pure functions that the snapshot writer applies.

use const_oid::ObjectIdentifier;
use jpki::algorithm::{self, AlgorithmError, Hash, Scheme};
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use openssl::x509::{X509, X509Ref};

use crate::error::CrlError;
use crate::parse::{CrlHeader, HASH_CHUNK, SignatureAlgorithm};

/// Minimum RSA modulus size accepted for a CA key.
const MIN_RSA_BITS: u32 = 2048;

struct Algorithm {
    digest: MessageDigest,
    scheme: Scheme,
}

fn message_digest(hash: Hash) -> MessageDigest {
    match hash {
        Hash::Sha256 => MessageDigest::sha256(),
        Hash::Sha384 => MessageDigest::sha384(),
        Hash::Sha512 => MessageDigest::sha512(),
    }
}

/// The CRL's signature algorithm as the policy table ([`jpki::algorithm`]) judges it: a weak
/// algorithm (or a weak hash inside RSASSA-PSS-params) is [`CrlError::WeakAlgorithm`], anything
/// else refused is [`CrlError::UnsupportedAlgorithm`].
fn algorithm(alg: &SignatureAlgorithm<'_>) -> Result<Algorithm, CrlError> {
    match algorithm::classify(&alg.oid, alg.parameters) {
        Ok(a) => Ok(Algorithm {
            digest: message_digest(a.hash),
            scheme: a.scheme,
        }),
        Err(AlgorithmError::Weak { name, oid }) => Err(CrlError::WeakAlgorithm {
            what: format!("{name} ({oid})"),
        }),
        Err(AlgorithmError::Unknown { oid }) => Err(CrlError::UnsupportedAlgorithm { oid: oid.to_string() }),
        Err(_) => Err(CrlError::UnsupportedAlgorithm {
            oid: alg.oid.to_string(),
        }),
    }
}

fn check_key(key: &PKey<Public>, scheme: Scheme, oid: &ObjectIdentifier) -> Result<(), CrlError> {
    let ok = match (scheme, key.id()) {
        (Scheme::RsaPkcs1, Id::RSA) | (Scheme::RsaPss { .. }, Id::RSA | Id::RSA_PSS) => {
            if key.bits() < MIN_RSA_BITS {
                return Err(CrlError::WeakAlgorithm {
                    what: format!("RSA-{}", key.bits()),
                });
            }
            true
        }
        (Scheme::Ecdsa, Id::EC) => true,
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
    check_key(&key, alg.scheme, &oid)?;

    if let Some(digest) = header.tbs_digest {
        return verify_digest(&alg, &key, digest, header.signature);
    }
    let mut verifier = Verifier::new(alg.digest, &key)?;
    if let Scheme::RsaPss { salt_len } = alg.scheme {
        verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
        verifier.set_rsa_mgf1_md(alg.digest)?;
        verifier.set_rsa_pss_saltlen(RsaPssSaltlen::custom(i32::from(salt_len)))?;
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
    match alg.scheme {
        Scheme::RsaPkcs1 => ctx.set_rsa_padding(Padding::PKCS1)?,
        Scheme::RsaPss { salt_len } => {
            ctx.set_rsa_padding(Padding::PKCS1_PSS)?;
            ctx.set_rsa_mgf1_md(Md::from_nid(alg.digest.type_()).ok_or(CrlError::BadSignature)?)?;
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::custom(i32::from(salt_len)))?;
        }
        Scheme::Ecdsa => {}
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
