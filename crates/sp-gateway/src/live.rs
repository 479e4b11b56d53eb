//! Live status checks at J-LIS's OCSP responder (`[upstream]`), through the platform's one OCSP
//! client ([`ocsp_client`], the one the OCSP responder relays with).
//!
//! A status check asks for them with `"live": true` (or `?live=true`); with `relay_stale`, an
//! item the index answers `unknown` because its CRL partition is stale or not yet valid is
//! checked live without being asked. The gateway holds each registered certificate's CA key (by
//! its tag) and serial, so it asks by serial ([`OcspClient::check_serial`]) under the CA
//! certificate of that key, at the configured URL (signing certificates carry no
//! authorityInfoAccess). The answer is used only once verified (signature by the CA or its
//! authorized responder, CertID, nonce, time window); it is kept until its nextUpdate, so one
//! certificate asked twice in that window costs one upstream call.
//!
//! A check that fails for any reason is `unknown` (`TRY_LATER`) with the client's stable code
//! ([`ocsp_client::OcspClientError::code`]) as `live_error`: never `good`. An item the index
//! answers `revoked` is not asked: J-LIS never un-revokes, and a listing CRL is final.
//!
//! Not for: deciding from CRLs ([`crate::index`]), or answering OCSP (that is `ocsp-proxy`).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use jpki::{CertStatus, UnknownReason};
use ocsp_client::{AnswerSource, ClientConfig, IssuingCa, OcspClient, OcspClientError, VerifyPolicy};
use verifier::TrustStore;

use crate::config::UpstreamConfig;
use crate::ids::{CertRef, KeyTags, tag_of};

/// Where a live answer came from (metrics, audit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveSource {
    /// Asked J-LIS's responder just now.
    Upstream,
    /// A verified answer kept from earlier, before its nextUpdate.
    Cache,
    /// No verified answer: the client's stable error code.
    Failed(&'static str),
}

impl LiveSource {
    /// `upstream`, `cache` or `failed` (the `source` label of `sp_gateway_live_checks_total`).
    pub fn label(self) -> &'static str {
        match self {
            LiveSource::Upstream => "upstream",
            LiveSource::Cache => "cache",
            LiveSource::Failed(_) => "failed",
        }
    }

    /// The error code of a failed check.
    pub fn error(self) -> Option<&'static str> {
        match self {
            LiveSource::Failed(code) => Some(code),
            _ => None,
        }
    }
}

/// One live answer: the verified OCSP status (`check_method: ocsp`, thisUpdate and nextUpdate of
/// the OCSP answer), or `unknown` when the check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveAnswer {
    /// The status.
    pub status: CertStatus,
    /// Where it came from.
    pub source: LiveSource,
}

impl LiveAnswer {
    fn failed(e: &OcspClientError) -> LiveAnswer {
        LiveAnswer {
            status: CertStatus::unknown(UnknownReason::Unavailable(e.code().to_owned())),
            source: LiveSource::Failed(e.code()),
        }
    }
}

/// Why the live checks could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveSetupError {
    /// A trusted root is unusable as an OCSP issuer, or the client configuration is refused.
    #[error("upstream: {0}")]
    Client(#[from] OcspClientError),
    /// A trusted root could not be encoded.
    #[error("upstream: encoding a trusted root: {0}")]
    Encode(#[from] openssl::error::ErrorStack),
}

/// The OCSP client and the CA certificates it asks about, by CA key tag.
#[derive(Debug)]
pub struct LiveChecks {
    client: OcspClient,
    cas: HashMap<[u8; 4], IssuingCa>,
    url: String,
    /// Relay stale items without being asked.
    pub relay_stale: bool,
    /// Most live checks per request.
    pub max_items: usize,
    concurrency: usize,
}

impl LiveChecks {
    /// The client for `cfg`, and every trusted root as an OCSP issuer (keyed like
    /// [`KeyTags`], so a registered certificate finds its CA by its tag).
    pub fn new(
        cfg: &UpstreamConfig,
        trust: &TrustStore,
        tags: &KeyTags,
    ) -> Result<LiveChecks, LiveSetupError> {
        let client = OcspClient::new(ClientConfig {
            timeout: Duration::from_millis(cfg.timeout_ms),
            connect_timeout: Duration::from_millis(cfg.timeout_ms.min(2000)),
            policy: VerifyPolicy {
                require_nonce: cfg.require_nonce,
                ..VerifyPolicy::default()
            },
            cache_capacity: cfg.cache_entries,
            ..ClientConfig::default()
        })?;
        let mut cas = HashMap::new();
        for root in trust.roots() {
            let tag = tags
                .tag_of_root(&hex::encode(root.fingerprint()))
                .unwrap_or_else(|| tag_of(root.key_id()));
            let ca = IssuingCa::from_der(&root.certificate().to_der()?)?.with_responder_url(cfg.url.clone());
            cas.insert(tag, ca);
        }
        Ok(LiveChecks {
            client,
            cas,
            url: cfg.url.clone(),
            relay_stale: cfg.relay_stale,
            max_items: cfg.max_live_items,
            concurrency: cfg.concurrency,
        })
    }

    /// The verified status of one registered certificate, or `unknown` with the reason.
    pub async fn check(&self, cert: &CertRef) -> LiveAnswer {
        let Some(ca) = self.cas.get(&cert.tag) else {
            return LiveAnswer::failed(&OcspClientError::NoResponderUrl {
                detail: "no CA certificate is configured for this key".into(),
            });
        };
        match self.client.check_serial(cert.serial, ca, &self.url).await {
            Ok((verified, source)) => LiveAnswer {
                status: verified.status,
                source: match source {
                    AnswerSource::Upstream => LiveSource::Upstream,
                    AnswerSource::Cache => LiveSource::Cache,
                },
            },
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "live check at J-LIS's OCSP responder failed");
                LiveAnswer::failed(&e)
            }
        }
    }

    /// [`LiveChecks::check`] for each certificate, at most `concurrency` at once; answers in
    /// the order asked.
    pub async fn check_all(&self, certs: &[CertRef]) -> Vec<LiveAnswer> {
        futures_util::stream::iter(certs.iter().map(|c| self.check(c)))
            .buffered(self.concurrency)
            .collect()
            .await
    }
}

/// Whether an index answer is one `relay_stale` sends to the responder: `unknown` because the
/// CRL partition that applies is past its nextUpdate (plus grace) or not yet valid.
pub fn is_stale(status: &CertStatus) -> bool {
    matches!(
        status,
        CertStatus::Unknown {
            reason: UnknownReason::Stale | UnknownReason::NotYetValid,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use jpki::{Basis, CheckMethod, Freshness};

    use super::*;

    #[test]
    fn only_stale_or_not_yet_valid_unknowns_relay() {
        let f = Freshness {
            method: CheckMethod::Crl,
            partition: "p".into(),
            this_update: 0,
            next_update: 1,
            basis: Basis::OwnPartition,
        };
        let unknown = |reason| CertStatus::Unknown {
            reason,
            freshness: Some(f.clone()),
        };
        assert!(is_stale(&unknown(UnknownReason::Stale)));
        assert!(is_stale(&unknown(UnknownReason::NotYetValid)));
        assert!(!is_stale(&unknown(UnknownReason::NoIndex)));
        assert!(!is_stale(&unknown(UnknownReason::NoSnapshot)));
        assert!(!is_stale(&CertStatus::Good(f.clone())));
        assert!(!is_stale(&CertStatus::Revoked {
            revoked_at: 0,
            reason: None,
            freshness: f,
        }));
    }

    #[test]
    fn failures_are_unknown_with_the_code() {
        let a = LiveAnswer::failed(&OcspClientError::BadSignature);
        assert_eq!(a.status.label(), "unknown");
        assert_eq!(a.source.error(), Some("OCSP_BAD_SIGNATURE"));
        assert_eq!(a.source.label(), "failed");
        assert_eq!(LiveSource::Cache.error(), None);
    }
}
