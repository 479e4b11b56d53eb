//! The dead letters (`P:{~wh}:dead`): deliveries that used up their attempts, for operators to
//! list and, once the SP's endpoint works again, to replay (`sp-gateway webhooks dead-letters`).
//!
//! A replay moves one dead letter back into the outbox in **one script**: the outbox entry is
//! appended (same event id and body, so the SP can de-duplicate; attempt counting starts again at
//! 1; `replay_of` names the dead letter) and the dead letter is deleted, together or not at all. A
//! crash never duplicates or loses one, two operators replaying at once requeue it once, and
//! replaying it again finds nothing. Every replay is audited (`admin_action`,
//! `what: webhook_dead_letter_replay`, with who asked, the event id, the serial and the ids).
//!
//! A listing shows ids, the SP, the attempts, the last error and the event's serial, consent id,
//! reason and time, chosen field by field from the stored body: never 4 info (the body holds none).

use serde::Serialize;
use serde_json::{Value, json};

use super::streams::field;
use crate::audit::AuditLog;
use crate::store::{Store, StoreError};

/// KEYS: dead-letter stream, outbox. ARGV: dead-letter entry id, SP (`''` for any).
/// Requeues one dead letter and deletes it, atomically.
const REPLAY: &str = r"
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return {'not_found', '', '', '', ''} end
local f = e[1][2]
local m = {}
for i = 1, #f - 1, 2 do m[f[i]] = f[i + 1] end
if ARGV[2] ~= '' and m.sp ~= ARGV[2] then return {'other_sp', '', '', m.sp or '', ''} end
if not (m.event_id and m.sp and m.body) then return {'malformed', '', '', '', ''} end
local id = redis.call('XADD', KEYS[2], '*', 'event_id', m.event_id, 'sp', m.sp, 'attempt', '1',
  'body', m.body, 'replay_of', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return {'requeued', id, m.event_id, m.sp, m.body}
";

/// Dead letters read per XRANGE call.
const PAGE: usize = 500;

/// One dead letter as an operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The dead-letter stream entry id (what `replay --id` takes).
    pub id: String,
    /// The event id the SP de-duplicates by.
    pub event_id: String,
    /// The SP.
    pub sp: String,
    /// Attempts made.
    pub attempts: Option<u32>,
    /// The last attempt's error (`http_500`, `timeout`, `connect`, `no_webhook`, ...).
    pub last_error: String,
    /// When it was moved here (RFC 3339).
    pub dead_at: String,
    /// The event type (`certificate.revoked`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// The revoked certificate's serial.
    pub serial: Option<String>,
    /// The consent the event concerns.
    pub consent_id: Option<String>,
    /// The revocation reason.
    pub reason: Option<String>,
    /// The revocation time.
    pub revoked_at: Option<String>,
}

impl DeadLetter {
    fn of(e: &redis::streams::StreamId) -> DeadLetter {
        let body: Value = field(e, "body")
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or(Value::Null);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let data = body.get("data");
        DeadLetter {
            id: e.id.clone(),
            event_id: field(e, "event_id").unwrap_or_default(),
            sp: field(e, "sp").unwrap_or_default(),
            attempts: field(e, "attempts").and_then(|a| a.parse().ok()),
            last_error: field(e, "last_error").unwrap_or_default(),
            dead_at: field(e, "dead_at").unwrap_or_default(),
            event_type: text(body.get("type")),
            serial: text(data.and_then(|d| d.get("serial"))),
            consent_id: text(data.and_then(|d| d.get("consent_id"))),
            reason: text(data.and_then(|d| d.get("reason"))),
            revoked_at: text(data.and_then(|d| d.get("revoked_at"))),
        }
    }
}

/// A dead letter put back in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requeued {
    /// The dead-letter entry id it had (now deleted).
    pub dead_letter_id: String,
    /// The new outbox entry id.
    pub outbox_id: String,
    /// The event id, unchanged.
    pub event_id: String,
    /// The SP.
    pub sp: String,
    /// The revoked certificate's serial.
    pub serial: Option<String>,
}

/// What a replay did with one dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Replay {
    /// Back in the outbox, and gone from the dead letters.
    Requeued(Requeued),
    /// No such dead letter (never was, or replayed already).
    NotFound {
        /// The entry id asked for.
        dead_letter_id: String,
    },
    /// It belongs to another SP than the one the replay is limited to; left alone.
    OtherSp {
        /// The entry id asked for.
        dead_letter_id: String,
        /// Its SP.
        sp: String,
    },
    /// It lacks the event id, SP or body; left alone for inspection.
    Malformed {
        /// The entry id.
        dead_letter_id: String,
    },
}

/// Whether `id` is a stream entry id (`<ms>-<seq>`).
pub fn valid_entry_id(id: &str) -> bool {
    let Some((ms, seq)) = id.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    digits(ms) && digits(seq)
}

/// One page of the dead letters after `after` (exclusive; `None` from the start).
async fn page(store: &Store, after: Option<&str>) -> Result<Vec<redis::streams::StreamId>, StoreError> {
    let mut c = store.conn();
    let key = store.webhook_key("dead");
    let start = after.map_or_else(|| "-".to_owned(), |a| format!("({a}"));
    let reply: redis::streams::StreamRangeReply = store
        .run(async move {
            redis::cmd("XRANGE")
                .arg(key)
                .arg(start)
                .arg("+")
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut c)
                .await
        })
        .await?;
    Ok(reply.ids)
}

/// Calls `each` for every dead letter (of `sp` when given), oldest first; returns how many.
pub async fn list(
    store: &Store,
    sp: Option<&str>,
    mut each: impl FnMut(&DeadLetter),
) -> Result<u64, StoreError> {
    let mut n = 0u64;
    let mut after: Option<String> = None;
    loop {
        let entries = page(store, after.as_deref()).await?;
        let Some(last) = entries.last() else {
            return Ok(n);
        };
        after = Some(last.id.clone());
        for e in &entries {
            let d = DeadLetter::of(e);
            if sp.is_none_or(|s| s == d.sp) {
                each(&d);
                n += 1;
            }
        }
    }
}

/// Requeues one dead letter (of `sp` when given).
async fn replay_one(store: &Store, id: &str, sp: Option<&str>) -> Result<(Replay, String), StoreError> {
    let mut c = store.conn();
    let (dead, outbox) = (store.webhook_key("dead"), store.webhook_key("outbox"));
    let (id_arg, sp_arg) = (id.to_owned(), sp.unwrap_or("").to_owned());
    let (status, outbox_id, event_id, owner, body): (String, String, String, String, String) = store
        .run(async move {
            redis::Script::new(REPLAY)
                .key(dead)
                .key(outbox)
                .arg(id_arg)
                .arg(sp_arg)
                .invoke_async(&mut c)
                .await
        })
        .await?;
    let dead_letter_id = id.to_owned();
    let outcome = match status.as_str() {
        "requeued" => {
            let serial = serde_json::from_str::<Value>(&body).ok().and_then(|b| {
                b.pointer("/data/serial")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            Replay::Requeued(Requeued {
                dead_letter_id,
                outbox_id,
                event_id,
                sp: owner,
                serial,
            })
        }
        "other_sp" => Replay::OtherSp {
            dead_letter_id,
            sp: owner,
        },
        "malformed" => Replay::Malformed { dead_letter_id },
        _ => Replay::NotFound { dead_letter_id },
    };
    Ok((outcome, body))
}

/// Requeues the dead letters `ids` (every dead letter when empty), only those of `sp` when
/// given, calling `each` with what happened to each. Every requeue is audited in `audit` as an
/// `admin_action` by `who`. Ids must be stream entry ids ([`valid_entry_id`]).
pub async fn replay(
    store: &Store,
    sp: Option<&str>,
    ids: &[String],
    audit: &AuditLog,
    who: &str,
    mut each: impl FnMut(&Replay),
) -> Result<u64, StoreError> {
    let mut requeued = 0u64;
    let mut handle = |outcome: Replay, body: &str| {
        if let Replay::Requeued(r) = &outcome {
            requeued += 1;
            let consent = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|b| b.pointer("/data/consent_id").cloned());
            audit.record(
                "admin_action",
                Some(&r.sp),
                json!({
                    "who": who,
                    "what": "webhook_dead_letter_replay",
                    "event_id": r.event_id,
                    "serial": r.serial,
                    "consent_id": consent,
                    "dead_letter_id": r.dead_letter_id,
                    "outbox_id": r.outbox_id,
                }),
            );
            tracing::info!(sp = %r.sp, event_id = %r.event_id, dead_letter_id = %r.dead_letter_id, who, "dead letter requeued");
        }
        each(&outcome);
    };
    if !ids.is_empty() {
        for id in ids {
            let (outcome, body) = replay_one(store, id, sp).await?;
            handle(outcome, &body);
        }
        return Ok(requeued);
    }
    let mut after: Option<String> = None;
    loop {
        let entries = page(store, after.as_deref()).await?;
        let Some(last) = entries.last() else {
            return Ok(requeued);
        };
        after = Some(last.id.clone());
        for e in &entries {
            if sp.is_some_and(|s| field(e, "sp").as_deref() != Some(s)) {
                continue;
            }
            let (outcome, body) = replay_one(store, &e.id, sp).await?;
            handle(outcome, &body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids() {
        assert!(valid_entry_id("1795503912000-0"));
        assert!(valid_entry_id("0-1"));
        assert!(!valid_entry_id("1795503912000"));
        assert!(!valid_entry_id("-"));
        assert!(!valid_entry_id("+"));
        assert!(!valid_entry_id("1-2-3"));
        assert!(!valid_entry_id("(1-2"));
        assert!(!valid_entry_id("1-"));
    }
}
