//! Stage 1: delta events → deliveries in the outbox.

use std::collections::HashMap;
use std::sync::Arc;

use pf_server::registry::Purpose;
use redis::streams::StreamId;
use revocation::{DeltaEvent, RevokedCertificate};
use serde_json::json;

use super::streams::GroupReader;
use super::{Ctx, EVENT_REVOKED, Stage};
use crate::store::StoreError;
use pf_server::clock::{now_unix, rfc3339};

/// KEYS: the event's marker, the outbox. ARGV: marker TTL, event id, SP, body.
/// Appends the delivery unless the marker says it was appended before.
pub(super) const ENQUEUE: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  redis.call('XADD', KEYS[2], '*', 'event_id', ARGV[2], 'sp', ARGV[3], 'attempt', '1', 'body', ARGV[4])
  return 1
end
return 0
";

/// How long an event id is remembered against a second enqueue.
const SEEN_TTL_SECS: u64 = 35 * 86_400;
/// At most this many consents are looked at per SP and certificate.
const MAX_CONSENTS_PER_CERT: usize = 16;
/// Stands for a value that is not a string (Redis stream values always are): not UTF-8, so the
/// event parse rejects it if the field is one it reads.
const NOT_TEXT: &[u8] = &[0xFF];

/// A delta-stream entry as the (name, value) pairs [`DeltaEvent::from_fields`] reads.
fn fields(e: &StreamId) -> impl Iterator<Item = (&str, &[u8])> {
    e.map.iter().map(|(name, value)| {
        let bytes = match value {
            redis::Value::BulkString(b) => b.as_slice(),
            redis::Value::SimpleString(s) => s.as_bytes(),
            _ => NOT_TEXT,
        };
        (name.as_str(), bytes)
    })
}

/// Parses a delta-stream entry as crl-sync writes it.
fn parse(e: &StreamId) -> Result<DeltaEvent, revocation::EventError> {
    DeltaEvent::from_fields(fields(e))
}

/// One delivery to append.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub sp: String,
    pub event_id: String,
    pub body: String,
}

/// The event id of (SP, CA key, serial, consent): the same however often the delta entry is read.
pub(crate) fn event_id(sp: &str, key_id_hex: &str, serial_hex: &str, consent_id: &str) -> String {
    let mut h = openssl::sha::Sha256::new();
    for part in ["whe1", sp, key_id_hex, serial_hex, consent_id] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    let d = h.finish();
    format!("evt_{}", crate::body::to_b64url(d.get(..18).unwrap_or_default()))
}

/// The webhook body: ids, the serial, the reason, the revocation time and the CRL number.
pub(crate) fn body(
    event_id: &str,
    r: &RevokedCertificate,
    consent: &HashMap<String, String>,
    consent_id: &str,
) -> String {
    let f = |k: &str| consent.get(k).filter(|v| !v.is_empty()).cloned();
    json!({
        "id": event_id,
        "type": EVENT_REVOKED,
        "created_at": rfc3339(now_unix()),
        "data": {
            "consent_id": consent_id,
            "verification_id": f("verification_id"),
            "user_id": f("user_id"),
            "serial": r.serial.to_hex(),
            "reason": r.reason.map(jpki::Reason::rfc_name),
            "revoked_at": rfc3339(r.revoked_at),
            "crl_number": r.crl_number,
        }
    })
    .to_string()
}

fn consent_is_active(c: &HashMap<String, String>, serial_hex: &str, now: i64) -> bool {
    let withdrawn = c.get("withdrawn_at").is_some_and(|w| !w.is_empty());
    let expired = c
        .get("expires_at")
        .and_then(|e| time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok())
        .is_some_and(|e| e.unix_timestamp() <= now);
    // The consent follows the user to a new certificate (basic-info relay); an event about the
    // old serial after that is not this consent's any more.
    !c.is_empty() && !withdrawn && !expired && c.get("serial").map(String::as_str) == Some(serial_hex)
}

/// Stage 1.
pub(crate) struct Matcher {
    ctx: Arc<Ctx>,
    reader: GroupReader,
}

impl Matcher {
    pub fn new(ctx: Arc<Ctx>, reader: GroupReader) -> Matcher {
        Matcher { ctx, reader }
    }

    /// The deliveries one revocation causes: one per SP that registered the certificate and
    /// holds an active consent for it.
    pub async fn deliveries(&self, r: &RevokedCertificate) -> Result<Vec<Delivery>, StoreError> {
        let gw = &self.ctx.gw;
        let serial_hex = r.serial.to_hex();
        let key_id_hex = hex::encode(&r.issuer_key_id);
        let cert_ref = format!(
            "{}:{serial_hex}",
            hex::encode(crate::ids::tag_of(&r.issuer_key_id))
        );
        let sps: Vec<&str> = gw
            .registry
            .sps()
            .iter()
            .filter(|s| s.purposes.contains(&Purpose::BasicInfo))
            .map(|s| s.id.as_str())
            .collect();
        if sps.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for sp in &sps {
            pipe.hexists(gw.store.key(sp, "certuser"), &cert_ref)
                .smembers(gw.store.key(sp, &format!("cc:{serial_hex}")));
        }
        let mut c = self.reader.conn.clone();
        let replies: Vec<redis::Value> = self
            .reader
            .call(async move { pipe.query_async(&mut c).await })
            .await?;
        let now = now_unix();
        let mut out = Vec::new();
        for (sp, pair) in sps.iter().zip(replies.chunks(2)) {
            let [registered, consents] = pair else { continue };
            let registered: bool = redis::from_redis_value(registered.clone()).unwrap_or(false);
            let mut consents: Vec<String> = redis::from_redis_value(consents.clone()).unwrap_or_default();
            if !registered || consents.is_empty() {
                continue;
            }
            consents.sort();
            consents.truncate(MAX_CONSENTS_PER_CERT);
            for id in consents {
                let mut c = self.reader.conn.clone();
                let k = gw.store.key(sp, &format!("consent:{id}"));
                let consent: HashMap<String, String> = self
                    .reader
                    .call(async move { redis::cmd("HGETALL").arg(k).query_async(&mut c).await })
                    .await?;
                if !consent_is_active(&consent, &serial_hex, now) {
                    continue;
                }
                let event_id = event_id(sp, &key_id_hex, &serial_hex, &id);
                out.push(Delivery {
                    sp: (*sp).to_owned(),
                    body: body(&event_id, r, &consent, &id),
                    event_id,
                });
            }
        }
        Ok(out)
    }

    /// Appends a delivery once; `true` when it was new.
    async fn enqueue(&self, d: &Delivery) -> Result<bool, StoreError> {
        let mut inv = self.ctx.enqueue.prepare_invoke();
        inv.key(self.ctx.gw.store.webhook_key(&format!("seen:{}", d.event_id)))
            .key(&self.ctx.outbox)
            .arg(SEEN_TTL_SECS)
            .arg(&d.event_id)
            .arg(&d.sp)
            .arg(&d.body);
        let mut c = self.reader.conn.clone();
        let added: i64 = self
            .reader
            .call(async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(added == 1)
    }

    /// Handles entries in order, acknowledging each once its deliveries are in the outbox.
    async fn handle(&self, entries: Vec<StreamId>) -> Result<(), StoreError> {
        let m = &self.ctx.gw.metrics;
        for e in entries {
            match parse(&e) {
                Ok(DeltaEvent::Baseline(b)) => {
                    m.webhook_delta_events.with_label_values(&["baseline"]).inc();
                    tracing::info!(
                        entry = %e.id,
                        issuer_key_id = hex::encode(&b.issuer_key_id),
                        partition = b.partition,
                        entries = b.entries,
                        "baseline marker: a CRL partition indexed for the first time; nothing to deliver"
                    );
                }
                Ok(DeltaEvent::Revoked(r)) => {
                    let ds = self.deliveries(&r).await?;
                    let label = if ds.is_empty() { "unmatched" } else { "matched" };
                    m.webhook_delta_events.with_label_values(&[label]).inc();
                    for d in &ds {
                        if self.enqueue(d).await? {
                            m.webhook_deliveries
                                .with_label_values(&[d.sp.as_str(), "enqueued"])
                                .inc();
                            self.ctx.gw.audit.record(
                                "webhook_enqueued",
                                Some(&d.sp),
                                json!({"event_id": d.event_id, "serial": r.serial.to_hex(), "issuer_key_id": hex::encode(&r.issuer_key_id)}),
                            );
                        }
                    }
                }
                Ok(other) => {
                    m.webhook_delta_events.with_label_values(&["ignored"]).inc();
                    tracing::warn!(entry = %e.id, kind = other.kind(), "delta event of a kind this worker does not deliver; skipped");
                }
                Err(err) => {
                    m.webhook_delta_events.with_label_values(&["ignored"]).inc();
                    tracing::warn!(entry = %e.id, code = err.code(), error = %err, "delta entry is not a delta event; skipped");
                }
            }
            self.reader.ack(&[e.id]).await?;
        }
        Ok(())
    }
}

impl Stage for Matcher {
    async fn step(&mut self) -> Result<(), StoreError> {
        self.reader.ensure_group().await?;
        while let Some(batch) = self.reader.housekeeping().await? {
            self.handle(batch).await?;
        }
        let new = self.reader.read_new().await?;
        self.handle(new).await
    }

    fn failed(&mut self, e: &StoreError) {
        self.reader.failed(e);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let a = event_id("bank-a", "ab", "01", "cs_1");
        assert_eq!(a, event_id("bank-a", "ab", "01", "cs_1"));
        assert!(a.starts_with("evt_") && a.len() == 28);
        assert_ne!(a, event_id("bank-b", "ab", "01", "cs_1"));
        assert_ne!(a, event_id("bank-a", "ab", "02", "cs_1"));
        assert_ne!(a, event_id("bank-a", "ab0", "1", "cs_1"));
    }

    #[test]
    fn consent_activity() {
        let mut c: HashMap<String, String> = [("serial", "0a"), ("expires_at", "2999-01-01T00:00:00Z")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(consent_is_active(&c, "0a", 0));
        assert!(!consent_is_active(&c, "0b", 0));
        c.insert("expires_at".into(), "2000-01-01T00:00:00Z".into());
        assert!(!consent_is_active(&c, "0a", now_unix()));
        c.insert("expires_at".into(), "2999-01-01T00:00:00Z".into());
        c.insert("withdrawn_at".into(), "2020-01-01T00:00:00Z".into());
        assert!(!consent_is_active(&c, "0a", 0));
        assert!(!consent_is_active(&HashMap::new(), "0a", 0));
    }
}
