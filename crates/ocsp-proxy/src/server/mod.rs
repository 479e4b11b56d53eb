//! The responder over HTTP, on the platform's server foundation ([`pf_server`]):
//! `POST /` and `POST /ocsp` (`application/ocsp-request`), `GET /{base64}` and
//! `GET /ocsp/{base64}` (RFC 6960 appendix A), `/healthz`, `/readyz`, `/metrics`.
//!
//! Each request is decoded ([`crate::request`]), answered through the one revocation rule
//! ([`crate::answer`], never "good" from stale data: a CertID the CRL data cannot vouch for makes
//! the request `tryLater`), signed ([`crate::sign`]) and, when it carries no nonce and one
//! CertID (the RFC 5019 profile most clients use), kept in a [`ResponseCache`] until the
//! snapshot set changes or the response's nextUpdate passes, with RFC 5019 HTTP cache headers so
//! a CDN can sit in front. Signatures computed at once are bounded
//! (`limits.max_signings_in_flight`): one more is answered `tryLater` at once with `Retry-After`,
//! never queued (load shedding).
//!
//! When the CRL data cannot vouch for a CertID (its partition is stale) and `[upstream]` is set,
//! the responder asks J-LIS's responder through [`ocsp_client`] (the same client the gateway's
//! live checks use): the answer is verified (signature by the CA or its authorized responder,
//! CertID, nonce, time window) and kept until its nextUpdate, then re-signed by the PF for the SP;
//! each live check is counted in `ocsp_proxy_relay_total`. A relay that fails answers `tryLater`.
//! Without `[upstream]`, such requests are answered `tryLater`.
//!
//! Not yet here: per-SP authentication.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use der::Encode;
use pf_server::clock::now_unix;
use pf_server::health::{Check, IndexHealth, Monitored};
use pf_server::index::{Index, Reload};
use prometheus::Registry;
use revocation::Policy;

use der::asn1::Null;
use jpki::CertStatus;
use jpki::ocsp::{CertStatus as OcspStatus, RevokedInfo, SingleResponse};
use ocsp_client::{ClientConfig, IssuingCa, OcspClient, Verified, VerifyPolicy};

mod cache;
mod metrics;

use cache::Cached;
pub use cache::ResponseCache;
pub use metrics::Metrics;

use crate::answer::{
    Answer, Context, Decision, StalePolicy, answer_request, crl_reason, gtime, try_later_response,
};
use crate::config::Config;
use crate::issuers::IssuerTable;
use crate::request::{Limits, Request};
use crate::sign::Responder;
use crate::{Error, error_response};

/// Why the responder could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A CA certificate or the responder certificate/key is unusable.
    #[error(transparent)]
    Ocsp(#[from] Error),
    /// The metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The relay to J-LIS could not be set up.
    #[error("upstream: {0}")]
    Upstream(#[from] ocsp_client::OcspClientError),
}

/// The relay to J-LIS's responder: the client and the CAs it asks about, by key id.
#[derive(Debug)]
pub struct Relay {
    client: OcspClient,
    cas: HashMap<Vec<u8>, IssuingCa>,
    url: String,
}

/// Everything a request needs, built once from the configuration.
#[derive(Debug)]
pub struct OcspServer {
    /// The configuration.
    pub config: Config,
    /// The CAs answered.
    pub issuers: IssuerTable,
    /// The signing certificate and key.
    pub responder: Responder,
    /// The revocation index.
    pub index: Arc<Index>,
    /// Signed responses.
    pub cache: Arc<ResponseCache>,
    /// Metrics.
    pub metrics: Metrics,
    /// The relay to J-LIS, when configured.
    pub relay: Option<Relay>,
    limits: Limits,
    signing: AtomicUsize,
}

/// What one request is answered with.
#[derive(Debug)]
pub struct Reply {
    /// The `OCSPResponse` DER.
    pub body: Arc<[u8]>,
    /// `successful`, `malformed_request`, `internal_error` or `try_later` (metrics).
    pub status: &'static str,
    /// `index`, `upstream`, `cache` or `none` (metrics).
    pub source: &'static str,
    /// thisUpdate and nextUpdate of a cacheable signed response (RFC 5019 headers).
    pub cache_window: Option<(i64, i64)>,
    /// Seconds to suggest in `Retry-After` (load shedding).
    pub retry_after: Option<u64>,
}

impl Reply {
    fn error(e: &Error) -> Reply {
        tracing::debug!(code = e.code(), error = %e, "OCSP request refused");
        let status = match e.response_status() {
            jpki::ocsp::ResponseStatus::MalformedRequest => "malformed_request",
            jpki::ocsp::ResponseStatus::TryLater => "try_later",
            _ => "internal_error",
        };
        Reply {
            body: error_response(e).into(),
            status,
            source: "none",
            cache_window: None,
            retry_after: None,
        }
    }

    fn try_later(retry_after: Option<u64>) -> Reply {
        Reply {
            body: try_later_response().into(),
            status: "try_later",
            source: "none",
            cache_window: None,
            retry_after,
        }
    }
}

/// Releases a signing slot when dropped.
struct SigningSlot<'a>(&'a AtomicUsize);

impl Drop for SigningSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl OcspServer {
    /// Loads the CA certificates, the responder and the index (an empty or missing snapshot
    /// directory leaves it unloaded: not ready, every answer `tryLater`).
    pub fn build(config: Config) -> Result<OcspServer, StartError> {
        let mut issuers = IssuerTable::new();
        for path in &config.ca_certs {
            issuers.add_pem_file(path)?;
        }
        let responder = Responder::from_pem_files(&config.responder.cert, &config.responder.key)?;
        let index = Arc::new(Index::open(config.snapshot_dir.clone(), config.index.grace_secs));
        let limits = Limits {
            max_request_bytes: config.limits.max_request_bytes,
            max_cert_ids: config.limits.max_cert_ids,
        };
        let relay = match &config.upstream {
            None => None,
            Some(u) => {
                let client = OcspClient::new(ClientConfig {
                    timeout: Duration::from_millis(u.timeout_ms),
                    connect_timeout: Duration::from_millis(u.timeout_ms.min(2000)),
                    policy: VerifyPolicy {
                        require_nonce: u.require_nonce,
                        ..VerifyPolicy::default()
                    },
                    cache_capacity: u.cache_entries,
                    ..ClientConfig::default()
                })?;
                let mut cas = HashMap::new();
                for ca in issuers.cas() {
                    let issuing = IssuingCa::from_der(ca.certificate())?.with_responder_url(u.url.clone());
                    cas.insert(ca.key_id().to_vec(), issuing);
                }
                Some(Relay {
                    client,
                    cas,
                    url: u.url.clone(),
                })
            }
        };
        Ok(OcspServer {
            relay,
            cache: Arc::new(ResponseCache::new(config.cache.max_entries)),
            metrics: Metrics::new()?,
            issuers,
            responder,
            index,
            limits,
            signing: AtomicUsize::new(0),
            config,
        })
    }

    /// Answers a POST body.
    pub async fn answer_post(&self, body: &[u8], now: i64) -> Reply {
        self.answer(Request::from_post(body, &self.limits), now).await
    }

    /// Answers the GET form (the part of the path after the responder's prefix, as received).
    pub async fn answer_get(&self, path: &str, now: i64) -> Reply {
        self.answer(Request::from_get(path, &self.limits), now).await
    }

    async fn answer(&self, request: Result<Request, Error>, now: i64) -> Reply {
        let request = match request {
            Ok(r) => r,
            Err(e) => return Reply::error(&e),
        };
        // The RFC 5019 profile (one CertID, no nonce) gives the same response to everyone.
        let cache_key = match request.certs() {
            [one] if request.nonce_extension().is_none() => one.cert_id.to_der().ok(),
            _ => None,
        };
        if let Some(key) = &cache_key
            && let Some(hit) = self.cache.get(key, now)
        {
            return Reply {
                body: hit.body,
                status: "successful",
                source: "cache",
                cache_window: Some((hit.this_update, hit.valid_until)),
                retry_after: None,
            };
        }
        let decision = {
            let set = self.index.load();
            let ctx = Context {
                issuers: &self.issuers,
                snapshots: set.as_deref(),
                at: now,
                policy: Policy::with_grace(self.index.grace()),
                stale: if self.relay.is_some() {
                    StalePolicy::Relay
                } else {
                    StalePolicy::TryLater
                },
            };
            answer_request(&ctx, &request)
        };
        let (responses, source) = match decision {
            Ok(Decision::Respond(responses)) => (responses, "index"),
            Ok(Decision::TryLater(reason)) => {
                tracing::debug!(reason = reason.code(), "OCSP answer needs fresher CRL data");
                return Reply::try_later(None);
            }
            Ok(Decision::NeedsLiveCheck(answers)) => match self.relay_all(answers).await {
                Some(responses) => (responses, "upstream"),
                None => return Reply::try_later(None),
            },
            Err(e) => return Reply::error(&e),
        };
        let window = window_of(&responses);
        let Some(_slot) = self.signing_slot() else {
            self.metrics.shed.inc();
            return Reply::try_later(Some(1));
        };
        let body: Arc<[u8]> = match self.responder.sign(
            responses,
            request.nonce_extension(),
            now,
            request.preferred_signature_algorithms(),
        ) {
            Ok(b) => b.into(),
            Err(e) => {
                tracing::error!(code = e.code(), error = %e, "signing an OCSP response failed");
                return Reply::error(&e);
            }
        };
        let cache_window = match (cache_key, window) {
            (Some(key), Some((this_update, next_update))) => {
                self.cache.put(
                    key,
                    Cached {
                        body: Arc::clone(&body),
                        valid_until: next_update,
                        this_update,
                    },
                );
                Some((this_update, next_update))
            }
            _ => None,
        };
        Reply {
            body,
            status: "successful",
            source,
            cache_window,
            retry_after: None,
        }
    }

    /// Replaces each live check with J-LIS's verified answer, in request order; `None` when
    /// one of them fails (the request is then `tryLater`: never good without a verified answer).
    async fn relay_all(&self, answers: Vec<Answer>) -> Option<Vec<SingleResponse>> {
        let relay = self.relay.as_ref()?;
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            let live = match answer {
                Answer::Status(s) => {
                    out.push(s);
                    continue;
                }
                Answer::NeedsLiveCheck(live) => live,
                Answer::TryLater(_) => return None,
            };
            let ca = relay.cas.get(&live.ca_key_id)?;
            let verified = match relay.client.check_serial(live.serial, ca, &relay.url).await {
                Ok((verified, source)) => {
                    self.metrics.relay.with_label_values(&[source.as_str()]).inc();
                    verified
                }
                Err(e) => {
                    self.metrics.relay.with_label_values(&[e.code()]).inc();
                    tracing::warn!(code = e.code(), error = %e, "relay to J-LIS's OCSP responder failed");
                    return None;
                }
            };
            out.push(relayed(live.cert_id, &verified)?);
        }
        Some(out)
    }

    fn signing_slot(&self) -> Option<SigningSlot<'_>> {
        let max = self.config.limits.max_signings_in_flight;
        let before = self.signing.fetch_add(1, Ordering::AcqRel);
        let slot = SigningSlot(&self.signing);
        (before < max).then_some(slot)
    }
}

/// The SP's CertID answered with J-LIS's verified status and dates.
fn relayed(cert_id: jpki::ocsp::CertId, verified: &Verified) -> Option<SingleResponse> {
    let cert_status = match &verified.status {
        CertStatus::Good(_) => OcspStatus::Good(Null),
        CertStatus::Revoked {
            revoked_at, reason, ..
        } => OcspStatus::Revoked(RevokedInfo {
            revocation_time: gtime(*revoked_at).ok()?,
            revocation_reason: reason.map(crl_reason),
        }),
        CertStatus::Unknown { .. } => OcspStatus::Unknown(Null),
    };
    Some(SingleResponse {
        cert_id,
        cert_status,
        this_update: gtime(verified.this_update).ok()?,
        next_update: Some(gtime(verified.next_update).ok()?),
        single_extensions: None,
    })
}

/// The earliest thisUpdate and nextUpdate among the responses (`None` when one has no
/// nextUpdate: such a response is not cached).
fn window_of(responses: &[jpki::ocsp::SingleResponse]) -> Option<(i64, i64)> {
    let secs = |t: &der::asn1::GeneralizedTime| i64::try_from(t.to_unix_duration().as_secs()).ok();
    let mut out: Option<(i64, i64)> = None;
    for r in responses {
        let this_update = secs(&r.this_update)?;
        let next_update = secs(r.next_update.as_ref()?)?;
        out = Some(match out {
            Some((t, n)) => (t.min(this_update), n.min(next_update)),
            None => (this_update, next_update),
        });
    }
    out
}

impl Monitored for OcspServer {
    fn index(&self) -> &Index {
        &self.index
    }

    fn checks(&self) -> Vec<Check> {
        vec![
            Check::informational("response_cache", true).with("entries", self.cache.len()),
            Check::informational("signings_in_flight", true)
                .with("count", self.signing.load(Ordering::Relaxed)),
        ]
    }

    fn registry(&self) -> &Registry {
        &self.metrics.registry
    }

    fn before_scrape(&self) {
        let now = now_unix();
        self.metrics
            .index
            .observe(&IndexHealth::of_index(&self.index, now), now);
    }
}

fn http_date(unix: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?;
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&format).ok()
}

fn respond(server: &OcspServer, reply: Reply, method: &str, started: Instant) -> HttpResponse {
    server
        .metrics
        .responses
        .with_label_values(&[reply.status, reply.source])
        .inc();
    server
        .metrics
        .latency
        .with_label_values(&[method])
        .observe(started.elapsed().as_secs_f64());
    let mut res = HttpResponse::Ok();
    res.content_type("application/ocsp-response");
    if let Some((this_update, next_update)) = reply.cache_window {
        // RFC 5019 §6.2: a cache may keep the response until its nextUpdate.
        let now = now_unix();
        let max_age = next_update.saturating_sub(now).max(0);
        res.insert_header((
            header::CACHE_CONTROL,
            format!("max-age={max_age}, public, no-transform, must-revalidate"),
        ));
        if let Some(d) = http_date(this_update) {
            res.insert_header((header::LAST_MODIFIED, d));
        }
        if let Some(d) = http_date(next_update) {
            res.insert_header((header::EXPIRES, d));
        }
        let etag = hex::encode(openssl::sha::sha1(&reply.body));
        res.insert_header((header::ETAG, format!("\"{etag}\"")));
    } else {
        res.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    if let Some(secs) = reply.retry_after {
        res.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    res.body(reply.body.to_vec())
}

async fn post(server: web::Data<OcspServer>, body: web::Bytes) -> HttpResponse {
    let started = Instant::now();
    let reply = server.answer_post(&body, now_unix()).await;
    respond(&server, reply, "POST", started)
}

async fn get(server: web::Data<OcspServer>, req: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let path = req.uri().path();
    let raw = path
        .strip_prefix("/ocsp/")
        .or_else(|| path.strip_prefix('/'))
        .unwrap_or_default();
    let reply = server.answer_get(raw, now_unix()).await;
    respond(&server, reply, "GET", started)
}

/// Registers every route on `cfg`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(pf_server::health::healthz))
        .route("/readyz", web::get().to(pf_server::health::readyz::<OcspServer>))
        .route(
            "/metrics",
            web::get().to(pf_server::health::metrics::<OcspServer>),
        )
        .route("/", web::post().to(post))
        .route("/ocsp", web::post().to(post))
        .route("/{tail:.*}", web::get().to(get));
}

/// Starts the index reload loop (which empties the response cache on every swap), binds
/// `listener` (with TLS when `[server.tls]` is set) and returns the server, not yet awaited.
/// Must be called inside a Tokio runtime.
pub fn start(server: Arc<OcspServer>, listener: TcpListener) -> std::io::Result<(SocketAddr, Server)> {
    let addr = listener.local_addr()?;
    let cache = Arc::clone(&server.cache);
    let metrics = server.metrics.index.clone();
    pf_server::index::spawn_reloader(
        &server.index,
        Duration::from_millis(server.config.index.reload_interval_ms),
        move |index, outcome| {
            metrics.count(outcome);
            if matches!(outcome, Reload::Swapped) {
                cache.clear();
            }
            let now = now_unix();
            metrics.observe(&IndexHealth::of_index(index, now), now);
        },
    );
    let workers = server.config.workers;
    let tls = server.config.server.tls.clone();
    // Bodies up to the configured limit reach the parser (which answers malformedRequest past
    // it); larger ones are refused by the framework with 413.
    let max_body = server.config.limits.max_request_bytes.saturating_add(1);
    let data = web::Data::from(server);
    let http = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .configure(routes)
    })
    .workers(workers)
    .shutdown_timeout(30)
    .disable_signals()
    .on_connect(pf_server::tls::on_connect);
    let http = match &tls {
        Some(cfg) => http.listen_openssl(
            listener,
            pf_server::tls::acceptor(cfg).map_err(std::io::Error::other)?,
        )?,
        None => http.listen(listener)?,
    }
    .run();
    Ok((addr, http))
}

/// Builds the responder from `config` and serves until SIGTERM or SIGINT, then finishes the
/// requests in flight.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let signals = pf_server::shutdown::Signals::install()?;
    let listener = TcpListener::bind(config.listen)?;
    let server = Arc::new(OcspServer::build(config)?);
    let (addr, http) = start(Arc::clone(&server), listener)?;
    tracing::info!(%addr, cas = server.issuers.len(), "ocsp-proxy listening");
    let handle = http.handle();
    let task = tokio::spawn(http);
    tokio::select! {
        r = task => { r??; }
        () = signals.recv() => {
            tracing::info!("shutting down: finishing in-flight requests");
            handle.stop(true).await;
        }
    }
    Ok(())
}
