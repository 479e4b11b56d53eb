//! Prometheus metrics every server with a revocation index exports, in a registry whose
//! namespace is the service's (`sp_gateway_index_loaded`, …): the index gauges and reload
//! counters ([`IndexMetrics`]), and the text exposition ([`encode`]).
//!
//! The `ca_key` label takes one value per CA key of the loaded snapshot set (a handful), and a
//! key that leaves the set loses its series.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use prometheus::{Encoder, Gauge, GaugeVec, IntCounter, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::health::IndexHealth;
use crate::index::Reload;

/// A registry whose metric names all start with `<namespace>_`.
pub fn registry(namespace: &str) -> Result<Registry, prometheus::Error> {
    Registry::new_custom(Some(namespace.to_owned()), None)
}

/// The text exposition of `registry` (empty if it cannot be encoded).
pub fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    if TextEncoder::new().encode(&registry.gather(), &mut buf).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// The revocation index's metrics.
#[derive(Debug, Clone)]
pub struct IndexMetrics {
    /// `index_age_seconds`: seconds since the stalest CRL's thisUpdate.
    pub age: Gauge,
    /// `index_expires_in_seconds`: seconds until the stalest CRL's nextUpdate (negative when
    /// stale).
    pub expires_in: Gauge,
    /// `index_swaps_total`: snapshot sets swapped in.
    pub swaps: IntCounter,
    /// `index_reload_errors_total`: failed snapshot reloads.
    pub reload_errors: IntCounter,
    /// `index_loaded`: 1 when a non-empty snapshot set is loaded (the index part of readiness).
    pub loaded: IntGauge,
    /// `index_stale_partitions`: CRL partitions past nextUpdate plus the grace, all CA keys.
    pub stale_partitions: IntGauge,
    /// `index_ca_partitions`: CRL partitions by CA key (`ca_key`: key id, hex).
    pub ca_partitions: IntGaugeVec,
    /// `index_ca_stale_partitions`: CRL partitions past nextUpdate plus the grace, by CA key.
    pub ca_stale_partitions: IntGaugeVec,
    /// `index_ca_oldest_this_update_age_seconds`: seconds since the earliest thisUpdate among a
    /// CA key's partitions, by CA key.
    pub ca_oldest_this_update_age: GaugeVec,
    /// The `ca_key` label values last set, so that a key that leaves the set loses its series.
    ca_keys: Arc<Mutex<BTreeSet<String>>>,
}

impl IndexMetrics {
    /// Creates the index metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<IndexMetrics, prometheus::Error> {
        let m = IndexMetrics {
            age: Gauge::new("index_age_seconds", "Seconds since the stalest CRL's thisUpdate")?,
            expires_in: Gauge::new(
                "index_expires_in_seconds",
                "Seconds until the stalest CRL's nextUpdate",
            )?,
            swaps: IntCounter::new("index_swaps_total", "Snapshot sets swapped in")?,
            reload_errors: IntCounter::new("index_reload_errors_total", "Failed snapshot reloads")?,
            loaded: IntGauge::new("index_loaded", "1 when a non-empty snapshot set is loaded")?,
            stale_partitions: IntGauge::new(
                "index_stale_partitions",
                "CRL partitions past nextUpdate plus the grace, all CA keys",
            )?,
            ca_partitions: IntGaugeVec::new(
                Opts::new("index_ca_partitions", "CRL partitions by CA key"),
                &["ca_key"],
            )?,
            ca_stale_partitions: IntGaugeVec::new(
                Opts::new(
                    "index_ca_stale_partitions",
                    "CRL partitions past nextUpdate plus the grace, by CA key",
                ),
                &["ca_key"],
            )?,
            ca_oldest_this_update_age: GaugeVec::new(
                Opts::new(
                    "index_ca_oldest_this_update_age_seconds",
                    "Seconds since the earliest thisUpdate among the CA key's CRL partitions",
                ),
                &["ca_key"],
            )?,
            ca_keys: Arc::default(),
        };
        registry.register(Box::new(m.age.clone()))?;
        registry.register(Box::new(m.expires_in.clone()))?;
        registry.register(Box::new(m.swaps.clone()))?;
        registry.register(Box::new(m.reload_errors.clone()))?;
        registry.register(Box::new(m.loaded.clone()))?;
        registry.register(Box::new(m.stale_partitions.clone()))?;
        registry.register(Box::new(m.ca_partitions.clone()))?;
        registry.register(Box::new(m.ca_stale_partitions.clone()))?;
        registry.register(Box::new(m.ca_oldest_this_update_age.clone()))?;
        Ok(m)
    }

    /// Counts a reload: a swap or a failure.
    pub fn count(&self, reload: &Reload) {
        match reload {
            Reload::Swapped => self.swaps.inc(),
            Reload::Failed(_) => self.reload_errors.inc(),
            Reload::Unchanged => {}
        }
    }

    /// Sets the gauges from `health` at `now`: age and expiry of the stalest partition (kept
    /// as they were when nothing is loaded), loaded, stale partitions (in total and per CA key),
    /// partitions per CA key, and the age of each key's oldest thisUpdate; the series of CA keys
    /// no longer in the set are removed.
    pub fn observe(&self, health: &IndexHealth, now: i64) {
        if let Some(f) = &health.stalest {
            self.age.set(now.saturating_sub(f.this_update) as f64);
            self.expires_in.set(f.next_update.saturating_sub(now) as f64);
        }
        // One update at a time, so that concurrent scrapes and reloads agree on the label set.
        let mut known = self.ca_keys.lock().unwrap_or_else(|e| e.into_inner());
        self.loaded.set(i64::from(health.loaded));
        self.stale_partitions
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_take_the_service_namespace() {
        let r = registry("ocsp_proxy").unwrap();
        let m = IndexMetrics::register(&r).unwrap();
        m.count(&Reload::Swapped);
        m.count(&Reload::Unchanged);
        m.observe(&IndexHealth::default(), 1000);
        let text = encode(&r);
        for want in [
            "ocsp_proxy_index_swaps_total 1",
            "ocsp_proxy_index_reload_errors_total 0",
            "ocsp_proxy_index_loaded 0",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        // A second registration in the same registry is refused, not silently doubled.
        assert!(IndexMetrics::register(&r).is_err());
    }
}
