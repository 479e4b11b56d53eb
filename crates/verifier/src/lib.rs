//! The verifier: judges JPKI signatures, login challenges and certificate chains as a PF must.
//!
//! - [`TrustStore`]: pinned J-LIS roots, RSA and ECDSA P-384 side by side; production and test
//!   (`O=JPKI-TEST`) hierarchies never mixed.
//! - Chain building by authorityKeyIdentifier → subjectKeyIdentifier (root generations share one
//!   DN), with the issuer-signature result cached per end-entity fingerprint.
//! - Profile checks: validity at an instant, critical certificatePolicies for the use, critical
//!   keyUsage, no unknown critical extension, not a CA.
//! - Signatures: PKCS#1 v1.5 and PSS over data or a digest (SHA-256/384/512), ECDSA P-384;
//!   SHA-1 and MD5 refused.
//! - Revocation through [`RevocationSource`]; "unknown" is never "valid".
//! - A [`Report`] in ETSI EN 319 102-1 vocabulary (see [`report`] for the reason codes).
//!
//! It is pure and synchronous: no sockets, no files, no async. It is not a CRL fetcher or a server.
//! - CMS SignedData attached and detached, with signed attributes required ([`cms`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cert_checks;
mod chain;
pub mod cms;
pub mod crl_points;
pub mod error;
pub mod limits;
pub mod report;
pub mod revocation;
pub mod signature;
pub mod trust;

use jpki::CertKind;

pub use cert_checks::sha256;
pub use chain::CHAIN_CACHE_CAPACITY;
pub use crl_points::crl_distribution_points;
pub use error::{Failure, TrustError};
pub use jpki::CertStatus;
pub use limits::Limits;
pub use report::{CertificateFacts, CmsFacts, ReasonCode, Report, RevocationFacts, Verdict};
pub use revocation::{NotChecked, RevocationSource, StaticSource};
pub use signature::{HashAlg, Payload, Scheme};
pub use trust::{Root, TrustStore};

use cert_checks::check_validity;
use chain::JudgedCert;

/// A raw signature to verify.
#[derive(Clone, Copy, Debug)]
pub struct SignatureRequest<'a> {
    /// The signer's certificate, DER.
    pub cert_der: &'a [u8],
    /// The use the certificate must be for; `None` accepts either (by its policy).
    pub kind: Option<CertKind>,
    /// What was signed.
    pub payload: Payload<'a>,
    /// The raw signature (RSA octets or DER ECDSA-Sig-Value).
    pub signature: &'a [u8],
    /// The scheme.
    pub scheme: Scheme,
    /// The instant to verify at, Unix seconds.
    pub at_unix: i64,
}

/// Verifies against one trust store with one set of limits. Shareable between threads.
#[derive(Debug)]
pub struct Verifier {
    trust: TrustStore,
    limits: Limits,
    cache: chain::CertCache,
}

fn stopped() -> RevocationFacts {
    RevocationFacts::NotChecked {
        why: "verification stopped before the revocation check".to_owned(),
    }
}

impl Verifier {
    /// A verifier over `trust` with `limits`.
    pub fn new(trust: TrustStore, limits: Limits) -> Verifier {
        Verifier {
            trust,
            limits,
            cache: chain::CertCache::new(limits.cert_cache_entries),
        }
    }

    /// The trust store.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// Verifies a raw signature and its certificate.
    pub fn verify_signature(&self, req: &SignatureRequest<'_>, rev: &dyn RevocationSource) -> Report {
        let at = req.at_unix;
        let pre = || -> Result<(), Failure> {
            limits::check("signature", req.signature.len(), self.limits.max_signature)?;
            match req.payload {
                Payload::Data { bytes, .. } => limits::check_max("data", bytes.len(), self.limits.max_data),
                Payload::Digest { bytes, .. } => limits::check("digest", bytes.len(), 64),
            }
        };
        if let Err(f) = pre() {
            return Report::failed(f, None, stopped(), at);
        }
        self.verify_with(req.cert_der, req.kind, at, rev, |cert| {
            signature::verify_raw(&cert.key, &req.payload, req.signature, req.scheme)
        })
    }

    /// Verifies a login: `signature` over `challenge` with a user-authentication certificate
    /// (PKCS#1 v1.5 SHA-256 for RSA, ECDSA SHA-384 for P-384).
    pub fn verify_login(
        &self,
        cert_der: &[u8],
        challenge: &[u8],
        signature: &[u8],
        at_unix: i64,
        rev: &dyn RevocationSource,
    ) -> Report {
        let req = SignatureRequest {
            cert_der,
            kind: Some(CertKind::UserAuthentication),
            payload: Payload::Data {
                bytes: challenge,
                hash: None,
            },
            signature,
            scheme: Scheme::Auto,
            at_unix,
        };
        self.verify_signature(&req, rev)
    }

    /// Verifies a certificate alone (chain, profile, validity, revocation), for `kind`.
    pub fn verify_certificate(
        &self,
        cert_der: &[u8],
        kind: Option<CertKind>,
        at_unix: i64,
        rev: &dyn RevocationSource,
    ) -> Report {
        self.verify_with(cert_der, kind, at_unix, rev, |_| Ok(()))
    }

    /// Verifies a CMS SignedData (attached, or detached with `detached_content`): the signed
    /// attributes, the signature over them, and the signer's certificate as for a raw signature.
    /// See [`cms`] for exactly what is accepted.
    pub fn verify_cms(
        &self,
        cms_der: &[u8],
        detached_content: Option<&[u8]>,
        kind: Option<CertKind>,
        at_unix: i64,
        rev: &dyn RevocationSource,
    ) -> Report {
        let at = at_unix;
        let fail = |f: Failure| Report::failed(f, None, stopped(), at);
        if let Err(f) = limits::check("CMS", cms_der.len(), self.limits.max_cms) {
            return fail(f);
        }
        if let Some(c) = detached_content
            && let Err(f) = limits::check_max("detached content", c.len(), self.limits.max_data)
        {
            return fail(f);
        }
        let der = match cms::parse_normalised(cms_der, self.limits.max_cms_certificates) {
            Ok(d) => d,
            Err(f) => return fail(f),
        };
        let sd = match cms::parse(&der, self.limits.max_cms_certificates) {
            Ok(sd) => sd,
            Err(f) => return fail(f),
        };
        let content = match (sd.e_content, detached_content) {
            (Some(c), None) | (None, Some(c)) => c,
            (Some(_), Some(_)) => {
                return fail(Failure::malformed(
                    "the CMS carries its content and detached content was given too",
                ));
            }
            (None, None) => {
                return fail(Failure::malformed(
                    "the CMS is detached: the signed content must be supplied",
                ));
            }
        };
        let prepared = || -> Result<_, Failure> {
            limits::check_max("content", content.len(), self.limits.max_data)?;
            limits::check("CMS signature", sd.signature.len(), self.limits.max_signature)?;
            let attrs = sd.signed_attrs()?;
            let cert = sd.signer_certificate()?;
            Ok((attrs, cert))
        };
        let mut facts = report::CmsFacts {
            detached: sd.e_content.is_none(),
            content_type: sd.e_content_type.to_string(),
            digest_algorithm: sd.digest().ok(),
            signature_algorithm: sd.signature_alg_oid(),
            signer_identifier: sd.signer_id_kind(),
            signing_time: None,
        };
        let (attrs, cert_der) = match prepared() {
            Ok(p) => p,
            Err(f) => {
                let mut r = fail(f);
                r.cms = Some(facts);
                return r;
            }
        };
        facts.signing_time = Some(report::rfc3339(attrs.signing_time));
        let mut report = self.verify_with(cert_der, kind, at, rev, |cert| {
            let (scheme, hash) = sd.scheme()?;
            if hash.digest(content)? != attrs.message_digest {
                return Err(Failure::new(
                    ReasonCode::HashFailure,
                    "the CMS messageDigest is not the hash of the content",
                ));
            }
            let payload = Payload::Data {
                bytes: &attrs.signed_der,
                hash: Some(hash),
            };
            signature::verify_raw(&cert.key, &payload, sd.signature, scheme)
        });
        report.cms = Some(facts);
        report
    }

    fn verify_with(
        &self,
        cert_der: &[u8],
        kind: Option<CertKind>,
        at: i64,
        rev: &dyn RevocationSource,
        check_signature: impl FnOnce(&JudgedCert) -> Result<(), Failure>,
    ) -> Report {
        if let Err(f) = limits::check("certificate", cert_der.len(), self.limits.max_certificate) {
            return Report::failed(f, None, stopped(), at);
        }
        let cert = match chain::judge(&self.trust, &self.cache, cert_der) {
            Ok(c) => c,
            Err(rejection) => {
                let (f, facts) = *rejection;
                return Report::failed(f, facts, stopped(), at);
            }
        };
        let facts = || Some(cert.facts.clone());
        if let Some(kind) = kind
            && kind != cert.class.kind
        {
            let f = Failure::new(
                ReasonCode::PolicyMismatch,
                format!(
                    "a {} certificate was presented where a {} certificate is required",
                    cert.class.kind.short_name(),
                    kind.short_name()
                ),
            );
            return Report::failed(f, facts(), stopped(), at);
        }
        let Some(root) = self.trust.roots().get(cert.root) else {
            return Report::failed(Failure::malformed("root index"), facts(), stopped(), at);
        };
        let checks = || -> Result<Option<jpki::BasicInfoView>, Failure> {
            check_validity("the certificate", cert.not_before, cert.not_after, at)?;
            check_validity(
                "the root certificate",
                root.cert.not_before,
                root.cert.not_after,
                at,
            )?;
            check_signature(&cert)?;
            cert.basic_info.clone()
        };
        let basic_info = match checks() {
            Ok(b) => b,
            Err(f) => return Report::failed(f, facts(), stopped(), at),
        };
        let facts = cert.facts.clone();
        let status = if rev.skips_check() {
            None
        } else {
            Some(rev.status(root.key_id(), &cert.serial, &cert.crl_points, at))
        };
        let (revocation, failure) = match &status {
            None => (
                RevocationFacts::NotChecked {
                    why: "revocation check skipped by the operator".to_owned(),
                },
                None,
            ),
            Some(CertStatus::Good(f)) => (
                RevocationFacts::Good {
                    source_updated_at: report::rfc3339(f.this_update),
                    check_method: f.method.as_str().to_owned(),
                },
                None,
            ),
            Some(CertStatus::Revoked {
                revoked_at, reason, ..
            }) => (
                RevocationFacts::revoked(*revoked_at, *reason),
                Some(Failure::new(
                    ReasonCode::Revoked,
                    format!("the certificate was revoked at {}", report::rfc3339(*revoked_at)),
                )),
            ),
            Some(CertStatus::Unknown { reason, freshness }) => {
                let why = report::unknown_why(reason, freshness.as_ref(), at);
                (
                    RevocationFacts::Unknown { why: why.clone() },
                    Some(Failure::new(
                        ReasonCode::TryLater,
                        format!("revocation status unknown: {why}"),
                    )),
                )
            }
        };
        // The 4 info is personal data: it leaves only with a valid verdict.
        match failure {
            Some(f) => Report {
                revocation_status: status,
                ..Report::failed(f, Some(facts), revocation, at)
            },
            None => Report {
                verdict: Verdict::Valid,
                reason: None,
                message: "the signature and the certificate are valid".to_owned(),
                certificate: Some(facts),
                basic_info,
                revocation,
                revocation_status: status,
                cms: None,
                verified_at: report::rfc3339(at),
            },
        }
    }
}
