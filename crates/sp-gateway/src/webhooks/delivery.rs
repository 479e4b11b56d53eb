//! Stage 2: the outbox → signed POSTs, with retries, dead letters, audit and metrics.

use std::collections::HashMap;
use std::sync::Arc;

use redis::streams::StreamId;
use serde_json::{Value, json};

use super::signature::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, header_value};
use super::streams::{GroupReader, field};
use super::{Ctx, Stage, Target, backoff, now_ms};
use crate::store::StoreError;
use pf_server::clock::{now_unix, rfc3339};

/// KEYS: retry set, outbox. ARGV: now (ms), most to move.
/// Moves the deliveries that are due back into the outbox.
pub(super) const PROMOTE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local ok, d = pcall(cjson.decode, m)
  if ok and type(d) == 'table' and d.event_id and d.sp and d.attempt and d.body then
    redis.call('XADD', KEYS[2], '*', 'event_id', d.event_id, 'sp', d.sp, 'attempt', d.attempt, 'body', d.body)
  end
  redis.call('ZREM', KEYS[1], m)
end
return #due
";

/// KEYS: outbox. ARGV: group, entry id. Acknowledges and removes a delivered entry.
pub(super) const SETTLE_DONE: &str = r"
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return n
";

/// KEYS: outbox, retry set. ARGV: group, entry id, due (ms), member.
/// Schedules the next attempt, unless another consumer settled the entry already.
pub(super) const SETTLE_RETRY: &str = r"
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if n == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return n
";

/// KEYS: outbox, dead-letter stream. ARGV: group, entry id, max length, event id, SP, attempts,
/// body, last error, time. Moves the entry to the dead letters.
pub(super) const SETTLE_DEAD: &str = r"
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if n == 1 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event_id', ARGV[4], 'sp', ARGV[5],
    'attempts', ARGV[6], 'body', ARGV[7], 'last_error', ARGV[8], 'dead_at', ARGV[9])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return n
";

/// One outbox entry.
struct Entry {
    id: String,
    event_id: String,
    sp: String,
    attempt: u32,
    body: String,
}

/// How one attempt went.
enum Outcome {
    Delivered(u16),
    Failed(String),
}

/// Stage 2.
pub(crate) struct Sender {
    ctx: Arc<Ctx>,
    reader: GroupReader,
}

impl Sender {
    pub fn new(ctx: Arc<Ctx>, reader: GroupReader) -> Sender {
        Sender { ctx, reader }
    }

    async fn promote_due(&self) -> Result<(), StoreError> {
        let mut inv = self.ctx.promote.prepare_invoke();
        let limit = self.ctx.cfg.batch * 4;
        inv.key(&self.ctx.retry)
            .key(&self.ctx.outbox)
            .arg(now_ms())
            .arg(limit);
        let mut c = self.reader.conn.clone();
        let _: i64 = self
            .reader
            .call(async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// The SP's webhook: `PUT /v1/webhook`'s setting, else the configuration's.
    async fn target(&self, sp: &str) -> Result<Option<Target>, StoreError> {
        let mut c = self.reader.conn.clone();
        let k = self.ctx.gw.store.key(sp, "webhook");
        let m: HashMap<String, String> = self
            .reader
            .call(async move { redis::cmd("HGETALL").arg(k).query_async(&mut c).await })
            .await?;
        match (m.get("url"), m.get("secret")) {
            (Some(url), Some(secret)) if !url.is_empty() && !secret.is_empty() => Ok(Some(Target {
                url: url.clone(),
                secret: secret.clone().into_bytes(),
            })),
            _ => Ok(self.ctx.configured.get(sp).cloned()),
        }
    }

    async fn post(&self, target: &Target, e: &Entry) -> Outcome {
        let header = match header_value(&target.secret, now_unix(), e.body.as_bytes()) {
            Ok(h) => h,
            Err(err) => return Outcome::Failed(format!("signing: {err}")),
        };
        let sent = self
            .ctx
            .http
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, header)
            .header(EVENT_ID_HEADER, &e.event_id)
            .header(ATTEMPT_HEADER, e.attempt.to_string())
            .body(e.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => Outcome::Delivered(resp.status().as_u16()),
            Ok(resp) => Outcome::Failed(format!("http_{}", resp.status().as_u16())),
            // Never the error text: it can carry the SP's URL.
            Err(err) if err.is_timeout() => Outcome::Failed("timeout".into()),
            Err(err) if err.is_connect() => Outcome::Failed("connect".into()),
            Err(err) if err.is_builder() => Outcome::Failed("bad_url".into()),
            Err(_) => Outcome::Failed("transport".into()),
        }
    }

    async fn settle(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: Vec<String>,
    ) -> Result<i64, StoreError> {
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        for a in &args {
            inv.arg(a);
        }
        let mut c = self.reader.conn.clone();
        self.reader
            .call(async move { inv.invoke_async(&mut c).await })
            .await
    }

    /// One attempt and its settlement.
    async fn deliver(&self, e: Entry) -> Result<(), StoreError> {
        let (cfg, gw, group) = (&self.ctx.cfg, &self.ctx.gw, &self.reader.group);
        let data = serde_json::from_str::<Value>(&e.body)
            .ok()
            .and_then(|mut v| v.get_mut("data").map(Value::take))
            .unwrap_or(Value::Null);
        let audit_fields = |extra: Value| {
            let mut v = json!({
                "event_id": e.event_id,
                "serial": data.get("serial"),
                "consent_id": data.get("consent_id"),
                "attempt": e.attempt,
            });
            if let (Some(o), Value::Object(x)) = (v.as_object_mut(), extra) {
                o.extend(x);
            }
            v
        };
        let outcome = match self.target(&e.sp).await? {
            Some(t) => self.post(&t, &e).await,
            None => Outcome::Failed("no_webhook".into()),
        };
        let outbox = self.ctx.outbox.as_str();
        match outcome {
            Outcome::Delivered(status) => {
                self.settle(
                    &self.ctx.settle_done,
                    &[outbox],
                    vec![group.clone(), e.id.clone()],
                )
                .await?;
                gw.metrics
                    .webhook_deliveries
                    .with_label_values(&[e.sp.as_str(), "delivered"])
                    .inc();
                gw.audit.record(
                    "webhook_delivered",
                    Some(&e.sp),
                    audit_fields(json!({"status": status})),
                );
            }
            Outcome::Failed(why) if e.attempt >= cfg.max_attempts => {
                let n = self
                    .settle(
                        &self.ctx.settle_dead,
                        &[outbox, self.ctx.dead.as_str()],
                        vec![
                            group.clone(),
                            e.id.clone(),
                            cfg.dead_letter_max.to_string(),
                            e.event_id.clone(),
                            e.sp.clone(),
                            e.attempt.to_string(),
                            e.body.clone(),
                            why.clone(),
                            rfc3339(now_unix()),
                        ],
                    )
                    .await?;
                if n == 1 {
                    gw.metrics
                        .webhook_deliveries
                        .with_label_values(&[e.sp.as_str(), "dead_letter"])
                        .inc();
                    tracing::warn!(sp = %e.sp, event_id = %e.event_id, attempts = e.attempt, error = %why, "webhook moved to the dead letters");
                    gw.audit.record(
                        "webhook_failed",
                        Some(&e.sp),
                        audit_fields(json!({"error": why, "next": "dead_letter"})),
                    );
                }
            }
            Outcome::Failed(why) => {
                let delay = backoff(cfg, e.attempt);
                let due = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                let member = json!({
                    "event_id": e.event_id,
                    "sp": e.sp,
                    "attempt": (e.attempt + 1).to_string(),
                    "body": e.body,
                })
                .to_string();
                let n = self
                    .settle(
                        &self.ctx.settle_retry,
                        &[outbox, self.ctx.retry.as_str()],
                        vec![group.clone(), e.id.clone(), due.to_string(), member],
                    )
                    .await?;
                if n == 1 {
                    gw.metrics
                        .webhook_deliveries
                        .with_label_values(&[e.sp.as_str(), "retry"])
                        .inc();
                    gw.audit.record(
                        "webhook_failed",
                        Some(&e.sp),
                        audit_fields(
                            json!({"error": why, "next": "retry", "retry_in_ms": delay.as_millis() as u64}),
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Delivers a batch concurrently; a malformed entry is dropped with a warning.
    async fn handle(&self, entries: Vec<StreamId>) -> Result<(), StoreError> {
        let mut work = Vec::with_capacity(entries.len());
        let mut junk = Vec::new();
        for e in entries {
            let parsed = (|| {
                Some(Entry {
                    event_id: field(&e, "event_id")?,
                    sp: field(&e, "sp")?,
                    attempt: field(&e, "attempt")?.parse().ok().filter(|a| *a >= 1)?,
                    body: field(&e, "body")?,
                    id: e.id.clone(),
                })
            })();
            match parsed {
                Some(entry) => work.push(self.deliver(entry)),
                None => junk.push(e.id),
            }
        }
        if !junk.is_empty() {
            tracing::warn!(entries = junk.len(), "malformed webhook outbox entries dropped");
            self.reader.ack(&junk).await?;
        }
        let results = futures_util::future::join_all(work).await;
        results.into_iter().collect()
    }
}

impl Stage for Sender {
    async fn step(&mut self) -> Result<(), StoreError> {
        self.reader.ensure_group().await?;
        self.promote_due().await?;
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
