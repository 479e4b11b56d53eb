//! What a parsed SignedData says about its signer: digest and signature algorithms, the signer's
//! certificate among those carried, and the signed attributes (contentType, messageDigest,
//! signingTime).

use super::*;

impl<'a> SignedData<'a> {
    /// The signer's digest algorithm (SHA-1 and MD5 are refused here).
    pub fn digest(&self) -> Result<HashAlg, Failure> {
        let h = hash_of(&self.digest_alg.oid)?;
        h.allowed()?;
        Ok(h)
    }

    /// How the SignerInfo identifies its certificate.
    pub fn signer_id_kind(&self) -> SignerIdKind {
        match self.sid {
            SignerId::IssuerSerial { .. } => SignerIdKind::IssuerAndSerialNumber,
            SignerId::Ski(_) => SignerIdKind::SubjectKeyIdentifier,
        }
    }

    /// The signature algorithm OID, dotted.
    pub fn signature_alg_oid(&self) -> String {
        self.signature_alg.oid.to_string()
    }

    /// The signer's certificate from `certificates`, DER.
    pub fn signer_certificate(&self) -> Result<&'a [u8], Failure> {
        for der in &self.certificates {
            let Ok(cert) = Certificate::from_der(der) else {
                continue;
            };
            let tbs = cert.tbs_certificate();
            let hit = match self.sid {
                SignerId::IssuerSerial { issuer, serial } => {
                    tbs.serial_number().as_bytes() == serial
                        && der::Encode::to_der(tbs.issuer()).is_ok_and(|n| n == issuer)
                }
                SignerId::Ski(ski) => tbs
                    .extensions()
                    .map(|e| e.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .filter(|e| e.extn_id == EXT_SKI)
                    .any(|e| {
                        SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
                            .is_ok_and(|k| k.0.as_bytes() == ski)
                    }),
            };
            if hit {
                return Ok(der);
            }
        }
        Err(Failure::new(
            ReasonCode::NoSigningCertificateFound,
            "the signer's certificate is not in the CMS certificates",
        ))
    }

    /// The signature scheme and hash, from signatureAlgorithm and digestAlgorithm.
    pub fn scheme(&self) -> Result<(Scheme, HashAlg), Failure> {
        let digest = self.digest()?;
        let oid = self.signature_alg.oid.to_string();
        let with = |h: HashAlg, scheme: Scheme| -> Result<(Scheme, HashAlg), Failure> {
            h.allowed()?;
            if h != digest {
                return Err(Failure::new(
                    ReasonCode::UnsupportedAlgorithm,
                    format!("CMS signatureAlgorithm {oid} does not match digestAlgorithm {digest:?}"),
                ));
            }
            Ok((scheme, h))
        };
        if oid != "1.2.840.113549.1.1.10" {
            no_params(&self.signature_alg, "signatureAlgorithm")?;
        }
        match oid.as_str() {
            "1.2.840.113549.1.1.1" => Ok((Scheme::Pkcs1, digest)),
            "1.2.840.113549.1.1.11" => with(HashAlg::Sha256, Scheme::Pkcs1),
            "1.2.840.113549.1.1.12" => with(HashAlg::Sha384, Scheme::Pkcs1),
            "1.2.840.113549.1.1.13" => with(HashAlg::Sha512, Scheme::Pkcs1),
            "1.2.840.113549.1.1.5" => with(HashAlg::Sha1, Scheme::Pkcs1),
            "1.2.840.113549.1.1.4" => with(HashAlg::Md5, Scheme::Pkcs1),
            "1.2.840.113549.1.1.10" => {
                let h = pss_hash(self.signature_alg.parameters.as_ref())?;
                with(h, Scheme::Pss)
            }
            "1.2.840.10045.2.1" => Ok((Scheme::Ecdsa, digest)),
            "1.2.840.10045.4.3.2" => with(HashAlg::Sha256, Scheme::Ecdsa),
            "1.2.840.10045.4.3.3" => with(HashAlg::Sha384, Scheme::Ecdsa),
            "1.2.840.10045.4.3.4" => with(HashAlg::Sha512, Scheme::Ecdsa),
            "1.2.840.10045.4.1" => with(HashAlg::Sha1, Scheme::Ecdsa),
            other => Err(Failure::new(
                ReasonCode::UnsupportedAlgorithm,
                format!("CMS signature algorithm {other} is not supported"),
            )),
        }
    }

    /// Checks and returns the signed attributes; `contentType` must equal `eContentType`.
    pub fn signed_attrs(&self) -> Result<SignedAttrs<'a>, Failure> {
        let tlv = self.signed_attrs.ok_or_else(|| {
            Failure::new(
                ReasonCode::SigConstraintsFailure,
                "CMS SignerInfo has no signed attributes (contentType, messageDigest and \
                 signingTime are required)",
            )
        })?;
        let mut top = reader(tlv, "signedAttrs")?;
        let set = expect(&mut top, ctx(0, true), "signedAttrs")?;
        finish(top, "signedAttrs")?;
        let mut content_type = None;
        let mut message_digest = None;
        let mut signing_time = None;
        let mut r = reader(set.value(), "signedAttrs")?;
        while !r.is_finished() {
            let attr = expect(&mut r, Tag::Sequence, "Attribute")?;
            let mut a = reader(attr.value(), "Attribute")?;
            let oid: ObjectIdentifier = a.decode().map_err(bad("Attribute.attrType"))?;
            let values = expect(&mut a, Tag::Set, "Attribute.attrValues")?;
            finish(a, "Attribute")?;
            let mut v = reader(values.value(), "Attribute.attrValues")?;
            let twice = || Failure::malformed(format!("CMS signed attribute {oid} appears twice"));
            match oid {
                ATTR_CONTENT_TYPE => {
                    let ct: ObjectIdentifier = v.decode().map_err(bad("contentType attribute"))?;
                    if content_type.replace(ct).is_some() {
                        return Err(twice());
                    }
                }
                ATTR_MESSAGE_DIGEST => {
                    let md = expect(&mut v, Tag::OctetString, "messageDigest attribute")?;
                    if message_digest.replace(md.value()).is_some() {
                        return Err(twice());
                    }
                }
                ATTR_SIGNING_TIME => {
                    let t: x509_cert::time::Time = v.decode().map_err(bad("signingTime attribute"))?;
                    let t = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
                    if signing_time.replace(t).is_some() {
                        return Err(twice());
                    }
                }
                _ => continue,
            }
            finish(v, "signed attribute with more than one value")?;
        }
        let missing = |name: &str| {
            Failure::new(
                ReasonCode::SigConstraintsFailure,
                format!("CMS signed attributes lack {name}"),
            )
        };
        let content_type = content_type.ok_or_else(|| missing("contentType"))?;
        if content_type != self.e_content_type {
            return Err(Failure::new(
                ReasonCode::SigConstraintsFailure,
                format!(
                    "CMS contentType attribute {content_type} differs from eContentType {}",
                    self.e_content_type
                ),
            ));
        }
        let message_digest = message_digest.ok_or_else(|| missing("messageDigest"))?;
        let signing_time = signing_time.ok_or_else(|| missing("signingTime"))?;
        let mut signed_der = Vec::with_capacity(tlv.len());
        signed_der.push(0x31);
        signed_der.extend_from_slice(tlv.get(1..).unwrap_or_default());
        Ok(SignedAttrs {
            message_digest,
            signing_time,
            signed_der,
        })
    }
}

/// The hash of RSASSA-PSS parameters that this verifier supports: hash = MGF1 hash, salt = hash
/// length, trailer 1.
///
/// ```asn1
/// RSASSA-PSS-params ::= SEQUENCE {
///   hashAlgorithm      [0] HashAlgorithm    DEFAULT sha1,
///   maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
///   saltLength         [2] INTEGER          DEFAULT 20,
///   trailerField       [3] TrailerField     DEFAULT trailerFieldBC }
/// ```
fn pss_hash(params: Option<&AnyRef<'_>>) -> Result<HashAlg, Failure> {
    let unsupported =
        |m: &str| Failure::new(ReasonCode::UnsupportedAlgorithm, format!("CMS RSASSA-PSS: {m}"));
    let params = params.ok_or_else(|| unsupported("parameters missing"))?;
    if params.tag() != Tag::Sequence {
        return Err(unsupported("parameters are not a SEQUENCE"));
    }
    let mut r = reader(params.value(), "RSASSA-PSS-params")?;
    let mut hash = HashAlg::Sha1;
    let mut mgf_hash = HashAlg::Sha1;
    let mut salt: u64 = 20;
    if peek_is(&r, ctx(0, true)) {
        let h = expect(&mut r, ctx(0, true), "PSS hashAlgorithm")?;
        let alg = AlgorithmIdentifierRef::from_der(h.value()).map_err(bad("PSS hashAlgorithm"))?;
        hash = hash_of(&alg.oid)?;
    }
    if peek_is(&r, ctx(1, true)) {
        let m = expect(&mut r, ctx(1, true), "PSS maskGenAlgorithm")?;
        let alg = AlgorithmIdentifierRef::from_der(m.value()).map_err(bad("PSS maskGenAlgorithm"))?;
        if alg.oid != MGF1 {
            return Err(unsupported("mask generation is not MGF1"));
        }
        let inner = alg
            .parameters
            .ok_or_else(|| unsupported("MGF1 without a hash"))?
            .decode_as::<AlgorithmIdentifierRef<'_>>()
            .map_err(bad("PSS MGF1 hash"))?;
        mgf_hash = hash_of(&inner.oid)?;
    }
    if peek_is(&r, ctx(2, true)) {
        let s = expect(&mut r, ctx(2, true), "PSS saltLength")?;
        salt = der::asn1::Uint::from_der(s.value())
            .ok()
            .and_then(|u| {
                let b = u.as_bytes();
                (b.len() <= 8).then(|| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
            })
            .ok_or_else(|| unsupported("saltLength"))?;
    }
    if peek_is(&r, ctx(3, true)) {
        let t = expect(&mut r, ctx(3, true), "PSS trailerField")?;
        if t.value() != [0x02, 0x01, 0x01] {
            return Err(unsupported("trailerField is not 1"));
        }
    }
    finish(r, "RSASSA-PSS-params")?;
    hash.allowed()?;
    if mgf_hash != hash {
        return Err(unsupported("MGF1 hash differs from the message hash"));
    }
    if salt != u64::try_from(hash.digest_len()).unwrap_or(0) {
        return Err(unsupported("salt length is not the hash length"));
    }
    Ok(hash)
}
