//! The by-serial consent index (`P:{sp}:cc:<serial>`), rebuilt from the stored consent records.
//!
//! The webhook stage ([`crate::webhooks`]) finds the consents a revocation concerns through
//! `cc:<serial>`, which `POST /v1/consents` and the basic-info relay write beside each consent
//! record. Consents registered before the index existed have a record (`P:{sp}:consent:<id>`, a
//! hash with `serial`, `withdrawn_at`, `expires_at`, ...) and no index entry, so their
//! revocations were never delivered. The backfill reads every consent record with `SCAN MATCH
//! P:{*}:consent:* TYPE hash` in bounded batches (never `KEYS`) and, per record, in one script:
//! adds an active consent's id to the set of its current serial, or removes a withdrawn one from
//! it. A record whose serial changed since it was read (the relay moved the consent on, and
//! indexed it itself) is left alone; expired consents are skipped. Running it again changes
//! nothing.
//!
//! **Once per deployment.** `serve` runs [`spawn_once`] in the background. It does nothing when
//! `P:{~meta}:cc-index` holds [`FORMAT_VERSION`] or more. Otherwise the replica that takes the
//! lock `P:{~meta}:cc-index:lock` (`SET NX PX`, refreshed every batch, so it expires if that
//! replica dies) runs the backfill and then writes the version; replicas starting at the same
//! time wait for the version or take the lock over when it expires. A later change of the index
//! format raises [`FORMAT_VERSION`], and the backfill runs once more. `sp-gateway consents
//! reindex --config FILE` runs it on demand (and writes the version too).
//!
//! Only ids and counts are logged: a consent record holds no 4 info, and nothing here reads more
//! than its serial and dates.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Serialize;

use crate::state::Gateway;
use crate::store::{Store, StoreError};

/// The index format the backfill produces; the marker key holds it once the backfill is done.
pub const FORMAT_VERSION: u32 = 1;
/// Consent records read per SCAN call.
pub const DEFAULT_BATCH: usize = 200;

const MARKER: &str = "cc-index";
const LOCK: &str = "cc-index:lock";
/// The lock expires this long after its last refresh (one per batch).
const LOCK_TTL_MS: u64 = 30_000;
/// How often a replica waiting for another one's backfill looks again.
const POLL: Duration = Duration::from_millis(500);
/// A progress line every this many batches.
const LOG_EVERY: u64 = 50;

/// KEYS: consent record, `cc:<serial>`. ARGV: consent id, the serial read.
const INDEX: &str = r"
local v = redis.call('HMGET', KEYS[1], 'serial', 'withdrawn_at')
if v[1] ~= ARGV[2] then return 'changed' end
if v[2] and v[2] ~= '' then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 'withdrawn'
end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then return 'indexed' end
return 'present'
";

/// KEYS: lock. ARGV: owner, TTL (ms). Extends the lock if this owner still holds it.
const REFRESH: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// KEYS: lock. ARGV: owner. Releases the lock if this owner holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// KEYS: lock, marker. ARGV: owner, version. Writes the version and releases the lock.
const FINISH: &str = r"
redis.call('SET', KEYS[2], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// What a backfill did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BackfillReport {
    /// Consent records read.
    pub records: u64,
    /// Added to their serial's set.
    pub indexed: u64,
    /// Already in their serial's set.
    pub already_indexed: u64,
    /// Withdrawn: not indexed (removed from the set if they were in it).
    pub withdrawn: u64,
    /// Expired: skipped.
    pub expired: u64,
    /// Changed while the backfill read them (indexed by their writer), or unusable (no valid
    /// serial or id).
    pub skipped: u64,
}

/// How [`ensure_once`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Once {
    /// This call ran the backfill.
    Ran(BackfillReport),
    /// The marker said it was done (by this or another replica, or the CLI).
    AlreadyDone,
}

/// The lock this process holds while it backfills.
struct Lease<'a> {
    key: String,
    owner: &'a str,
}

/// The (SP, consent id) a consent record key names, if it is one: `P:{sp}:consent:<id>`.
fn parse_key<'k>(prefix: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix(":{")?;
    let (sp, id) = rest.split_once("}:consent:")?;
    let sp_ok = !sp.is_empty()
        && sp.len() <= 64
        && sp
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (sp_ok && crate::routes::consents::valid_id(id)).then_some((sp, id))
}

/// A glob pattern matching `text` literally.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn expired(expires_at: Option<&str>, now: i64) -> bool {
    expires_at
        .and_then(|e| time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok())
        .is_some_and(|e| e.unix_timestamp() <= now)
}

/// Rebuilds the `cc:<serial>` sets from every consent record, `batch` records per SCAN call.
pub async fn backfill(store: &Store, batch: usize) -> Result<BackfillReport, StoreError> {
    backfill_with(store, batch, None).await
}

async fn backfill_with(
    store: &Store,
    batch: usize,
    lease: Option<&Lease<'_>>,
) -> Result<BackfillReport, StoreError> {
    let batch = batch.clamp(1, 10_000);
    let pattern = format!("{}:{{*}}:consent:*", glob_escape(store.prefix()));
    let mut report = BackfillReport::default();
    let mut cursor = "0".to_owned();
    let mut batches = 0u64;
    loop {
        let mut c = store.conn();
        let (cur, pat) = (cursor.clone(), pattern.clone());
        let (next, keys): (String, Vec<String>) = store
            .run(async move {
                redis::cmd("SCAN")
                    .arg(cur)
                    .arg("MATCH")
                    .arg(pat)
                    .arg("COUNT")
                    .arg(batch)
                    .arg("TYPE")
                    .arg("hash")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        index_batch(store, &keys, &mut report).await?;
        batches += 1;
        if let Some(l) = lease {
            let mut c = store.conn();
            let (k, owner) = (l.key.clone(), l.owner.to_owned());
            let _: i64 = store
                .run(async move {
                    redis::Script::new(REFRESH)
                        .key(k)
                        .arg(owner)
                        .arg(LOCK_TTL_MS)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
        }
        if batches.is_multiple_of(LOG_EVERY) {
            tracing::info!(
                records = report.records,
                indexed = report.indexed,
                "consent index backfill in progress"
            );
        }
        if next == "0" {
            return Ok(report);
        }
        cursor = next;
    }
}

/// Indexes the consent records among `keys`.
async fn index_batch(store: &Store, keys: &[String], report: &mut BackfillReport) -> Result<(), StoreError> {
    let records: Vec<(&str, &str, &str)> = keys
        .iter()
        .filter_map(|k| parse_key(store.prefix(), k).map(|(sp, id)| (k.as_str(), sp, id)))
        .collect();
    report.records += keys.len() as u64;
    report.skipped += (keys.len() - records.len()) as u64;
    if records.is_empty() {
        return Ok(());
    }
    let mut read = redis::pipe();
    for (key, _, _) in &records {
        read.cmd("HMGET")
            .arg(*key)
            .arg("serial")
            .arg("withdrawn_at")
            .arg("expires_at");
    }
    let mut c = store.conn();
    let fields: Vec<(Option<String>, Option<String>, Option<String>)> =
        store.run(async move { read.query_async(&mut c).await }).await?;
    let now = pf_server::clock::now_unix();
    let mut write = redis::pipe();
    let mut writes = 0usize;
    for ((key, sp, id), (serial, withdrawn_at, expires_at)) in records.iter().zip(fields) {
        // Only a serial as the index spells it: anything else could never match an event.
        let serial = serial.filter(|s| jpki::Serial::from_hex(s).is_ok_and(|p| p.to_hex() == *s));
        let Some(serial) = serial else {
            report.skipped += 1;
            continue;
        };
        let withdrawn = withdrawn_at.is_some_and(|w| !w.is_empty());
        if !withdrawn && expired(expires_at.as_deref(), now) {
            report.expired += 1;
            continue;
        }
        write
            .cmd("EVAL")
            .arg(INDEX)
            .arg(2)
            .arg(*key)
            .arg(store.key(sp, &format!("cc:{serial}")))
            .arg(*id)
            .arg(&serial);
        writes += 1;
    }
    if writes == 0 {
        return Ok(());
    }
    let mut c = store.conn();
    let outcomes: Vec<String> = store.run(async move { write.query_async(&mut c).await }).await?;
    for o in outcomes {
        match o.as_str() {
            "indexed" => report.indexed += 1,
            "present" => report.already_indexed += 1,
            "withdrawn" => report.withdrawn += 1,
            _ => report.skipped += 1,
        }
    }
    Ok(())
}

/// The index format version the marker records (0 when none).
pub async fn marked_version(store: &Store) -> Result<u32, StoreError> {
    let mut c = store.conn();
    let k = store.meta_key(MARKER);
    let v: Option<String> = store
        .run(async move { redis::cmd("GET").arg(k).query_async(&mut c).await })
        .await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Runs the backfill on demand (the CLI), whatever the marker says, then records the version.
pub async fn reindex(store: &Store, batch: usize) -> Result<BackfillReport, StoreError> {
    let report = backfill(store, batch).await?;
    let mut c = store.conn();
    let k = store.meta_key(MARKER);
    store
        .run(async move {
            redis::cmd("SET")
                .arg(k)
                .arg(FORMAT_VERSION)
                .query_async::<()>(&mut c)
                .await
        })
        .await?;
    Ok(report)
}

/// Runs the backfill unless the marker says it is done; when another replica holds the lock,
/// waits until it finishes (or its lock expires and this one takes over). `owner` names this
/// replica in the lock.
pub async fn ensure_once(store: &Store, owner: &str, batch: usize) -> Result<Once, StoreError> {
    let lock = store.meta_key(LOCK);
    loop {
        if marked_version(store).await? >= FORMAT_VERSION {
            return Ok(Once::AlreadyDone);
        }
        let mut c = store.conn();
        let (k, o) = (lock.clone(), owner.to_owned());
        let took: Option<String> = store
            .run(async move {
                redis::cmd("SET")
                    .arg(k)
                    .arg(o)
                    .arg("NX")
                    .arg("PX")
                    .arg(LOCK_TTL_MS)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if took.is_none() {
            tokio::time::sleep(POLL).await;
            continue;
        }
        // Another replica may have finished between the look at the marker and the lock.
        if marked_version(store).await? >= FORMAT_VERSION {
            release(store, &lock, owner).await?;
            return Ok(Once::AlreadyDone);
        }
        tracing::info!(
            version = FORMAT_VERSION,
            "consent index backfill started (consents registered before the by-serial index)"
        );
        let lease = Lease {
            key: lock.clone(),
            owner,
        };
        let report = match backfill_with(store, batch, Some(&lease)).await {
            Ok(r) => r,
            Err(e) => {
                // Let the next attempt (this replica's or another's) start at once.
                let _ = release(store, &lock, owner).await;
                return Err(e);
            }
        };
        let mut c = store.conn();
        let (k, m, o) = (lock.clone(), store.meta_key(MARKER), owner.to_owned());
        let _: i64 = store
            .run(async move {
                redis::Script::new(FINISH)
                    .key(k)
                    .key(m)
                    .arg(o)
                    .arg(FORMAT_VERSION)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        return Ok(Once::Ran(report));
    }
}

/// Releases the lock if `owner` holds it.
async fn release(store: &Store, lock: &str, owner: &str) -> Result<(), StoreError> {
    let mut c = store.conn();
    let (k, o) = (lock.to_owned(), owner.to_owned());
    let _: i64 = store
        .run(async move {
            redis::Script::new(RELEASE)
                .key(k)
                .arg(o)
                .invoke_async(&mut c)
                .await
        })
        .await?;
    Ok(())
}

/// Starts [`ensure_once`] in the background (at `serve`): retried with a bounded backoff while
/// Redis is unavailable; ends once done, or when the gateway is dropped.
pub fn spawn_once(gw: &Arc<Gateway>, owner: String) {
    let weak: Weak<Gateway> = Arc::downgrade(gw);
    tokio::spawn(async move {
        let mut pause = Duration::from_secs(1);
        loop {
            let Some(gw) = weak.upgrade() else { return };
            match ensure_once(&gw.store, &owner, DEFAULT_BATCH).await {
                Ok(Once::Ran(r)) => {
                    tracing::info!(
                        records = r.records,
                        indexed = r.indexed,
                        already_indexed = r.already_indexed,
                        withdrawn = r.withdrawn,
                        expired = r.expired,
                        skipped = r.skipped,
                        "consent index backfill done"
                    );
                    gw.audit.record(
                        "consent_index_backfilled",
                        None,
                        serde_json::json!({"version": FORMAT_VERSION, "report": r}),
                    );
                    return;
                }
                Ok(Once::AlreadyDone) => return,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "consent index backfill failed; retrying");
                }
            }
            drop(gw);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(60));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_keys_parse_and_others_do_not() {
        assert_eq!(
            parse_key("jpki-pf:gw", "jpki-pf:gw:{bank-a}:consent:cs_abc-1_Z"),
            Some(("bank-a", "cs_abc-1_Z"))
        );
        assert_eq!(parse_key("jpki-pf:gw", "jpki-pf:gw:{bank-a}:consents"), None);
        assert_eq!(parse_key("jpki-pf:gw", "jpki-pf:gw:{~wh}:consent:cs_1"), None);
        assert_eq!(parse_key("jpki-pf:gw", "other:{bank-a}:consent:cs_1"), None);
        assert_eq!(parse_key("jpki-pf:gw", "jpki-pf:gw:{bank-a}:consent:x_1"), None);
        assert_eq!(parse_key("jpki-pf:gw", "jpki-pf:gw:{a}b}:consent:cs_1"), None);
    }

    #[test]
    fn globs_are_escaped() {
        assert_eq!(glob_escape("P*[x]?\\"), "P\\*\\[x\\]\\?\\\\");
        assert_eq!(glob_escape("jpki-pf:gw"), "jpki-pf:gw");
    }

    #[test]
    fn expiry() {
        assert!(expired(Some("2000-01-01T00:00:00Z"), 1_800_000_000));
        assert!(!expired(Some("2999-01-01T00:00:00Z"), 1_800_000_000));
        assert!(!expired(None, 0));
        assert!(!expired(Some("garbage"), 0));
    }
}
