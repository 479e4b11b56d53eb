//! A zero-copy, streaming CRL reader (RFC 5280 §5).
//!
//! ```text
//! CertificateList  ::=  SEQUENCE  {
//!      tbsCertList          TBSCertList,
//!      signatureAlgorithm   AlgorithmIdentifier,
//!      signatureValue       BIT STRING  }
//!
//! TBSCertList  ::=  SEQUENCE  {
//!      version                 Version OPTIONAL,   -- if present, MUST be v2
//!      signature               AlgorithmIdentifier,
//!      issuer                  Name,
//!      thisUpdate              Time,
//!      nextUpdate              Time OPTIONAL,
//!      revokedCertificates     SEQUENCE OF SEQUENCE  {
//!           userCertificate         CertificateSerialNumber,
//!           revocationDate          Time,
//!           crlEntryExtensions      Extensions OPTIONAL  -- if present, version MUST be v2
//!                                }  OPTIONAL,
//!      crlExtensions           [0]  EXPLICIT Extensions OPTIONAL  -- if present, version MUST be v2
//!                                }
//! ```
//!
//! [`parse_crl`] reads everything except the revoked entries into a [`CrlHeader`] that borrows the
//! input: the signed bytes (`tbs`), the signature, the issuer, the times and the CRL extensions.
//! [`walk_revoked`] then scans `revokedCertificates` once and hands each entry's serial (a sub-slice
//! of the input), revocation time and reason to a [`RevokedVisitor`]; nothing is allocated per
//! entry, so a 20 M-entry, 800 MB CRL costs no memory beyond the input and what the visitor keeps.
//!
//! What this module does not do: verify the signature or the issuer (see [`crate::verify`]), decide
//! whether a CRL is fresh, or accept delta and indirect CRLs, which J-LIS does not publish.
//!
//! Leniency, chosen on purpose: long-form lengths need not be minimal, an explicit
//! `critical FALSE` is accepted, and a serial INTEGER with redundant leading zero octets is accepted
//! (its minimal form is handed on, counted in [`WalkStats::non_minimal_serials`]). None of these is
//! ambiguous. Indefinite lengths, negative or empty serials and serials longer than 20 octets are
//! rejected.

use std::fmt;

use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::name::Name;

use crate::error::CrlError;

mod fast;
mod pem;
pub(crate) mod skeleton;
#[cfg(test)]
mod tests;
mod tlv;
mod walk;

pub use pem::pem_or_der;
pub use tlv::MAX_INTEGER_OCTETS;
use tlv::*;
pub(crate) use tlv::{HASH_CHUNK, Reader, Tlv, parse_time};
pub(crate) use walk::EntryStream;
#[cfg(test)]
use walk::walk_entries;
use walk::walk_revoked_at;
pub use walk::{RevokedVisitor, WalkStats, skeleton_of, walk_revoked, walk_revoked_in_pieces};

/// Reads crlEntryExtensions and returns the reason code.
fn entry_extensions(extensions: &Tlv<'_>, offset: usize) -> Result<Option<u8>, CrlError> {
    let bad = |what: &'static str| CrlError::BadEntry { offset, what };
    let mut reason = None;
    let mut list = Reader::of(extensions);
    while !list.is_empty() {
        let ext = list
            .expect(TAG_SEQUENCE, "entry extension is not a SEQUENCE")
            .map_err(|p| bad(p.what))?;
        let (oid, critical, value) = extension_fields(&ext).map_err(|p| bad(p.what))?;
        match oid {
            OID_REASON_CODE => {
                if reason.is_some() {
                    return Err(bad("reasonCode appears twice"));
                }
                match value {
                    [TAG_ENUMERATED, 0x01, code] if *code <= 10 && *code != 7 => reason = Some(*code),
                    _ => return Err(bad("reasonCode is not an ENUMERATED in 0..=10 other than 7")),
                }
            }
            OID_INVALIDITY_DATE => {}
            OID_CERTIFICATE_ISSUER => return Err(CrlError::IndirectCrl { offset }),
            _ if critical => {
                return Err(CrlError::UnknownCriticalEntryExtension {
                    offset,
                    oid: oid_text(oid),
                });
            }
            _ => {}
        }
    }
    Ok(reason)
}

/// `Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`:
/// returns the OID content, the criticality and the extnValue content.
#[inline(always)]
fn extension_fields<'a>(ext: &Tlv<'a>) -> Result<(&'a [u8], bool, &'a [u8]), DerProblem> {
    let mut fields = Reader::of(ext);
    let oid = fields.expect(TAG_OID, "extnID is not an OBJECT IDENTIFIER")?;
    let mut critical = false;
    if fields.peek_tag() == Some(TAG_BOOLEAN) {
        let at = fields.offset();
        let b = fields.read()?;
        critical = boolean(b.content).ok_or(DerProblem {
            offset: at,
            what: "critical is not a DER BOOLEAN",
        })?;
    }
    let value = fields.expect(TAG_OCTET_STRING, "extnValue is not an OCTET STRING")?;
    fields.finish("unexpected element in Extension")?;
    Ok((oid.content, critical, value.content))
}

// ---------------------------------------------------------------------------------------------
// Header

/// The CRL format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlVersion {
    /// No version field: no extensions allowed.
    V1,
    /// `version` = 1.
    V2,
}

/// An AlgorithmIdentifier as it appears in the CRL.
///
/// ```text
/// AlgorithmIdentifier  ::=  SEQUENCE  {
///      algorithm               OBJECT IDENTIFIER,
///      parameters              ANY DEFINED BY algorithm OPTIONAL  }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureAlgorithm<'a> {
    /// The whole AlgorithmIdentifier TLV.
    pub der: &'a [u8],
    /// The algorithm.
    pub oid: ObjectIdentifier,
    /// The parameters TLV, if any (`05 00` for NULL).
    pub parameters: Option<&'a [u8]>,
}

impl<'a> SignatureAlgorithm<'a> {
    fn parse(tlv: &Tlv<'a>) -> Result<SignatureAlgorithm<'a>, CrlError> {
        let mut fields = Reader::of(tlv);
        let oid_tlv = fields
            .expect(TAG_OID, "algorithm is not an OBJECT IDENTIFIER")
            .map_err(DerProblem::header)?;
        let oid = ObjectIdentifier::from_bytes(oid_tlv.content).map_err(|_| CrlError::Malformed {
            offset: oid_tlv.offset,
            what: "invalid algorithm OBJECT IDENTIFIER",
        })?;
        let parameters = if fields.is_empty() {
            None
        } else {
            Some(fields.read().map_err(DerProblem::header)?.raw)
        };
        fields
            .finish("unexpected element in AlgorithmIdentifier")
            .map_err(DerProblem::header)?;
        Ok(SignatureAlgorithm {
            der: tlv.raw,
            oid,
            parameters,
        })
    }
}

/// Everything in a CRL except the revoked entries, borrowing the CRL's bytes.
#[derive(Clone)]
#[non_exhaustive]
pub struct CrlHeader<'a> {
    /// v1 or v2.
    pub version: CrlVersion,
    /// The signature algorithm (inner and outer are checked to be identical).
    pub signature_algorithm: SignatureAlgorithm<'a>,
    /// The issuer Name's DER (the whole SEQUENCE TLV), for byte comparison with a CA subject.
    pub issuer_der: &'a [u8],
    /// The issuer Name decoded, for display.
    pub issuer: Name,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds (required by us).
    pub next_update: i64,
    /// The cRLNumber INTEGER content in minimal form (non-negative, at most 20 octets of
    /// magnitude), if present.
    pub crl_number: Option<&'a [u8]>,
    /// The keyIdentifier of the authorityKeyIdentifier extension, if present.
    pub authority_key_id: Option<&'a [u8]>,
    /// The issuingDistributionPoint extension's value (DER of `IssuingDistributionPoint`), if
    /// present. Recorded, not interpreted.
    pub issuing_distribution_point: Option<&'a [u8]>,
    /// The whole TBSCertList TLV: the bytes the signature covers.
    pub tbs: &'a [u8],
    /// The signature: the BIT STRING content without the unused-bits octet.
    pub signature: &'a [u8],
    /// The content of revokedCertificates (concatenated entries); empty when absent.
    pub revoked: &'a [u8],
    /// Offset of `revoked` in the CRL's DER.
    pub revoked_offset: usize,
    /// The digest of `tbs` under the signature algorithm's hash, when the CRL was streamed
    /// rather than held whole (then `tbs` and `revoked` are those of its skeleton).
    pub tbs_digest: Option<&'a [u8]>,
}

impl CrlHeader<'_> {
    /// Walks the revoked entries into `visitor`; error offsets are offsets into the CRL's DER.
    pub fn walk_revoked<V: RevokedVisitor + ?Sized>(&self, visitor: &mut V) -> Result<WalkStats, CrlError> {
        walk_revoked_at(self.revoked, self.revoked_offset, visitor)
    }

    /// The CRL number as uppercase hex of its magnitude (`"00"` for zero), for logs and snapshots.
    pub fn crl_number_hex(&self) -> Option<String> {
        self.crl_number.map(|n| {
            let magnitude = match n {
                [0, rest @ ..] if !rest.is_empty() => rest,
                _ => n,
            };
            magnitude.iter().map(|b| format!("{b:02X}")).collect()
        })
    }
}

impl fmt::Debug for CrlHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        f.debug_struct("CrlHeader")
            .field("version", &self.version)
            .field("signature_algorithm", &self.signature_algorithm.oid)
            .field("issuer", &self.issuer.to_string())
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("crl_number", &self.crl_number.map(hex))
            .field("authority_key_id", &self.authority_key_id.map(hex))
            .field(
                "issuing_distribution_point",
                &self.issuing_distribution_point.map(<[u8]>::len),
            )
            .field("tbs_len", &self.tbs.len())
            .field("signature_len", &self.signature.len())
            .field("revoked_len", &self.revoked.len())
            .field("revoked_offset", &self.revoked_offset)
            .finish()
    }
}

/// Extensions we understand, read from crlExtensions.
#[derive(Default)]
struct CrlExtensions<'a> {
    crl_number: Option<&'a [u8]>,
    authority_key_id: Option<Option<&'a [u8]>>,
    issuing_distribution_point: Option<&'a [u8]>,
}

fn crl_extensions<'a>(outer: &Tlv<'a>) -> Result<CrlExtensions<'a>, CrlError> {
    let mut wrapper = Reader::of(outer);
    let list = wrapper
        .expect(TAG_SEQUENCE, "crlExtensions is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    wrapper
        .finish("unexpected element after crlExtensions")
        .map_err(DerProblem::header)?;

    let mut out = CrlExtensions::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut exts = Reader::of(&list);
    while !exts.is_empty() {
        let ext = exts
            .expect(TAG_SEQUENCE, "CRL extension is not a SEQUENCE")
            .map_err(DerProblem::header)?;
        let (oid, critical, value) = extension_fields(&ext).map_err(DerProblem::header)?;
        if seen.contains(&oid) {
            return Err(CrlError::BadExtension {
                name: "crlExtensions",
                what: "an extension appears twice",
            });
        }
        if seen.len() >= MAX_CRL_EXTENSIONS {
            return Err(CrlError::Malformed {
                offset: ext.offset,
                what: "too many CRL extensions",
            });
        }
        seen.push(oid);
        match oid {
            OID_CRL_NUMBER => out.crl_number = Some(crl_number(value)?),
            OID_AUTHORITY_KEY_IDENTIFIER => out.authority_key_id = Some(authority_key_id(value)?),
            OID_DELTA_CRL_INDICATOR => return Err(CrlError::DeltaCrl),
            OID_ISSUING_DISTRIBUTION_POINT => out.issuing_distribution_point = Some(value),
            _ if critical => return Err(CrlError::UnknownCriticalExtension { oid: oid_text(oid) }),
            _ => {}
        }
    }
    Ok(out)
}

/// `CRLNumber ::= INTEGER (0..MAX)`.
fn crl_number(value: &[u8]) -> Result<&[u8], CrlError> {
    let bad = |what| CrlError::BadExtension {
        name: "cRLNumber",
        what,
    };
    let mut r = Reader::new(value, 0);
    let int = r.expect(TAG_INTEGER, "not an INTEGER").map_err(|p| bad(p.what))?;
    r.finish("trailing data").map_err(|p| bad(p.what))?;
    let (number, _) = unsigned_integer(int.content).map_err(bad)?;
    Ok(number)
}

/// ```text
/// AuthorityKeyIdentifier ::= SEQUENCE {
///     keyIdentifier             [0] KeyIdentifier           OPTIONAL,
///     authorityCertIssuer       [1] GeneralNames            OPTIONAL,
///     authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL  }
/// ```
fn authority_key_id(value: &[u8]) -> Result<Option<&[u8]>, CrlError> {
    let bad = |what| CrlError::BadExtension {
        name: "authorityKeyIdentifier",
        what,
    };
    let mut r = Reader::new(value, 0);
    let seq = r
        .expect(TAG_SEQUENCE, "not a SEQUENCE")
        .map_err(|p| bad(p.what))?;
    r.finish("trailing data").map_err(|p| bad(p.what))?;
    let mut fields = Reader::of(&seq);
    let mut key_id = None;
    let mut last_tag = None;
    while !fields.is_empty() {
        let field = fields.read().map_err(|p| bad(p.what))?;
        let number = field.tag & 0x1f;
        if field.tag & 0xc0 != 0x80 || number > 2 || last_tag.is_some_and(|t| t >= number) {
            return Err(bad("unexpected field"));
        }
        last_tag = Some(number);
        if field.tag == TAG_AKI_KEY_ID {
            key_id = Some(field.content);
        }
    }
    Ok(key_id)
}

/// Parses a DER CRL, except its revoked entries, after checking its size against `max_bytes`.
///
/// Rejects: trailing data, a version other than v2 when present, extensions in a v1 CRL, inner
/// and outer signature algorithms that differ, a missing nextUpdate or one before thisUpdate, a
/// delta CRL, an unknown critical CRL extension, a malformed cRLNumber (negative or more than
/// 20 octets) or authorityKeyIdentifier, and a signature BIT STRING with unused bits.
pub fn parse_crl(der: &[u8], max_bytes: usize) -> Result<CrlHeader<'_>, CrlError> {
    if der.len() > max_bytes {
        return Err(CrlError::TooLarge {
            size: der.len(),
            max: max_bytes,
        });
    }
    let mut top = Reader::new(der, 0);
    let list = top
        .expect(TAG_SEQUENCE, "CertificateList is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    top.finish("trailing data after the CertificateList")
        .map_err(DerProblem::header)?;

    let mut outer = Reader::of(&list);
    let tbs = outer
        .expect(TAG_SEQUENCE, "tbsCertList is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    let outer_algorithm = outer
        .expect(TAG_SEQUENCE, "signatureAlgorithm is not a SEQUENCE")
        .map_err(DerProblem::header)?;
    let signature_value = outer
        .expect(TAG_BIT_STRING, "signatureValue is not a BIT STRING")
        .map_err(DerProblem::header)?;
    outer
        .finish("unexpected element after signatureValue")
        .map_err(DerProblem::header)?;
    let signature = match signature_value.content {
        [0, signature @ ..] => signature,
        _ => {
            return Err(CrlError::Malformed {
                offset: signature_value.offset,
                what: "signatureValue has unused bits",
            });
        }
    };

    let mut t = Reader::of(&tbs);
    let version = if t.peek_tag() == Some(TAG_INTEGER) {
        let v = t.read().map_err(DerProblem::header)?;
        if v.content != [0x01] {
            return Err(CrlError::UnsupportedVersion {
                what: "the version field is present but is not v2",
            });
        }
        CrlVersion::V2
    } else {
        CrlVersion::V1
    };
    let inner_algorithm = t
        .expect(TAG_SEQUENCE, "signature is not an AlgorithmIdentifier")
        .map_err(DerProblem::header)?;
    let issuer = t
        .expect(TAG_SEQUENCE, "issuer is not a Name")
        .map_err(DerProblem::header)?;
    let time = |r: &mut Reader<'_>| -> Result<i64, CrlError> {
        let at = r.offset();
        let tlv = r.read().map_err(DerProblem::header)?;
        parse_time(tlv.tag, tlv.content).map_err(|what| CrlError::Malformed { offset: at, what })
    };
    let this_update = time(&mut t)?;
    let next_update = match t.peek_tag() {
        Some(TAG_UTC_TIME | TAG_GENERALIZED_TIME) => Some(time(&mut t)?),
        _ => None,
    };
    let (revoked, revoked_offset) = if t.peek_tag() == Some(TAG_SEQUENCE) {
        let r = t.read().map_err(DerProblem::header)?;
        (r.content, r.content_offset)
    } else {
        (&[][..], t.offset())
    };
    let extensions = if t.peek_tag() == Some(TAG_CRL_EXTENSIONS) {
        let ext = t.read().map_err(DerProblem::header)?;
        if version == CrlVersion::V1 {
            return Err(CrlError::UnsupportedVersion {
                what: "a v1 CRL carries crlExtensions",
            });
        }
        crl_extensions(&ext)?
    } else {
        CrlExtensions::default()
    };
    t.finish("unexpected element in TBSCertList")
        .map_err(DerProblem::header)?;

    if inner_algorithm.raw != outer_algorithm.raw {
        return Err(CrlError::AlgorithmMismatch);
    }
    let signature_algorithm = SignatureAlgorithm::parse(&inner_algorithm)?;
    let next_update = next_update.ok_or(CrlError::MissingNextUpdate)?;
    if next_update < this_update {
        return Err(CrlError::InvertedValidity {
            this_update,
            next_update,
        });
    }
    let issuer_name = Name::from_der(issuer.raw).map_err(|e| CrlError::BadIssuerName {
        detail: e.to_string(),
    })?;

    Ok(CrlHeader {
        version,
        signature_algorithm,
        issuer_der: issuer.raw,
        issuer: issuer_name,
        this_update,
        next_update,
        crl_number: extensions.crl_number,
        authority_key_id: extensions.authority_key_id.flatten(),
        issuing_distribution_point: extensions.issuing_distribution_point,
        tbs: tbs.raw,
        signature,
        revoked,
        revoked_offset,
        tbs_digest: None,
    })
}

// ---------------------------------------------------------------------------------------------
// PEM
