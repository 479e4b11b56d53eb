//! The HTTP side: POST the request, bound the answer, verify it, cache it.

use crate::request::fresh_nonce;
use jpki::Serial;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jpki::ocsp::MAX_OCSP_LEN;
use openssl::x509::X509;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::aia::{is_http_url, ocsp_url};
use crate::cache::{CacheKey, VerifiedCache};
use crate::error::OcspClientError;
use crate::issuer::IssuingCa;
use crate::request::{CertIdHash, DEFAULT_NONCE_LEN, MIN_NONCE_LEN, OcspQuery, certificate_serial};
use crate::verify::{Verified, VerifyPolicy, verify_response};

/// `application/ocsp-request` (RFC 6960 appendix A).
pub const REQUEST_CONTENT_TYPE: &str = "application/ocsp-request";
/// `application/ocsp-response` (RFC 6960 appendix A).
pub const RESPONSE_CONTENT_TYPE: &str = "application/ocsp-response";

/// How the client talks to the responder and what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The whole exchange (connect, send, read the answer). Default 5 s.
    pub timeout: Duration,
    /// Connecting alone. Default 2 s.
    pub connect_timeout: Duration,
    /// The CertID hash. Default SHA-1 (what J-LIS's responder matches on).
    pub cert_id_hash: CertIdHash,
    /// Nonce length in octets (16 to 32), or `None` to send no nonce. Default 16.
    pub nonce_len: Option<usize>,
    /// The verifier's tolerances.
    pub policy: VerifyPolicy,
    /// Verified answers kept (0: no cache). Default 10,000.
    pub cache_capacity: usize,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            cert_id_hash: CertIdHash::Sha1,
            nonce_len: Some(DEFAULT_NONCE_LEN),
            policy: VerifyPolicy::default(),
            cache_capacity: 10_000,
        }
    }
}

impl ClientConfig {
    /// Every problem with the configuration, at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.timeout.is_zero() {
            problems.push("timeout must be positive".to_owned());
        }
        if self.connect_timeout.is_zero() {
            problems.push("connect_timeout must be positive".to_owned());
        }
        if let Some(n) = self.nonce_len
            && !(MIN_NONCE_LEN..=jpki::ocsp::MAX_NONCE_LEN).contains(&n)
        {
            problems.push(format!(
                "nonce_len {n} is outside {MIN_NONCE_LEN}..={}",
                jpki::ocsp::MAX_NONCE_LEN
            ));
        }
        if self.policy.max_skew_secs < 0 || self.policy.max_skew_secs > 3600 {
            problems.push("policy.max_skew_secs must be within 0..=3600".to_owned());
        }
        if self.policy.max_certs == 0 {
            problems.push("policy.max_certs must be at least 1".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnswerSource {
    /// Asked the responder just now.
    Upstream,
    /// A verified answer cached earlier, still before its nextUpdate.
    Cache,
}

impl AnswerSource {
    /// `upstream` or `cache` (metrics labels).
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Upstream => "upstream",
            AnswerSource::Cache => "cache",
        }
    }
}

/// The OCSP client: one per process, shared by every caller (it holds the connection pool and the
/// cache).
#[derive(Debug)]
pub struct OcspClient {
    http: reqwest::Client,
    config: ClientConfig,
    cache: VerifiedCache,
    /// One lock per certificate being fetched, so concurrent checks of one certificate make one
    /// upstream call.
    in_flight: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// The current time, unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl OcspClient {
    /// A client with `config`, which must [`ClientConfig::validate`].
    pub fn new(config: ClientConfig) -> Result<OcspClient, OcspClientError> {
        config.validate().map_err(|problems| OcspClientError::Internal {
            context: "OCSP client configuration",
            detail: problems.join("; "),
        })?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            // A responder that redirects is misconfigured; following it would let a certificate's
            // AIA steer us elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OcspClientError::Internal {
                context: "building the HTTP client",
                detail: e.to_string(),
            })?;
        Ok(OcspClient {
            http,
            cache: VerifiedCache::new(config.cache_capacity),
            config,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The cache of verified answers.
    pub fn cache(&self) -> &VerifiedCache {
        &self.cache
    }

    /// The verified status of `cert_der` (issued by `issuer`) from the responder at `url`, or
    /// from the cache while a verified answer is before its nextUpdate.
    pub async fn check(
        &self,
        cert_der: &[u8],
        issuer: &IssuingCa,
        url: &str,
    ) -> Result<Verified, OcspClientError> {
        self.check_with_source(cert_der, issuer, url)
            .await
            .map(|(v, _)| v)
    }

    /// [`OcspClient::check`], asking the responder the certificate names in its
    /// authorityInfoAccess, else the one configured for its CA ([`responder_url`]).
    pub async fn check_certificate(
        &self,
        cert_der: &[u8],
        issuer: &IssuingCa,
    ) -> Result<(Verified, AnswerSource), OcspClientError> {
        let url = responder_url(cert_der, issuer)?;
        self.check_with_source(cert_der, issuer, &url).await
    }

    /// [`OcspClient::check`], also saying whether the answer came from the cache.
    pub async fn check_with_source(
        &self,
        cert_der: &[u8],
        issuer: &IssuingCa,
        url: &str,
    ) -> Result<(Verified, AnswerSource), OcspClientError> {
        let serial = certificate_serial(cert_der, issuer)?;
        self.check_serial(serial, issuer, url).await
    }

    /// The verified status of the certificate `serial` issued by `issuer`, for callers that hold
    /// a serial and no certificate (an OCSP relay answering a CertID): from the cache while a
    /// verified answer is before its nextUpdate, else from the responder at `url`. Concurrent
    /// checks of one certificate make one upstream request.
    pub async fn check_serial(
        &self,
        serial: Serial,
        issuer: &IssuingCa,
        url: &str,
    ) -> Result<(Verified, AnswerSource), OcspClientError> {
        if !is_http_url(url) {
            return Err(OcspClientError::NoResponderUrl {
                detail: format!("{url:?} is not an http or https URL"),
            });
        }
        let key = CacheKey {
            ca_key_id: issuer.key_id().to_vec(),
            serial,
        };
        if let Some(hit) = self.cache.get(&key, unix_now()) {
            return Ok((hit, AnswerSource::Cache));
        }
        let lock = self.in_flight_lock(&key);
        let outcome = {
            let _turn = lock.lock().await;
            match self.cache.get(&key, unix_now()) {
                Some(hit) => Ok((hit, AnswerSource::Cache)),
                None => self.ask_serial(serial, issuer, url).await.map(|v| {
                    self.cache.insert(key.clone(), v.clone(), unix_now());
                    (v, AnswerSource::Upstream)
                }),
            }
        };
        self.release_in_flight(&key, lock);
        outcome
    }

    fn in_flight_lock(&self, key: &CacheKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(key.clone()).or_default())
    }

    fn release_in_flight(&self, key: &CacheKey, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        // Ours and the map's: nobody else waits on it.
        if Arc::strong_count(&lock) <= 2 {
            map.remove(key);
        }
    }

    /// Asks the responder without the cache: a fresh request with a fresh nonce, the answer
    /// verified at the current time.
    pub async fn ask(
        &self,
        cert_der: &[u8],
        issuer: &IssuingCa,
        url: &str,
    ) -> Result<Verified, OcspClientError> {
        let serial = certificate_serial(cert_der, issuer)?;
        self.ask_serial(serial, issuer, url).await
    }

    /// [`OcspClient::ask`] for a serial.
    pub async fn ask_serial(
        &self,
        serial: Serial,
        issuer: &IssuingCa,
        url: &str,
    ) -> Result<Verified, OcspClientError> {
        let nonce = self.config.nonce_len.map(fresh_nonce).transpose()?;
        let query = OcspQuery::for_serial(serial, issuer, self.config.cert_id_hash, nonce)?;
        let body = self.fetch(url, query.der()).await?;
        verify_response(&body, &query, issuer, unix_now(), &self.config.policy).map(|v| v.with_source(url))
    }

    /// POSTs a DER request to `url` and returns the body of a `200 application/ocsp-response`
    /// answer of at most [`MAX_OCSP_LEN`] bytes. The body is not verified.
    pub async fn fetch(&self, url: &str, request_der: &[u8]) -> Result<Vec<u8>, OcspClientError> {
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                OcspClientError::UpstreamTimeout { url: url.to_owned() }
            } else {
                OcspClientError::UpstreamUnreachable {
                    url: url.to_owned(),
                    detail: error_chain(&e),
                }
            }
        };
        let mut response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, REQUEST_CONTENT_TYPE)
            .header(ACCEPT, RESPONSE_CONTENT_TYPE)
            .body(request_der.to_vec())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(OcspClientError::UpstreamStatus {
                url: url.to_owned(),
                status,
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(RESPONSE_CONTENT_TYPE) {
            return Err(OcspClientError::UpstreamContentType {
                url: url.to_owned(),
                content_type,
            });
        }
        let too_large = OcspClientError::ResponseTooLarge { max: MAX_OCSP_LEN };
        if response.content_length().is_some_and(|n| n > MAX_OCSP_LEN as u64) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len().saturating_add(chunk.len()) > MAX_OCSP_LEN {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The responder to ask about `cert_der`: the id-ad-ocsp URL of its authorityInfoAccess, once
/// its signature by `issuer` verifies (the URL comes from outside, so it counts only if the CA
/// wrote it), else the URL configured for the CA; [`OcspClientError::NoResponderUrl`] when there
/// is neither.
pub fn responder_url(cert_der: &[u8], issuer: &IssuingCa) -> Result<String, OcspClientError> {
    if let Some(url) = ocsp_url(cert_der)? {
        let cert = X509::from_der(cert_der).map_err(|e| OcspClientError::BadCertificate {
            what: "certificate",
            detail: format!("OpenSSL does not read it: {e}"),
        })?;
        let signed = cert.verify(issuer.public_key());
        let _ = openssl::error::ErrorStack::get();
        if !matches!(signed, Ok(true)) {
            return Err(OcspClientError::IssuerMismatch {
                detail: "the certificate's signature does not verify with the CA's key".into(),
            });
        }
        return Ok(url);
    }
    match issuer.responder_url() {
        Some(url) if is_http_url(url) => Ok(url.to_owned()),
        Some(url) => Err(OcspClientError::NoResponderUrl {
            detail: format!("the configured URL {url:?} is not http or https"),
        }),
        None => Err(OcspClientError::NoResponderUrl {
            detail:
                "the certificate has no authorityInfoAccess OCSP location and none is configured for its CA"
                    .into(),
        }),
    }
}
