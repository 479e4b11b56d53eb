//! Chain building: end entity → pinned root by authorityKeyIdentifier → subjectKeyIdentifier.
//! Several root generations share one DN, so the name is never enough: only when the end entity
//! has no AKI keyIdentifier is each same-named root tried, and every candidate must verify the
//! end entity's signature.
//!
//! Everything about a certificate that does not depend on the instant or the request — the
//! parse, the profile, the chain with the issuer's signature, the public key and the 4 info —
//! is judged once and cached per end-entity SHA-256 fingerprint ([`CertCache`]), so a repeat
//! customer costs one hash of the certificate and one signature verification. Only certificates
//! that chained are cached; the cache is bounded and emptied when full.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jpki::{BasicInfoView, PolicyClass, Serial};

use crate::cert_checks::{ParsedCert, check_cert_signature_alg};
use crate::error::Failure;
use crate::report::{CertificateFacts, ReasonCode};
use crate::signature::VerifyKey;
use crate::trust::TrustStore;

/// Default number of judged certificates kept before the cache is emptied and refilled
/// (about 4 KiB each).
pub const CHAIN_CACHE_CAPACITY: usize = 16_384;

/// A certificate judged independently of time and request: it parsed, fits the JPKI profile,
/// belongs to the store's hierarchy, and a trusted root's key verified its signature.
#[derive(Debug)]
pub(crate) struct JudgedCert {
    pub facts: CertificateFacts,
    pub class: PolicyClass,
    pub serial: Serial,
    pub not_before: i64,
    pub not_after: i64,
    /// Index of the issuing root in the trust store.
    pub root: usize,
    pub key: VerifyKey,
    /// The 4 info of a signing certificate (`Ok(None)` for user authentication); a parse
    /// failure is reported after the signature check.
    pub basic_info: Result<Option<BasicInfoView>, Failure>,
    /// Its cRLDistributionPoints names ([`crate::crl_points`]).
    pub crl_points: Vec<String>,
}

/// End-entity fingerprint → its judgement.
#[derive(Debug)]
pub(crate) struct CertCache {
    map: RwLock<HashMap<[u8; 32], Arc<JudgedCert>>>,
    capacity: usize,
}

impl CertCache {
    pub fn new(capacity: usize) -> CertCache {
        CertCache {
            map: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get(&self, fp: &[u8; 32]) -> Option<Arc<JudgedCert>> {
        self.map.read().ok().and_then(|m| m.get(fp).cloned())
    }

    pub fn put(&self, fp: [u8; 32], judged: Arc<JudgedCert>) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(mut m) = self.map.write() {
            if m.len() >= self.capacity {
                m.clear();
            }
            m.insert(fp, judged);
        }
    }
}

/// A failure with the certificate facts known so far.
pub(crate) type Rejection = Box<(Failure, Option<CertificateFacts>)>;

/// Judges `der` (size already checked), from the cache when it was judged before.
pub(crate) fn judge(store: &TrustStore, cache: &CertCache, der: &[u8]) -> Result<Arc<JudgedCert>, Rejection> {
    let fp = crate::cert_checks::sha256(der);
    if let Some(j) = cache.get(&fp) {
        return Ok(j);
    }
    let cert = ParsedCert::parse(der).map_err(|f| Box::new((f, None)))?;
    let with_facts = |f: Failure| Box::new((f, Some(cert.facts(None))));
    let class = crate::cert_checks::check_profile(&cert, None).map_err(with_facts)?;
    if class.hierarchy != store.hierarchy() {
        return Err(with_facts(Failure::new(
            ReasonCode::NoCertificateChainFound,
            format!(
                "a {:?}-hierarchy certificate cannot chain to a {:?} trust store",
                class.hierarchy,
                store.hierarchy()
            ),
        )));
    }
    let key = VerifyKey::new(cert.public_key().map_err(with_facts)?)
        .map_err(|m| with_facts(Failure::new(ReasonCode::UnsupportedAlgorithm, m)))?;
    let root = find_root(store, &cert).map_err(with_facts)?;
    let root_fp = store.roots().get(root).map(|r| *r.fingerprint());
    let basic_info = if class.kind == jpki::CertKind::Signing {
        jpki::BasicInfo::from_certificate_der(der)
            .map(|b| Some(b.view()))
            .map_err(|e| Failure::malformed(format!("the basic 4 information: {e}")))
    } else {
        Ok(None)
    };
    let judged = Arc::new(JudgedCert {
        facts: cert.facts(root_fp.as_ref()),
        class,
        serial: cert.serial,
        not_before: cert.not_before,
        not_after: cert.not_after,
        root,
        key,
        basic_info,
        crl_points: cert.crl_points.clone(),
    });
    cache.put(fp, Arc::clone(&judged));
    Ok(judged)
}

/// Finds the trusted root that issued `ee` and returns its index in the store.
fn find_root(store: &TrustStore, ee: &ParsedCert) -> Result<usize, Failure> {
    check_cert_signature_alg(&ee.signature_alg)?;
    for (i, root) in store.roots().iter().enumerate() {
        if root.cert.subject_der != ee.issuer_der {
            continue;
        }
        if let Some(aki) = &ee.aki
            && aki != root.key_id()
        {
            continue;
        }
        if crate::cert_checks::x509_verify(&ee.x509, &root.key) {
            return Ok(i);
        }
    }
    Err(Failure::new(
        ReasonCode::NoCertificateChainFound,
        format!(
            "no trusted {:?} root with key id {} and name {} issued this certificate",
            store.hierarchy(),
            ee.aki
                .as_deref()
                .map(hex::encode)
                .unwrap_or_else(|| "(none)".into()),
            ee.issuer
        ),
    ))
}
