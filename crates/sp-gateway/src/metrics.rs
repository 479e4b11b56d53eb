//! Prometheus metrics. Labels are SP ids, routes, statuses, purposes, verdicts and reason codes:
//! nothing personal, no serials, no user ids.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

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
    /// method (`crl`) and answer.
    pub checks: IntCounterVec,
    /// Requests refused by the rate limiter, by SP.
    pub rate_limited: IntCounterVec,
    /// Authentication failures by kind (`missing`, `unknown`, `revoked`).
    pub auth_failures: IntCounterVec,
    /// Seconds since the stalest CRL's thisUpdate.
    pub index_age: Gauge,
    /// Seconds until the stalest CRL's nextUpdate (negative when stale).
    pub index_expires_in: Gauge,
    /// Snapshot swaps.
    pub index_swaps: IntCounter,
    /// Failed snapshot reloads.
    pub index_reload_errors: IntCounter,
    /// 1 when the last Redis call succeeded.
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
        let registry = Registry::new_custom(Some("sp_gateway".into()), None)?;
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
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limited_total", "Requests refused with 429"),
            &["sp"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new("auth_failures_total", "Requests refused with 401"),
            &["kind"],
        )?;
        let index_age = Gauge::new("index_age_seconds", "Seconds since the stalest CRL's thisUpdate")?;
        let index_expires_in = Gauge::new(
            "index_expires_in_seconds",
            "Seconds until the stalest CRL's nextUpdate",
        )?;
        let index_swaps = IntCounter::new("index_swaps_total", "Snapshot sets swapped in")?;
        let index_reload_errors = IntCounter::new("index_reload_errors_total", "Failed snapshot reloads")?;
        let redis_up = IntGauge::new("redis_up", "1 when Redis answered the last call")?;
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
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(index_age.clone()))?;
        registry.register(Box::new(index_expires_in.clone()))?;
        registry.register(Box::new(index_swaps.clone()))?;
        registry.register(Box::new(index_reload_errors.clone()))?;
        registry.register(Box::new(redis_up.clone()))?;
        registry.register(Box::new(relays.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            verdicts,
            checks,
            rate_limited,
            auth_failures,
            index_age,
            index_expires_in,
            index_swaps,
            index_reload_errors,
            redis_up,
            relays,
            webhook_deliveries,
            webhook_delta_events,
        })
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
