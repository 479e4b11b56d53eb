//! Certificate profiles: roots, OCSP responders and card certificates (JPKI.md, "End-entity
//! certificates").
//!
//! A [`CertSpec`] is encoded to a `TBSCertificate` (RFC 5280 §4.1), signed with the issuer's
//! [`SigningKey`], and the finished certificate is decoded again with `x509_cert::Certificate`
//! so that nothing malformed leaves this module.
//!
//! Why not build an `x509_cert::TbsCertificate` and encode it: in x509-cert 0.3 its fields are
//! `pub(crate)` and the only constructor is the `builder` feature, which signs through the
//! RustCrypto `signature` traits rather than OpenSSL and would not give us RFC 6979 ECDSA over
//! OpenSSL keys. The DER writer in `asn1` is small, shared with the streaming CRL writer (which
//! needs exact lengths before the content exists), and every certificate it makes is decoded by
//! x509-cert here and checked by the `openssl` CLI in the tests.

use der::Decode;
use time::OffsetDateTime;

use crate::asn1;
use crate::error::{Result, SimError};
use crate::keys::SigningKey;

/// Attribute types used in names.
pub(crate) mod attr {
    pub const C: &str = "2.5.4.6";
    pub const O: &str = "2.5.4.10";
    pub const OU: &str = "2.5.4.11";
    pub const L: &str = "2.5.4.7";
    pub const CN: &str = "2.5.4.3";
}

/// A Name (RDNSequence) with one attribute per RDN, in the order given (most significant first).
pub(crate) fn name_der(rdns: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut sets = Vec::with_capacity(rdns.len());
    for (ty, value) in rdns {
        let atv = asn1::seq(&[&asn1::oid_str(ty)?, &asn1::directory_string(value)]);
        sets.push(asn1::cons(asn1::tag::SET, &[&atv]));
    }
    let refs: Vec<&[u8]> = sets.iter().map(Vec::as_slice).collect();
    Ok(asn1::seq(&refs))
}

/// One extension.
#[derive(Clone, Debug)]
pub(crate) struct Extension {
    pub oid: &'static str,
    pub critical: bool,
    /// The DER of the extension value (what goes inside the OCTET STRING).
    pub value: Vec<u8>,
}

impl Extension {
    fn der(&self) -> Result<Vec<u8>> {
        let id = asn1::oid_str(self.oid)?;
        let v = asn1::octet_string(&self.value);
        Ok(if self.critical {
            asn1::seq(&[&id, &asn1::bool_true(), &v])
        } else {
            asn1::seq(&[&id, &v])
        })
    }
}

/// `keyUsage` bits as a DER BIT STRING.
pub(crate) mod key_usage {
    /// digitalSignature.
    pub const DIGITAL_SIGNATURE: &[u8] = &[0x03, 0x02, 0x07, 0x80];
    /// digitalSignature + nonRepudiation.
    pub const DIGITAL_SIGNATURE_NON_REPUDIATION: &[u8] = &[0x03, 0x02, 0x06, 0xC0];
    /// keyCertSign + cRLSign.
    pub const CA: &[u8] = &[0x03, 0x02, 0x01, 0x06];
}

/// Extension constructors.
pub(crate) mod ext {
    use super::*;

    /// basicConstraints, critical, cA TRUE.
    pub fn ca_basic_constraints() -> Extension {
        Extension {
            oid: "2.5.29.19",
            critical: true,
            value: asn1::seq(&[&asn1::bool_true()]),
        }
    }

    /// keyUsage, critical.
    pub fn key_usage(bits: &[u8]) -> Extension {
        Extension {
            oid: "2.5.29.15",
            critical: true,
            value: bits.to_vec(),
        }
    }

    /// subjectKeyIdentifier.
    pub fn ski(key_id: &[u8]) -> Extension {
        Extension {
            oid: "2.5.29.14",
            critical: false,
            value: asn1::octet_string(key_id),
        }
    }

    /// authorityKeyIdentifier with keyIdentifier only (also the CRL extension).
    pub fn aki(key_id: &[u8]) -> Extension {
        Extension {
            oid: "2.5.29.35",
            critical: false,
            value: asn1::seq(&[&asn1::tlv(0x80, key_id)]),
        }
    }

    /// certificatePolicies, critical, one policy without qualifiers.
    pub fn policy(policy: &const_oid::ObjectIdentifier) -> Extension {
        Extension {
            oid: "2.5.29.32",
            critical: true,
            value: asn1::seq(&[&asn1::seq(&[&asn1::oid(policy)])]),
        }
    }

    /// subjectAltName from a GeneralNames DER.
    pub fn san(general_names: Vec<u8>) -> Extension {
        Extension {
            oid: "2.5.29.17",
            critical: false,
            value: general_names,
        }
    }

    /// cRLDistributionPoints with one DistributionPoint whose fullName is a directoryName.
    pub fn crl_dp_dirname(name: &[u8]) -> Extension {
        Extension {
            oid: "2.5.29.31",
            critical: false,
            value: asn1::seq(&[&asn1::seq(&[&dp_full_name(name)])]),
        }
    }

    /// issuingDistributionPoint (critical, RFC 5280 §5.2.5) whose fullName is the directoryName
    /// `name`: the municipality partition a CRL covers, the same name its certificates give in
    /// cRLDistributionPoints.
    pub fn issuing_dp_dirname(name: &[u8]) -> Extension {
        Extension {
            oid: "2.5.29.28",
            critical: true,
            value: asn1::seq(&[&dp_full_name(name)]),
        }
    }

    /// extKeyUsage id-kp-OCSPSigning.
    pub fn eku_ocsp_signing() -> Result<Extension> {
        Ok(Extension {
            oid: "2.5.29.37",
            critical: false,
            value: asn1::seq(&[&asn1::oid(&jpki::oid::KP_OCSP_SIGNING)]),
        })
    }

    /// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
    pub fn ocsp_nocheck() -> Extension {
        Extension {
            oid: "1.3.6.1.5.5.7.48.1.5",
            critical: false,
            value: asn1::null(),
        }
    }

    /// cRLNumber.
    pub fn crl_number(n: u64) -> Extension {
        Extension {
            oid: "2.5.29.20",
            critical: false,
            value: asn1::uint_u64(n),
        }
    }
}

/// `distributionPoint [0] DistributionPointName` holding `fullName [0]` with one directoryName
/// (`[4]`): the same in a certificate's cRLDistributionPoints and a CRL's issuingDistributionPoint.
fn dp_full_name(name: &[u8]) -> Vec<u8> {
    let dir_name = asn1::cons(0xA4, &[name]);
    let full_name = asn1::cons(0xA0, &[&dir_name]);
    asn1::cons(0xA0, &[&full_name])
}

/// The `[n] EXPLICIT Extensions` wrapper (tag `0xA0 | n`).
pub(crate) fn extensions_der(context_tag: u8, exts: &[Extension]) -> Result<Vec<u8>> {
    let encoded = exts.iter().map(Extension::der).collect::<Result<Vec<_>>>()?;
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    Ok(asn1::cons(context_tag, &[&asn1::seq(&refs)]))
}

/// What goes into a certificate.
#[derive(Clone, Debug)]
pub(crate) struct CertSpec {
    /// Serial magnitude, big-endian.
    pub serial: Vec<u8>,
    /// Issuer Name DER.
    pub issuer: Vec<u8>,
    /// Subject Name DER.
    pub subject: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    pub extensions: Vec<Extension>,
}

/// Encodes and signs a v3 certificate; returns its DER.
pub(crate) fn build_certificate(spec: &CertSpec, issuer_key: &SigningKey) -> Result<Vec<u8>> {
    let alg = issuer_key.signature_algorithm_der()?;
    let version = asn1::cons(0xA0, &[&asn1::uint_u64(2)]);
    let validity = asn1::seq(&[&asn1::time(spec.not_before), &asn1::time(spec.not_after)]);
    let exts = extensions_der(0xA3, &spec.extensions)?;
    let tbs = asn1::seq(&[
        &version,
        &asn1::uint(&spec.serial),
        &alg,
        &spec.issuer,
        &validity,
        &spec.subject,
        &spec.spki,
        &exts,
    ]);
    let sig = issuer_key.sign_message(&tbs)?;
    let cert = asn1::seq(&[&tbs, &alg, &asn1::bit_string(&sig)]);
    x509_cert::Certificate::from_der(&cert).map_err(|e| SimError::Encoding {
        what: "certificate",
        detail: format!("self-check decode failed: {e}"),
    })?;
    Ok(cert)
}

/// PEM armour.
pub(crate) fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = openssl::base64::encode_block(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

/// Reads a PEM certificate into DER.
pub(crate) fn cert_pem_to_der(pem_bytes: &[u8]) -> Result<Vec<u8>> {
    openssl::x509::X509::from_pem(pem_bytes)
        .and_then(|c| c.to_der())
        .map_err(SimError::ssl("read certificate PEM"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips() {
        let p = pem("TEST", &[1, 2, 3]);
        assert_eq!(
            String::from_utf8(p).unwrap(),
            "-----BEGIN TEST-----\nAQID\n-----END TEST-----\n"
        );
    }
}
