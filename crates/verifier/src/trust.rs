//! The trust store: J-LIS roots pinned by SHA-256 fingerprint, RSA and ECDSA P-384 side by side,
//! with the production and test (`O=JPKI-TEST`) hierarchies kept apart.

use jpki::Hierarchy;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};

use crate::cert_checks::ParsedCert;
use crate::error::TrustError;

/// One trusted root.
#[derive(Debug)]
pub struct Root {
    pub(crate) cert: ParsedCert,
    pub(crate) key: PKey<Public>,
    /// The key id revocation is looked up under: the root's subjectKeyIdentifier, or the SHA-1
    /// of its public key when it has none.
    pub(crate) key_id: Vec<u8>,
    pub(crate) hierarchy: Hierarchy,
}

impl Root {
    /// SHA-256 fingerprint of the root certificate.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.cert.fingerprint
    }

    /// Subject DN.
    pub fn subject(&self) -> &str {
        &self.cert.subject
    }

    /// Key identifier (subjectKeyIdentifier).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// Production or test.
    pub fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    /// The root certificate.
    pub fn certificate(&self) -> &openssl::x509::X509 {
        &self.cert.x509
    }
}

/// A set of trusted roots of one hierarchy.
#[derive(Debug)]
pub struct TrustStore {
    hierarchy: Hierarchy,
    roots: Vec<Root>,
}

/// Checks a root's key is RSA >= 2048 bits or ECDSA P-384.
pub(crate) fn supported_key(key: &PKey<Public>) -> Result<(), String> {
    match key.id() {
        Id::RSA if key.bits() >= 2048 => Ok(()),
        Id::RSA => Err(format!("RSA-{} is too short", key.bits())),
        Id::EC => {
            let curve = key.ec_key().ok().and_then(|k| k.group().curve_name());
            if curve == Some(Nid::SECP384R1) {
                Ok(())
            } else {
                Err("only ECDSA P-384 is supported".to_owned())
            }
        }
        other => Err(format!("key type {other:?}")),
    }
}

impl TrustStore {
    /// An empty production store. It refuses `O=JPKI-TEST` roots, and certificates with a test
    /// policy never chain through it.
    pub fn production() -> TrustStore {
        TrustStore {
            hierarchy: Hierarchy::Production,
            roots: Vec::new(),
        }
    }

    /// An empty test store: only `O=JPKI-TEST` roots and test-policy certificates.
    pub fn test() -> TrustStore {
        TrustStore {
            hierarchy: Hierarchy::Test,
            roots: Vec::new(),
        }
    }

    /// Which hierarchy this store trusts.
    pub fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    /// The roots.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// Adds a root, checking it is pinned to `sha256_fingerprint`.
    pub fn add_pinned_root(&mut self, der: &[u8], sha256_fingerprint: &[u8; 32]) -> Result<(), TrustError> {
        let actual = crate::cert_checks::sha256(der);
        if &actual != sha256_fingerprint {
            return Err(TrustError::FingerprintMismatch {
                expected: hex::encode(sha256_fingerprint),
                actual: hex::encode(actual),
            });
        }
        self.add_root(der).map(|_| ())
    }

    /// Adds a root, pinning it by its own SHA-256 fingerprint, which is returned. The root must
    /// be a self-signed CA of this store's hierarchy with a supported key.
    pub fn add_root(&mut self, der: &[u8]) -> Result<[u8; 32], TrustError> {
        if der.len() > 16 * 1024 {
            return Err(TrustError::Parse("over 16 KiB".to_owned()));
        }
        let cert = ParsedCert::parse(der).map_err(|f| TrustError::Parse(f.message))?;
        let hierarchy = if is_test_name(&cert.subject) {
            Hierarchy::Test
        } else {
            Hierarchy::Production
        };
        match (self.hierarchy, hierarchy) {
            (Hierarchy::Production, Hierarchy::Test) => return Err(TrustError::TestRootInProduction),
            (Hierarchy::Test, Hierarchy::Production) => return Err(TrustError::ProductionRootInTest),
            _ => {}
        }
        if !cert.is_ca {
            return Err(TrustError::NotARoot("basicConstraints cA is not set".into()));
        }
        if cert.subject_der != cert.issuer_der {
            return Err(TrustError::NotARoot("not self-issued".into()));
        }
        let key = cert
            .public_key()
            .map_err(|f| TrustError::UnsupportedKey(f.message))?;
        supported_key(&key).map_err(TrustError::UnsupportedKey)?;
        if !crate::cert_checks::x509_verify(&cert.x509, &key) {
            return Err(TrustError::NotARoot("bad self-signature".into()));
        }
        let key_id = match &cert.ski {
            Some(ski) => ski.clone(),
            None => {
                let spki = cert
                    .x509
                    .public_key()
                    .and_then(|k| k.public_key_to_der())
                    .unwrap_or_default();
                openssl::sha::sha1(&spki).to_vec()
            }
        };
        let fingerprint = cert.fingerprint;
        if self.roots.iter().any(|r| r.cert.fingerprint == fingerprint) {
            return Ok(fingerprint);
        }
        self.roots.push(Root {
            cert,
            key,
            key_id,
            hierarchy,
        });
        Ok(fingerprint)
    }
}

/// True for a DN of the test hierarchy (`O=JPKI-TEST`).
pub(crate) fn is_test_name(rfc4514: &str) -> bool {
    rfc4514
        .split(',')
        .any(|rdn| rdn.trim().eq_ignore_ascii_case("O=JPKI-TEST"))
}
