//! Prometheus metrics. Labels are SP ids, routes, statuses, purposes, verdicts, reason codes and
//! CA key ids: nothing personal, no serials, no user ids. The `ca_key` label takes one value per
//! CA key of the loaded snapshot set (a handful), and a key that leaves the set loses its series.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::readiness::IndexHealth;

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
    /// 1 when a non-empty snapshot set is loaded (the index part of readiness).
    pub index_loaded: IntGauge,
    /// CRL partitions past nextUpdate plus the grace, all CA keys together.
    pub index_stale_partitions: IntGauge,
    /// CRL partitions by CA key (`ca_key`: key id, hex).
    pub ca_partitions: IntGaugeVec,
    /// CRL partitions past nextUpdate plus the grace, by CA key.
    pub ca_stale_partitions: IntGaugeVec,
    /// Seconds since the earliest thisUpdate among a CA key's partitions, by CA key.
    pub ca_oldest_this_update_age: GaugeVec,
    /// 1 when the last Redis call (a request's, or the periodic probe's PING) succeeded.
    pub redis_up: IntGauge,
    /// 4-info relays by SP and outcome.
    pub relays: IntCounterVec,
    /// Webhook deliveries by SP and outcome (`enqueued`, `delivered`, `retry`, `dead_letter`).
    pub webhook_deliveries: IntCounterVec,
    /// Delta events read by the webhook worker, by result (`matched`, `unmatched`, `baseline`,
    /// `ignored`).
    pub webhook_delta_events: IntCounterVec,
    /// The `ca_key` label values last set, so that a key that leaves the set loses its series.
    ca_keys: Arc<Mutex<BTreeSet<String>>>,
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
        let index_loaded = IntGauge::new("index_loaded", "1 when a non-empty snapshot set is loaded")?;
        let index_stale_partitions = IntGauge::new(
            "index_stale_partitions",
            "CRL partitions past nextUpdate plus the grace, all CA keys",
        )?;
        let ca_partitions = IntGaugeVec::new(
            Opts::new("index_ca_partitions", "CRL partitions by CA key"),
            &["ca_key"],
        )?;
        let ca_stale_partitions = IntGaugeVec::new(
            Opts::new(
                "index_ca_stale_partitions",
                "CRL partitions past nextUpdate plus the grace, by CA key",
            ),
            &["ca_key"],
        )?;
        let ca_oldest_this_update_age = GaugeVec::new(
            Opts::new(
                "index_ca_oldest_this_update_age_seconds",
                "Seconds since the earliest thisUpdate among the CA key's CRL partitions",
            ),
            &["ca_key"],
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
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(index_age.clone()))?;
        registry.register(Box::new(index_expires_in.clone()))?;
        registry.register(Box::new(index_swaps.clone()))?;
        registry.register(Box::new(index_reload_errors.clone()))?;
        registry.register(Box::new(index_loaded.clone()))?;
        registry.register(Box::new(index_stale_partitions.clone()))?;
        registry.register(Box::new(ca_partitions.clone()))?;
        registry.register(Box::new(ca_stale_partitions.clone()))?;
        registry.register(Box::new(ca_oldest_this_update_age.clone()))?;
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
            index_loaded,
            index_stale_partitions,
            ca_partitions,
            ca_stale_partitions,
            ca_oldest_this_update_age,
            redis_up,
            relays,
            webhook_deliveries,
            webhook_delta_events,
            ca_keys: Arc::default(),
        })
    }

    /// Sets the index gauges from `health` at `now`: loaded, stale partitions (in total and per CA
    /// key), partitions per CA key, and the age of each key's oldest thisUpdate; the series of CA
    /// keys no longer in the set are removed.
    pub fn set_index_health(&self, health: &IndexHealth, now: i64) {
        // One update at a time, so that concurrent scrapes and reloads agree on the label set.
        let mut known = self.ca_keys.lock().unwrap_or_else(|e| e.into_inner());
        self.index_loaded.set(i64::from(health.loaded));
        self.index_stale_partitions
            .set(i64::try_from(health.stale_partitions()).unwrap_or(i64::MAX));
        let mut current = BTreeSet::new();
        for k in &health.ca_keys {
            let label = [k.ca_key.as_str()];
            self.ca_partitions
                .with_label_values(&label)
                .set(i64::try_from(k.partitions).unwrap_or(i64::MAX));
            self.ca_stale_partitions
                .with_label_values(&label)
                .set(i64::try_from(k.stale).unwrap_or(i64::MAX));
            match k.oldest_this_update {
                Some(t) => self
                    .ca_oldest_this_update_age
                    .with_label_values(&label)
                    .set(now.saturating_sub(t) as f64),
                None => {
                    let _ = self.ca_oldest_this_update_age.remove_label_values(&label);
                }
            }
            current.insert(k.ca_key.clone());
        }
        for gone in known.difference(&current) {
            let label = [gone.as_str()];
            let _ = self.ca_partitions.remove_label_values(&label);
            let _ = self.ca_stale_partitions.remove_label_values(&label);
            let _ = self.ca_oldest_this_update_age.remove_label_values(&label);
        }
        *known = current;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::readiness::{CaKeyHealth, IndexHealth};

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
        m.set_index_health(&h, 1000);
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
        m.set_index_health(
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
        m.set_index_health(&IndexHealth::default(), 1000);
        let text = m.render();
        assert!(text.contains("sp_gateway_index_loaded 0"), "{text}");
        assert!(!text.contains("ca_key="), "{text}");
    }
}
