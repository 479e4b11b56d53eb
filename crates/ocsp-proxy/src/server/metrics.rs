//! The responder's metrics, under `ocsp_proxy_`: the index's (from `pf_server`), responses by
//! status and source, load shedding, latency, and live checks at J-LIS.

use pf_server::metrics::IndexMetrics;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// The responder's metrics, under `ocsp_proxy_`.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub(super) registry: Registry,
    /// The revocation index's.
    pub index: IndexMetrics,
    /// `responses_total{status, source}`: status `successful` (signed), `malformed_request`,
    /// `internal_error`, `try_later`; source `index`, `cache` or `none`.
    pub responses: IntCounterVec,
    /// `signings_shed_total`: requests answered `tryLater` because the signers were all busy.
    pub shed: IntCounter,
    /// `request_duration_seconds{method}`.
    pub latency: HistogramVec,
    /// `relay_total{result}`: live checks at J-LIS's responder (OCSP checks may be billed per
    /// call): `upstream` (asked), `cache` (a verified answer still before its nextUpdate), or the
    /// refusal's code (`OCSP_UPSTREAM_UNREACHABLE`, `OCSP_BAD_SIGNATURE`, ...).
    pub relay: IntCounterVec,
}

impl Metrics {
    pub(super) fn new() -> Result<Metrics, prometheus::Error> {
        let registry = pf_server::metrics::registry("ocsp_proxy")?;
        let index = IndexMetrics::register(&registry)?;
        let responses = IntCounterVec::new(
            Opts::new("responses_total", "OCSP responses by status and source"),
            &["status", "source"],
        )?;
        let shed = IntCounter::new(
            "signings_shed_total",
            "Requests answered tryLater because every signer was busy",
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("request_duration_seconds", "Time to answer an OCSP request").buckets(vec![
                0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0,
            ]),
            &["method"],
        )?;
        let relay = IntCounterVec::new(
            Opts::new("relay_total", "Live checks at J-LIS's OCSP responder, by result"),
            &["result"],
        )?;
        registry.register(Box::new(relay.clone()))?;
        registry.register(Box::new(responses.clone()))?;
        registry.register(Box::new(shed.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            index,
            responses,
            shed,
            latency,
            relay,
        })
    }
}
