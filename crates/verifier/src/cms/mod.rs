//! CMS SignedData ([RFC 5652]), attached or detached, as desktop signing tools send it.
//!
//! What is accepted, on purpose narrowly:
//! - DER. BER (indefinite lengths, constructed OCTET STRINGs, as streaming encoders write) is
//!   first normalised to DER by OpenSSL's decoder and re-encoder, then parsed strictly here.
//! - Exactly **one** SignerInfo: a JPKI signature is one card holder's.
//! - **Signed attributes are required**, with exactly one value each of `contentType` (equal to
//!   `eContentType`), `messageDigest` (equal to the hash of the content) and `signingTime`
//!   (UTCTime or GeneralizedTime; reported, never trusted for validity). A SignerInfo without
//!   signed attributes is refused with `SIG_CONSTRAINTS_FAILURE`.
//! - The signer certificate is taken from `certificates` by `issuerAndSerialNumber` or
//!   `subjectKeyIdentifier`; it is then judged exactly like a raw signature's certificate.
//!   Other certificates in the message are ignored: chains end at the trust store's roots.
//! - Digests and signature algorithms as the policy table [`jpki::algorithm`] accepts them
//!   (SHA-256/384/512; shaNNNWithRSAEncryption, RSASSA-PSS, ecdsa-with-SHANNN), plus rsaEncryption
//!   and id-ecPublicKey as the signatureAlgorithm. The signature's hash must be the
//!   digestAlgorithm, and an RSASSA-PSS salt the hash length. SHA-1 and MD5 are refused with
//!   `CRYPTO_CONSTRAINTS_FAILURE`.
//!
//! [RFC 5652]: https://www.rfc-editor.org/rfc/rfc5652

use std::borrow::Cow;

use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use openssl::cms::CmsContentInfo;
use serde::Serialize;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::spki::AlgorithmIdentifierRef;

use crate::cert_checks::clear_openssl_errors;
use crate::error::Failure;
use crate::report::ReasonCode;
use crate::signature::{HashAlg, Scheme};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ATTR_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ATTR_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ATTR_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const EXT_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// How the SignerInfo named its certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerIdKind {
    /// `issuerAndSerialNumber`.
    IssuerAndSerialNumber,
    /// `subjectKeyIdentifier`.
    SubjectKeyIdentifier,
}

/// ```asn1
/// SignerIdentifier ::= CHOICE {
///   issuerAndSerialNumber IssuerAndSerialNumber,
///   subjectKeyIdentifier [0] SubjectKeyIdentifier }
///
/// IssuerAndSerialNumber ::= SEQUENCE {
///   issuer Name,
///   serialNumber CertificateSerialNumber }
/// ```
#[derive(Clone, Copy, Debug)]
enum SignerId<'a> {
    /// The issuer `Name` TLV and the serial INTEGER's content octets.
    IssuerSerial {
        issuer: &'a [u8],
        serial: &'a [u8],
    },
    Ski(&'a [u8]),
}

/// The parts of a SignedData with one SignerInfo that verification needs.
///
/// ```asn1
/// ContentInfo ::= SEQUENCE {
///   contentType ContentType,
///   content [0] EXPLICIT ANY DEFINED BY contentType }
///
/// SignedData ::= SEQUENCE {
///   version CMSVersion,
///   digestAlgorithms DigestAlgorithmIdentifiers,
///   encapContentInfo EncapsulatedContentInfo,
///   certificates [0] IMPLICIT CertificateSet OPTIONAL,
///   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
///   signerInfos SignerInfos }
///
/// EncapsulatedContentInfo ::= SEQUENCE {
///   eContentType ContentType,
///   eContent [0] EXPLICIT OCTET STRING OPTIONAL }
///
/// SignerInfo ::= SEQUENCE {
///   version CMSVersion,
///   sid SignerIdentifier,
///   digestAlgorithm DigestAlgorithmIdentifier,
///   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
///   signatureAlgorithm SignatureAlgorithmIdentifier,
///   signature SignatureValue,
///   unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
/// ```
#[derive(Debug)]
pub(crate) struct SignedData<'a> {
    pub e_content_type: ObjectIdentifier,
    pub e_content: Option<&'a [u8]>,
    certificates: Vec<&'a [u8]>,
    sid: SignerId<'a>,
    digest_alg: AlgorithmIdentifierRef<'a>,
    /// The whole `[0] IMPLICIT` TLV.
    signed_attrs: Option<&'a [u8]>,
    signature_alg: AlgorithmIdentifierRef<'a>,
    pub signature: &'a [u8],
}

/// The checked signed attributes.
///
/// ```asn1
/// SignedAttributes ::= SET SIZE (1..MAX) OF Attribute
/// Attribute ::= SEQUENCE {
///   attrType OBJECT IDENTIFIER,
///   attrValues SET OF AttributeValue }
/// ContentType ::= OBJECT IDENTIFIER            -- 1.2.840.113549.1.9.3
/// MessageDigest ::= OCTET STRING               -- 1.2.840.113549.1.9.4
/// SigningTime ::= Time                         -- 1.2.840.113549.1.9.5
/// ```
#[derive(Debug)]
pub(crate) struct SignedAttrs<'a> {
    pub message_digest: &'a [u8],
    pub signing_time: i64,
    /// What the signature covers: the attributes re-tagged as `SET OF` (RFC 5652 §5.4).
    pub signed_der: Vec<u8>,
}

fn bad(what: &str) -> impl FnOnce(der::Error) -> Failure + '_ {
    move |e| Failure::malformed(format!("CMS {what}: {e}"))
}

fn ctx(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

fn reader<'a>(bytes: &'a [u8], what: &str) -> Result<SliceReader<'a>, Failure> {
    SliceReader::new(bytes).map_err(bad(what))
}

fn expect<'a>(r: &mut SliceReader<'a>, tag: Tag, what: &str) -> Result<AnyRef<'a>, Failure> {
    let any: AnyRef<'a> = r.decode().map_err(bad(what))?;
    if any.tag() != tag {
        return Err(Failure::malformed(format!(
            "CMS {what}: expected {tag}, found {}",
            any.tag()
        )));
    }
    Ok(any)
}

fn finish(r: SliceReader<'_>, what: &str) -> Result<(), Failure> {
    r.finish().map_err(bad(what))
}

fn peek_is(r: &SliceReader<'_>, tag: Tag) -> bool {
    !r.is_finished() && Tag::peek(r).is_ok_and(|t| t == tag)
}

/// The input as DER: itself when it already parses, else OpenSSL's re-encoding of it (which
/// turns BER indefinite lengths and constructed strings into DER). Parse errors of the original
/// are reported when OpenSSL cannot read it either.
pub(crate) fn parse_normalised(input: &[u8], max_certificates: usize) -> Result<Cow<'_, [u8]>, Failure> {
    match parse(input, max_certificates) {
        Ok(_) => Ok(Cow::Borrowed(input)),
        Err(original) => {
            // OpenSSL stops after the first object: refuse trailing bytes here first.
            if ber_len(input, 0) != Some(input.len()) {
                return Err(original);
            }
            let der = CmsContentInfo::from_der(input).and_then(|c| c.to_der());
            clear_openssl_errors();
            match der {
                Ok(der) if der.as_slice() != input && der.len() <= input.len().saturating_mul(2) => {
                    parse(&der, max_certificates).map_err(|_| original)?;
                    Ok(Cow::Owned(der))
                }
                _ => Err(original),
            }
        }
    }
}

/// The length of the BER TLV at the start of `b` (definite or indefinite length), or `None`
/// when it is not one or nests deeper than 32 levels.
fn ber_len(b: &[u8], depth: u32) -> Option<usize> {
    if depth > 32 {
        return None;
    }
    let tag = *b.first()?;
    let mut pos = 1;
    if tag & 0x1f == 0x1f {
        while *b.get(pos)? & 0x80 != 0 {
            pos += 1;
            if pos > 5 {
                return None;
            }
        }
        pos += 1;
    }
    let first = *b.get(pos)?;
    pos += 1;
    let len = match first {
        0x00..=0x7f => usize::from(first),
        0x80 => {
            if tag & 0x20 == 0 {
                return None;
            }
            loop {
                if b.get(pos..pos.checked_add(2)?)? == [0, 0] {
                    return Some(pos + 2);
                }
                pos = pos.checked_add(ber_len(b.get(pos..)?, depth + 1)?)?;
            }
        }
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let bytes = b.get(pos..pos.checked_add(n)?)?;
            pos += n;
            bytes.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x))
        }
        _ => return None,
    };
    let end = pos.checked_add(len)?;
    (end <= b.len()).then_some(end)
}

/// Parses a DER ContentInfo holding a SignedData with exactly one SignerInfo.
pub(crate) fn parse(input: &[u8], max_certificates: usize) -> Result<SignedData<'_>, Failure> {
    let mut top = reader(input, "ContentInfo")?;
    let ci = expect(&mut top, Tag::Sequence, "ContentInfo")?;
    finish(top, "ContentInfo (trailing data)")?;
    let mut r = reader(ci.value(), "ContentInfo")?;
    let content_type: ObjectIdentifier = r.decode().map_err(bad("contentType"))?;
    if content_type != ID_SIGNED_DATA {
        return Err(Failure::malformed(format!(
            "CMS contentType is {content_type}, not SignedData"
        )));
    }
    let content = expect(&mut r, ctx(0, true), "ContentInfo.content")?;
    finish(r, "ContentInfo")?;
    let mut c = reader(content.value(), "SignedData")?;
    let sd = expect(&mut c, Tag::Sequence, "SignedData")?;
    finish(c, "SignedData (trailing data)")?;

    let mut s = reader(sd.value(), "SignedData")?;
    let sd_version = expect(&mut s, Tag::Integer, "SignedData.version")?.value();
    let digest_set = expect(&mut s, Tag::Set, "SignedData.digestAlgorithms")?;
    let mut digest_algs = Vec::new();
    let mut dr = reader(digest_set.value(), "SignedData.digestAlgorithms")?;
    while !dr.is_finished() {
        let alg: AlgorithmIdentifierRef<'_> = dr.decode().map_err(bad("SignedData.digestAlgorithms"))?;
        no_params(&alg, "SignedData.digestAlgorithms")?;
        digest_algs.push(alg.oid);
    }
    // RFC 5652 §5.1: the version follows from what the message holds.
    let (mut other_formats, mut attr_v2, mut attr_v1) = (false, false, false);
    let eci = expect(&mut s, Tag::Sequence, "encapContentInfo")?;
    let (e_content_type, e_content) = parse_encap(eci)?;
    let mut certificates = Vec::new();
    if peek_is(&s, ctx(0, true)) {
        let set = expect(&mut s, ctx(0, true), "SignedData.certificates")?;
        let mut cr = reader(set.value(), "SignedData.certificates")?;
        while !cr.is_finished() {
            let tlv = cr.tlv_bytes().map_err(bad("SignedData.certificates"))?;
            // Only plain X.509 certificates; attribute and other certificate formats are skipped.
            match tlv.first() {
                Some(0xa1) => attr_v1 = true,
                Some(0xa2) => attr_v2 = true,
                Some(0x30) => {}
                _ => other_formats = true,
            }
            if tlv.first() == Some(&0x30) {
                if certificates.len() >= max_certificates {
                    return Err(Failure::malformed(format!(
                        "CMS carries more than {max_certificates} certificates"
                    )));
                }
                certificates.push(tlv);
            }
        }
    }
    if peek_is(&s, ctx(1, true)) {
        let crls = expect(&mut s, ctx(1, true), "SignedData.crls")?;
        let mut cr = reader(crls.value(), "SignedData.crls")?;
        while !cr.is_finished() {
            if cr.tlv_bytes().map_err(bad("SignedData.crls"))?.first() != Some(&0x30) {
                other_formats = true;
            }
        }
    }
    let infos = expect(&mut s, Tag::Set, "SignedData.signerInfos")?;
    finish(s, "SignedData")?;
    let mut ir = reader(infos.value(), "signerInfos")?;
    if ir.is_finished() {
        return Err(Failure::malformed("CMS has no SignerInfo"));
    }
    let info = expect(&mut ir, Tag::Sequence, "SignerInfo")?;
    if !ir.is_finished() {
        return Err(Failure::new(
            ReasonCode::SigConstraintsFailure,
            "CMS has more than one SignerInfo; exactly one signer is accepted",
        ));
    }
    let mut si = reader(info.value(), "SignerInfo")?;
    let si_version = expect(&mut si, Tag::Integer, "SignerInfo.version")?.value();
    let sid = if peek_is(&si, Tag::Sequence) {
        let ias = expect(&mut si, Tag::Sequence, "issuerAndSerialNumber")?;
        let mut ir = reader(ias.value(), "issuerAndSerialNumber")?;
        let issuer = ir.tlv_bytes().map_err(bad("issuerAndSerialNumber.issuer"))?;
        if issuer.first() != Some(&0x30) {
            return Err(Failure::malformed(
                "CMS issuerAndSerialNumber.issuer is not a Name",
            ));
        }
        let serial = expect(&mut ir, Tag::Integer, "issuerAndSerialNumber.serialNumber")?;
        finish(ir, "issuerAndSerialNumber")?;
        SignerId::IssuerSerial {
            issuer,
            serial: serial.value(),
        }
    } else {
        SignerId::Ski(expect(&mut si, ctx(0, false), "SignerInfo.sid")?.value())
    };
    let digest_alg: AlgorithmIdentifierRef<'_> = si.decode().map_err(bad("digestAlgorithm"))?;
    no_params(&digest_alg, "digestAlgorithm")?;
    if !digest_algs.contains(&digest_alg.oid) {
        return Err(Failure::malformed(
            "CMS digestAlgorithms does not list the signer's digestAlgorithm",
        ));
    }
    let signed_attrs = if peek_is(&si, ctx(0, true)) {
        Some(si.tlv_bytes().map_err(bad("signedAttrs"))?)
    } else {
        None
    };
    let signature_alg: AlgorithmIdentifierRef<'_> = si.decode().map_err(bad("signatureAlgorithm"))?;
    let signature = expect(&mut si, Tag::OctetString, "SignerInfo.signature")?.value();
    if peek_is(&si, ctx(1, true)) {
        expect(&mut si, ctx(1, true), "unsignedAttrs")?;
    }
    finish(si, "SignerInfo")?;
    let ski = matches!(sid, SignerId::Ski(_));
    if si_version != [if ski { 3 } else { 1 }] {
        return Err(Failure::malformed("CMS SignerInfo.version does not fit its sid"));
    }
    let expected: u8 = if other_formats {
        5
    } else if attr_v2 {
        4
    } else if attr_v1 || ski || e_content_type != ID_DATA {
        3
    } else {
        1
    };
    if sd_version != [expected] {
        return Err(Failure::malformed(format!(
            "CMS SignedData.version is not {expected} (RFC 5652 §5.1)"
        )));
    }
    Ok(SignedData {
        e_content_type,
        e_content,
        certificates,
        sid,
        digest_alg,
        signed_attrs,
        signature_alg,
        signature,
    })
}

/// Parameters absent or NULL, as for digest, PKCS#1 v1.5 and ECDSA algorithm identifiers.
fn no_params(alg: &AlgorithmIdentifierRef<'_>, what: &str) -> Result<(), Failure> {
    match &alg.parameters {
        None => Ok(()),
        Some(p) if p.is_null() => Ok(()),
        Some(_) => Err(Failure::malformed(format!(
            "CMS {what}: unexpected parameters for {}",
            alg.oid
        ))),
    }
}

fn parse_encap(eci: AnyRef<'_>) -> Result<(ObjectIdentifier, Option<&[u8]>), Failure> {
    let mut r = reader(eci.value(), "encapContentInfo")?;
    let oid: ObjectIdentifier = r.decode().map_err(bad("eContentType"))?;
    let content = if r.is_finished() {
        None
    } else {
        let wrapper = expect(&mut r, ctx(0, true), "eContent")?;
        let mut w = reader(wrapper.value(), "eContent")?;
        let octets = expect(&mut w, Tag::OctetString, "eContent")?;
        finish(w, "eContent")?;
        Some(octets.value())
    };
    finish(r, "encapContentInfo")?;
    Ok((oid, content))
}

mod signer;
#[cfg(test)]
mod tests;
