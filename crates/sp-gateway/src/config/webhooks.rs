//! `[webhooks]`: the delivery worker that turns crl-sync's delta events into signed webhooks.

use serde::Deserialize;

/// The webhook delivery worker.
///
/// ```toml
/// [webhooks]
/// enabled = true
/// delta_stream = "jpki-pf:crl-delta"   # crl-sync's [redis] stream
/// group = "sp-gateway-webhooks"        # one consumer group shared by every replica
/// # consumer = "gw-1"                  # default: host name, process id and a random suffix
/// batch = 64                           # stream entries read per call
/// block_ms = 1000                      # how long one read waits for new entries
/// claim_idle_ms = 60000                # entries a dead replica left pending this long are taken over
/// timeout_ms = 5000                    # one POST to an SP, connect included
/// max_attempts = 8                     # then the delivery goes to the dead-letter stream
/// backoff_initial_ms = 1000            # doubled per failed attempt ...
/// backoff_max_ms = 600000              # ... up to this
/// dead_letter_max = 100000             # dead-letter stream length kept (approximately)
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Whether `serve` starts the worker.
    pub enabled: bool,
    /// The Redis stream crl-sync appends delta events to.
    pub delta_stream: String,
    /// The consumer group on the delta stream and on the webhook outbox.
    pub group: String,
    /// This replica's consumer name (unique per replica).
    pub consumer: Option<String>,
    /// Entries read per call.
    pub batch: usize,
    /// How long a read waits for new entries.
    pub block_ms: u64,
    /// Pending entries idle this long are claimed from their (presumably dead) consumer.
    pub claim_idle_ms: u64,
    /// One POST, connect included.
    pub timeout_ms: u64,
    /// Attempts before the dead-letter stream.
    pub max_attempts: u32,
    /// First retry delay.
    pub backoff_initial_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// Dead-letter entries kept (approximately).
    pub dead_letter_max: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            enabled: true,
            delta_stream: "jpki-pf:crl-delta".to_owned(),
            group: "sp-gateway-webhooks".to_owned(),
            consumer: None,
            batch: 64,
            block_ms: 1000,
            claim_idle_ms: 60_000,
            timeout_ms: 5000,
            max_attempts: 8,
            backoff_initial_ms: 1000,
            backoff_max_ms: 600_000,
            dead_letter_max: 100_000,
        }
    }
}

impl WebhooksConfig {
    /// The problems with these values.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.delta_stream.is_empty() || self.group.is_empty() {
            out.push("webhooks.delta_stream and webhooks.group must not be empty".to_owned());
        }
        if let Some(c) = &self.consumer
            && (c.is_empty() || c.len() > 128 || c.contains(char::is_whitespace))
        {
            out.push("webhooks.consumer must be 1-128 characters without spaces".to_owned());
        }
        if !(1..=1000).contains(&self.batch) {
            out.push("webhooks.batch must be 1..=1000".to_owned());
        }
        if !(10..=30_000).contains(&self.block_ms) {
            out.push("webhooks.block_ms must be 10..=30000".to_owned());
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            out.push("webhooks.timeout_ms must be 100..=60000".to_owned());
        }
        if self.claim_idle_ms < 2 * self.timeout_ms + self.block_ms {
            out.push(
                "webhooks.claim_idle_ms must be at least 2 * timeout_ms + block_ms (a live replica's delivery must not be taken over)"
                    .to_owned(),
            );
        }
        if !(1..=100).contains(&self.max_attempts) {
            out.push("webhooks.max_attempts must be 1..=100".to_owned());
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            out.push("webhooks.backoff_initial_ms must be >= 1 and <= backoff_max_ms".to_owned());
        }
        if self.backoff_max_ms > 86_400_000 {
            out.push("webhooks.backoff_max_ms must be at most one day".to_owned());
        }
        if self.dead_letter_max == 0 {
            out.push("webhooks.dead_letter_max must be at least 1".to_owned());
        }
        out
    }
}
