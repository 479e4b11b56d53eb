//! What a parsed SignedData says about its signer: digest and signature algorithms, the signer's
//! certificate among those carried, and the signed attributes (contentType, messageDigest,
//! signingTime).

use jpki::algorithm;

use super::*;

impl<'a> SignedData<'a> {
    /// The signer's digest algorithm, judged by the policy table (SHA-1 and MD5 are refused).
    pub fn digest(&self) -> Result<HashAlg, Failure> {
        algorithm::digest(&self.digest_alg.oid)
            .map(HashAlg::from)
            .map_err(|e| Failure::refused_algorithm("CMS digestAlgorithm", &e))
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
    ///
    /// The signature algorithm is judged by the policy table ([`jpki::algorithm`]); its hash must
    /// be the digestAlgorithm, and an RSASSA-PSS salt must be the hash length (what
    /// [`crate::signature`] verifies with). rsaEncryption and id-ecPublicKey, which some signers
    /// write as the signatureAlgorithm (RFC 3370 §3.2, RFC 5753 §7.1.3), take the
    /// digestAlgorithm's hash.
    pub fn scheme(&self) -> Result<(Scheme, HashAlg), Failure> {
        let digest = self.digest()?;
        let oid = self.signature_alg.oid;
        if oid == algorithm::RSA_ENCRYPTION || oid == algorithm::EC_PUBLIC_KEY {
            no_params(&self.signature_alg, "signatureAlgorithm")?;
            let scheme = if oid == algorithm::RSA_ENCRYPTION {
                Scheme::Pkcs1
            } else {
                Scheme::Ecdsa
            };
            return Ok((scheme, digest));
        }
        let accepted = algorithm::classify_identifier(&self.signature_alg)
            .map_err(|e| Failure::refused_algorithm("CMS signatureAlgorithm", &e))?;
        let unsupported = |m: String| Failure::new(ReasonCode::UnsupportedAlgorithm, m);
        let scheme = match accepted.scheme {
            algorithm::Scheme::RsaPkcs1 => Scheme::Pkcs1,
            algorithm::Scheme::Ecdsa => Scheme::Ecdsa,
            algorithm::Scheme::RsaPss { salt_len } => {
                if usize::from(salt_len) != accepted.hash.digest_len() {
                    return Err(unsupported(
                        "CMS RSASSA-PSS: salt length is not the hash length".to_owned(),
                    ));
                }
                Scheme::Pss
            }
        };
        let hash = HashAlg::from(accepted.hash);
        if hash != digest {
            return Err(unsupported(format!(
                "CMS signatureAlgorithm {oid} does not match digestAlgorithm {digest:?}"
            )));
        }
        Ok((scheme, hash))
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
