//! Prometheus metrics, all named `sp_gateway_…`. Labels are SP ids, routes, statuses, purposes,
//! verdicts, reason codes and CA key ids: nothing personal, no serials, no user ids. The index
//! metrics (`sp_gateway_index_…`, with the `ca_key` label) are the server foundation's
//! ([`pf_server::metrics::IndexMetrics`]).

use pf_server::metrics::IndexMetrics;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

/// All metrics of one gateway.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route pattern, method and status.
    pub requests: IntCounterVec,
    /// Latency by route pattern.
    pub latency: HistogramVec,
    /// Verification and login verdicts by SP, purpose, verdict and reason.
    pub verdicts: IntCounterVec,
    /// Revocation checks by SP, purpose (`signature_verification`, `login`, `liveness_check`),
    /// method (`crl`, or `ocsp` for a live check at J-LIS's responder) and answer.
    pub checks: IntCounterVec,
    /// Live checks at J-LIS's OCSP responder by SP and source (`upstream`: asked; `cache`: a
    /// verified answer before its nextUpdate; `failed`): the billing counter for OCSP checks,
    /// which J-LIS may bill per call.
    pub live_checks: IntCounterVec,
    /// Requests refused by the rate limiter, by SP.
    pub rate_limited: IntCounterVec,
    /// Authentication failures by kind (`missing`, `unknown`, `revoked`).
    pub auth_failures: IntCounterVec,
    /// The revocation index: gauges and reload counters.
    pub index: IndexMetrics,
    /// 1 when the last Redis call (a request's, or the periodic probe's PING) succeeded.
    pub redis_up: IntGauge,
    /// 4-info relays by SP and outcome.
    pub relays: IntCounterVec,
    /// Webhook deliveries by SP and outcome (`enqueued`, `delivered`, `retry`, `dead_letter`).
    pub webhook_deliveries: IntCounterVec,
    /// Delta events read by the webhook worker, by result (`matched`, `unmatched`, `baseline`,
    /// `ignored`).
    pub webhook_delta_events: IntCounterVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = pf_server::metrics::registry("sp_gateway")?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests"),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )?;
        let verdicts = IntCounterVec::new(
            Opts::new("verdicts_total", "Verification and login verdicts"),
            &["sp", "purpose", "verdict", "reason"],
        )?;
        let checks = IntCounterVec::new(
            Opts::new("revocation_checks_total", "Revocation checks (metered)"),
            &["sp", "purpose", "method", "status"],
        )?;
        let live_checks = IntCounterVec::new(
            Opts::new(
                "live_checks_total",
                "Live status checks at J-LIS's OCSP responder (metered)",
            ),
            &["sp", "source"],
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limited_total", "Requests refused with 429"),
            &["sp"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new("auth_failures_total", "Requests refused with 401"),
            &["kind"],
        )?;
        let redis_up = IntGauge::new("redis_up", "1 when Redis answered the last call or probe")?;
        let relays = IntCounterVec::new(
            Opts::new("basic_info_relays_total", "4-info relays to J-LIS (metered)"),
            &["sp", "outcome"],
        )?;
        let webhook_deliveries = IntCounterVec::new(
            Opts::new("webhook_deliveries_total", "Webhook deliveries by outcome"),
            &["sp", "outcome"],
        )?;
        let webhook_delta_events = IntCounterVec::new(
            Opts::new(
                "webhook_delta_events_total",
                "Delta events read by the webhook worker",
            ),
            &["result"],
        )?;
        registry.register(Box::new(webhook_deliveries.clone()))?;
        registry.register(Box::new(webhook_delta_events.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(verdicts.clone()))?;
        registry.register(Box::new(checks.clone()))?;
        registry.register(Box::new(live_checks.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(redis_up.clone()))?;
        registry.register(Box::new(relays.clone()))?;
        let index = IndexMetrics::register(&registry)?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            verdicts,
            checks,
            live_checks,
            rate_limited,
            auth_failures,
            index,
            redis_up,
            relays,
            webhook_deliveries,
            webhook_delta_events,
        })
    }

    /// The registry all of them are in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        pf_server::metrics::encode(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use pf_server::health::{CaKeyHealth, IndexHealth};

    use super::*;

    fn key(ca_key: &str, partitions: usize, stale: usize, oldest: i64) -> CaKeyHealth {
        CaKeyHealth {
            ca_key: ca_key.into(),
            partitions,
            stale,
            oldest_this_update: Some(oldest),
        }
    }

    #[test]
    fn index_health_gauges_follow_the_loaded_ca_keys() {
        let m = Metrics::new().unwrap();
        let h = IndexHealth {
            loaded: true,
            ca_keys: vec![key("0102", 3, 1, 900), key("0a0b", 2, 0, 990)],
            stalest: None,
        };
        m.index.observe(&h, 1000);
        let text = m.render();
        for want in [
            "sp_gateway_index_loaded 1",
            "sp_gateway_index_stale_partitions 1",
            "sp_gateway_index_ca_partitions{ca_key=\"0102\"} 3",
            "sp_gateway_index_ca_stale_partitions{ca_key=\"0102\"} 1",
            "sp_gateway_index_ca_stale_partitions{ca_key=\"0a0b\"} 0",
            "sp_gateway_index_ca_oldest_this_update_age_seconds{ca_key=\"0102\"} 100",
            "sp_gateway_index_ca_oldest_this_update_age_seconds{ca_key=\"0a0b\"} 10",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        // A key that leaves the set loses its series; nothing loaded reports 0.
        m.index.observe(
            &IndexHealth {
                loaded: true,
                ca_keys: vec![key("0a0b", 2, 2, 990)],
                stalest: None,
            },
            1000,
        );
        let text = m.render();
        assert!(!text.contains("0102"), "{text}");
        assert!(text.contains("sp_gateway_index_stale_partitions 2"), "{text}");
        m.index.observe(&IndexHealth::default(), 1000);
        let text = m.render();
        assert!(text.contains("sp_gateway_index_loaded 0"), "{text}");
        assert!(!text.contains("ca_key="), "{text}");
    }
}
