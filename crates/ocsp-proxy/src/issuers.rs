//! The CA certificates the responder answers for, and CertID matching.
//!
//! For: finding which served CA key a CertID names. RFC 6960 §4.1.1 identifies the issuer by
//! `issuerNameHash` (hash of its DER subject) and `issuerKeyHash` (hash of its subjectPublicKey
//! BIT STRING value) under the CertID's hash algorithm. J-LIS's CA generations of one hierarchy
//! share one DN, so the name hash alone cannot tell them apart: both hashes must match. Both are
//! precomputed with SHA-1 (what OpenSSL, Java and .NET send by default) and SHA-256 for each CA.
//! A match yields the CA's subjectKeyIdentifier, the key the revocation index is keyed by.
//!
//! Not for: verifying CA certificates (the operator configures the ones to serve, from J-LIS's
//! published roots) or deciding a status ([`crate::answer`]).

use std::path::Path;

use der::Decode;
use der::Encode;
use der::asn1::ObjectIdentifier;
use jpki::ocsp::CertId;
use openssl::hash::{MessageDigest, hash};
use openssl::x509::X509;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use crate::Error;

/// `id-sha1` (RFC 3279 §2.2), the CertID hash OpenSSL, Java and .NET send by default.
pub const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// `id-sha256` (RFC 5754 §2.2).
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// The two CertID hashes of a CA under one hash algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IssuerHashes {
    name: Vec<u8>,
    key: Vec<u8>,
}

/// One CA certificate the responder answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedCa {
    key_id: Vec<u8>,
    subject: String,
    sha1: IssuerHashes,
    sha256: IssuerHashes,
    certificate: Vec<u8>,
}

impl ServedCa {
    /// Reads a DER CA certificate: its subjectKeyIdentifier (required: the revocation index is
    /// keyed by it) and its CertID hashes.
    pub fn from_der(der: &[u8]) -> Result<ServedCa, Error> {
        let bad = |detail: String| Error::CaCertificate { detail };
        let cert = Certificate::from_der(der).map_err(|e| bad(format!("does not parse: {e}")))?;
        let tbs = cert.tbs_certificate();
        let subject_der = tbs
            .subject()
            .to_der()
            .map_err(|e| bad(format!("subject does not encode: {e}")))?;
        let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        let ski = tbs
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or_default()
            .iter()
            .find(|e| e.extn_id == OID_SKI)
            .ok_or_else(|| bad(format!("{} has no subjectKeyIdentifier", tbs.subject())))?;
        let ski = SubjectKeyIdentifier::from_der(ski.extn_value.as_bytes())
            .map_err(|e| bad(format!("subjectKeyIdentifier does not parse: {e}")))?;
        let digest = |md: MessageDigest, data: &[u8]| {
            hash(md, data)
                .map(|d| d.to_vec())
                .map_err(|source| Error::Crypto {
                    context: "hashing a CA certificate",
                    source,
                })
        };
        Ok(ServedCa {
            key_id: ski.0.as_bytes().to_vec(),
            subject: tbs.subject().to_string(),
            sha1: IssuerHashes {
                name: digest(MessageDigest::sha1(), &subject_der)?,
                key: digest(MessageDigest::sha1(), key)?,
            },
            sha256: IssuerHashes {
                name: digest(MessageDigest::sha256(), &subject_der)?,
                key: digest(MessageDigest::sha256(), key)?,
            },
            certificate: der.to_vec(),
        })
    }

    /// The CA key id (subjectKeyIdentifier): the revocation index's key for this CA.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The CA's subject, for logs.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The CA certificate, DER.
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn hashes(&self, alg: &ObjectIdentifier) -> Option<&IssuerHashes> {
        match *alg {
            OID_SHA1 => Some(&self.sha1),
            OID_SHA256 => Some(&self.sha256),
            _ => None,
        }
    }

    /// Whether `cert_id` names this CA: its hash algorithm is SHA-1 or SHA-256 and both issuer
    /// hashes match. The hash algorithm's parameters (NULL or absent) are not compared.
    pub fn matches(&self, cert_id: &CertId) -> bool {
        self.hashes(&cert_id.hash_algorithm.oid).is_some_and(|h| {
            h.name.as_slice() == cert_id.issuer_name_hash.as_bytes()
                && h.key.as_slice() == cert_id.issuer_key_hash.as_bytes()
        })
    }
}

/// The CA certificates served: every J-LIS generation of both hierarchies, RSA and ECDSA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssuerTable {
    cas: Vec<ServedCa>,
}

impl IssuerTable {
    /// An empty table.
    pub fn new() -> IssuerTable {
        IssuerTable::default()
    }

    /// Adds a DER CA certificate; the same certificate twice is kept once.
    pub fn add_der(&mut self, der: &[u8]) -> Result<&ServedCa, Error> {
        let ca = ServedCa::from_der(der)?;
        let i = match self.cas.iter().position(|c| c.certificate == ca.certificate) {
            Some(i) => i,
            None => {
                self.cas.push(ca);
                self.cas.len().saturating_sub(1)
            }
        };
        self.cas.get(i).ok_or_else(|| Error::CaCertificate {
            detail: "table update lost the certificate".into(),
        })
    }

    /// Adds every certificate of a PEM file (one or several `CERTIFICATE` blocks).
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize, Error> {
        let pem = std::fs::read(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_pem(&pem)
    }

    /// Adds every certificate of PEM text; returns how many it held.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, Error> {
        let certs = X509::stack_from_pem(pem).map_err(|source| Error::Crypto {
            context: "reading PEM CA certificates",
            source,
        })?;
        if certs.is_empty() {
            return Err(Error::CaCertificate {
                detail: "no certificate in the PEM text".into(),
            });
        }
        for cert in &certs {
            let der = cert.to_der().map_err(|source| Error::Crypto {
                context: "encoding a CA certificate",
                source,
            })?;
            self.add_der(&der)?;
        }
        Ok(certs.len())
    }

    /// The served CA that `cert_id` names, if any.
    pub fn find(&self, cert_id: &CertId) -> Option<&ServedCa> {
        self.cas.iter().find(|c| c.matches(cert_id))
    }

    /// The CAs served, in the order added.
    pub fn cas(&self) -> &[ServedCa] {
        &self.cas
    }

    /// How many CAs are served.
    pub fn len(&self) -> usize {
        self.cas.len()
    }

    /// Whether no CA is served.
    pub fn is_empty(&self) -> bool {
        self.cas.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use der::asn1::Null;
    use jpki::Serial;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::X509NameBuilder;
    use openssl::x509::extension::SubjectKeyIdentifier as SkiExt;
    use x509_cert::spki::AlgorithmIdentifierOwned;

    use super::*;

    /// A self-signed P-256 CA named `cn`, with or without a subjectKeyIdentifier.
    pub(crate) fn ca(cn: &str, with_ski: bool) -> (Vec<u8>, PKey<Private>) {
        let key = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        if with_ski {
            let ski = SkiExt::new().build(&b.x509v3_context(None, None)).unwrap();
            b.append_extension(ski).unwrap();
        }
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build().to_der().unwrap(), key)
    }

    pub(crate) fn cert_id(alg: ObjectIdentifier, name: &[u8], key: &[u8]) -> CertId {
        cert_id_for(alg, name, key, 1)
    }

    pub(crate) fn cert_id_for(alg: ObjectIdentifier, name: &[u8], key: &[u8], serial: u64) -> CertId {
        let alg = AlgorithmIdentifierOwned {
            oid: alg,
            parameters: Some(der::Any::from(Null)),
        };
        CertId::new(alg, name, key, Serial::from_u64(serial)).unwrap()
    }

    /// The SHA-1 CertID of `serial` under `ca`.
    pub(crate) fn sha1_id(ca: &ServedCa, serial: u64) -> CertId {
        cert_id_for(OID_SHA1, &ca.sha1.name, &ca.sha1.key, serial)
    }

    #[test]
    fn both_hashes_must_match_under_sha1_or_sha256() {
        // Two generations with one DN: only the key hash tells them apart.
        let (a, _) = ca("JPKI CA", true);
        let (b, _) = ca("JPKI CA", true);
        let mut table = IssuerTable::new();
        let a_id = table.add_der(&a).unwrap().key_id().to_vec();
        let b_id = table.add_der(&b).unwrap().key_id().to_vec();
        table.add_der(&a).unwrap();
        assert_eq!(table.len(), 2);
        assert_ne!(a_id, b_id);
        let [ca_a, ca_b] = table.cas() else { panic!() };
        assert_eq!(ca_a.sha1.name, ca_b.sha1.name, "one DN");
        for (ca, id) in [(ca_a, &a_id), (ca_b, &b_id)] {
            let sha1 = cert_id(OID_SHA1, &ca.sha1.name, &ca.sha1.key);
            let sha256 = cert_id(OID_SHA256, &ca.sha256.name, &ca.sha256.key);
            assert_eq!(table.find(&sha1).unwrap().key_id(), id.as_slice());
            assert_eq!(table.find(&sha256).unwrap().key_id(), id.as_slice());
            // Hashes of one algorithm under the other's OID, or an unknown algorithm: no match.
            assert!(
                table
                    .find(&cert_id(OID_SHA256, &ca.sha1.name, &ca.sha1.key))
                    .is_none()
            );
            let md5 = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
            assert!(table.find(&cert_id(md5, &ca.sha1.name, &ca.sha1.key)).is_none());
        }
        // Name of one generation, key of the other: no match.
        assert!(
            table
                .find(&cert_id(OID_SHA1, &ca_a.sha1.name, &[0; 20]))
                .is_none()
        );
        let (other, _) = ca("Other CA", true);
        let other = ServedCa::from_der(&other).unwrap();
        assert!(
            table
                .find(&cert_id(OID_SHA1, &other.sha1.name, &ca_a.sha1.key))
                .is_none()
        );
    }

    #[test]
    fn accessors() {
        let (der, _) = ca("JPKI CA", true);
        let served = ServedCa::from_der(&der).unwrap();
        assert_eq!(served.subject(), "CN=JPKI CA");
        assert_eq!(served.certificate(), der.as_slice());
        assert_eq!(served.key_id().len(), 20);
    }

    #[test]
    fn unusable_certificates_are_refused() {
        let (no_ski, _) = ca("No SKI", false);
        assert_eq!(ServedCa::from_der(&no_ski).unwrap_err().code(), "CA_CERTIFICATE");
        assert_eq!(ServedCa::from_der(b"junk").unwrap_err().code(), "CA_CERTIFICATE");
        let mut table = IssuerTable::new();
        assert!(table.add_pem(b"not pem").is_err());
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert_eq!(table.add_pem_file(&missing).unwrap_err().code(), "READ_FILE");
        let (a, _) = ca("A", true);
        let (b, _) = ca("B", true);
        let mut pem = X509::from_der(&a).unwrap().to_pem().unwrap();
        pem.extend(X509::from_der(&b).unwrap().to_pem().unwrap());
        let path = dir.path().join("cas.pem");
        std::fs::write(&path, pem).unwrap();
        assert_eq!(table.add_pem_file(&path).unwrap(), 2);
        assert!(!table.is_empty());
    }
}
