//! Everything the gateway keeps in Redis, per SP under a `{sp}` hash tag (so one SP's keys share
//! a Redis Cluster slot and one Lua script can touch them atomically):
//!
//! | key | type | what |
//! |---|---|---|
//! | `P:{sp}:certuser` | hash | `tag:serial` → user id |
//! | `P:{sp}:succ` | hash | `sign:serial` → user id: a successor certificate J-LIS named |
//! | `P:{sp}:users` | hash | `uid:sign` / `uid:auth` → the user's latest `tag:serial[:partition]` of that kind |
//! | `P:{sp}:serials` | hash | serial hex → `tag[:partition]` per CA key it was registered under, comma-separated |
//! | `P:{sp}:vf:<id>` | hash | `record` (JSON, never 4 info), `user_id`, `cert` (fingerprint) |
//! | `P:{sp}:cert:<sha256>` | string | the raw certificate, DER (the PF keeps it; SPs must not) |
//! | `P:{sp}:idem:<key>` | string | `pending`, or `done:<request sha256>:<id>` |
//! | `P:{sp}:chal:<nonce>` | string | a login challenge, with its TTL |
//! | `P:{sp}:consent:<id>` | hash | a 4-info consent (`routes::consents`) |
//! | `P:{sp}:cc:<serial>` | set | consent ids whose certificate has this serial (webhook matching) |
//! | `P:{sp}:webhook` | hash | `url`, `secret` set by `PUT /v1/webhook` |
//! | `P:{~wh}:…` | | the webhook outbox, retries and dead letters ([`crate::webhooks`]) |
//! | `P:{~meta}:cc-index` | string | format version of the `cc:<serial>` index, once backfilled ([`crate::consent_index`]) |
//! | `P:{~meta}:cc-index:lock` | string | the replica running the backfill (expires) |
//!
//! A registration is **one Lua script**: either every key above is written or none is. Every
//! call has a timeout; a Redis failure becomes [`StoreError`], which handlers turn into 503.
//!
//! `partition` is the crl-sync id of the certificate's CRL partition, recorded at registration so
//! that status checks by user id or serial answer from it ([`crate::ids::CertRef`]); values
//! written before it was recorded have none and still parse (partition unknown: the CA key's
//! stalest partition applies). Re-registering a certificate replaces its `serials` entry (and
//! collapses duplicate entries of one CA key), so an old entry gains the partition.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::ids::CertRef;

/// Redis could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Connection refused, closed, timed out, or a command failed.
    #[error("redis: {0}")]
    Redis(String),
    /// Redis did not answer in time.
    #[error("redis timed out")]
    Timeout,
}

impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "redis unavailable");
        crate::error::ApiError::StoreUnavailable
    }
}

/// The rate limiter's counters live in this Redis, under the same prefix, on the same
/// connections and with the same deadline and health bookkeeping as every other call.
impl pf_server::ratelimit::LimitStore for Store {
    type Error = StoreError;

    fn connection(&self) -> ConnectionManager {
        self.conn()
    }

    fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn call<T: Send>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>> + Send,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + Send {
        self.run(call)
    }
}

/// The registration script. KEYS: `certuser`, `succ`, `users`, `serials`, `vf:<id>`,
/// `cert:<sha256>`, `idem:<key>`. ARGV: 1 `tag:serial`, 2 `kind:serial`, 3 a new user id, 4 kind,
/// 5 serial hex, 6 tag hex, 7 record, 8 DER, 9 fingerprint, 10 idempotency value, 11 its TTL,
/// 12 user to link, 13 `1` when a certificate is registered, 14 the `users` value
/// (`tag:serial[:partition]`), 15 the `serials` entry (`tag[:partition]`).
const REGISTER: &str = r"
local uid = ''
if ARGV[13] == '1' then
  local known = redis.call('HGET', KEYS[1], ARGV[1])
  local link = ARGV[12]
  if link ~= '' then
    if known and known ~= link then return {'', 'CERT_LINKED'} end
    if redis.call('HEXISTS', KEYS[3], link .. ':sign') == 0 and redis.call('HEXISTS', KEYS[3], link .. ':auth') == 0 then
      return {'', 'NO_USER'}
    end
    uid = link
  elseif known then
    uid = known
  else
    uid = redis.call('HGET', KEYS[2], ARGV[2])
    if not uid then uid = ARGV[3] end
  end
  -- A repeat verification of a registered certificate changes nothing here: writes that would
  -- store what is already stored are skipped (no AOF growth, no rewrite work for them).
  if known ~= uid then redis.call('HSET', KEYS[1], ARGV[1], uid) end
  local ukey = uid .. ':' .. ARGV[4]
  if redis.call('HGET', KEYS[3], ukey) ~= ARGV[14] then redis.call('HSET', KEYS[3], ukey, ARGV[14]) end
  local cur = redis.call('HGET', KEYS[4], ARGV[5])
  if not cur then
    redis.call('HSET', KEYS[4], ARGV[5], ARGV[15])
  elseif cur ~= ARGV[15] then
    -- One entry per CA key (`tag` or `tag:partition`), in registration order: this key's entry
    -- is replaced in place (old ones had no partition), others are kept.
    local out, seen = {}, false
    for e in string.gmatch(cur, '[^,]+') do
      if string.match(e, '^[^:]*') == ARGV[6] then
        if not seen then
          table.insert(out, ARGV[15])
          seen = true
        end
      else
        table.insert(out, e)
      end
    end
    if not seen then table.insert(out, ARGV[15]) end
    local joined = table.concat(out, ',')
    if joined ~= cur then redis.call('HSET', KEYS[4], ARGV[5], joined) end
  end
  -- The key is the DER's SHA-256: an existing value is these bytes.
  redis.call('SET', KEYS[6], ARGV[8], 'NX')
end
redis.call('HSET', KEYS[5], 'record', ARGV[7], 'user_id', uid, 'cert', ARGV[9])
if ARGV[10] ~= '' then redis.call('SET', KEYS[7], ARGV[10], 'EX', tonumber(ARGV[11])) end
return {uid, ''}
";

const IDEM_BEGIN: &str = r"
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'pending', 'EX', tonumber(ARGV[1]))
return ''
";

/// What to write for one verification or login.
#[derive(Debug)]
pub struct Registration<'a> {
    /// The verification id.
    pub id: &'a str,
    /// The record JSON (no 4 info).
    pub record: &'a str,
    /// The certificate to register, when the verdict allows it.
    pub cert: Option<CertToRegister<'a>>,
    /// A user id to link the certificate to (login linking); must exist for this SP.
    pub link_user: Option<&'a str>,
    /// Idempotency key and the request's SHA-256 hex.
    pub idempotency: Option<(&'a str, &'a str)>,
    /// TTL of the idempotency record.
    pub idempotency_ttl: u64,
}

/// The certificate part of a registration.
#[derive(Debug)]
pub struct CertToRegister<'a> {
    /// CA key, serial and CRL partition.
    pub cert: &'a CertRef,
    /// `sign` or `auth`.
    pub kind: &'static str,
    /// DER.
    pub der: &'a [u8],
    /// SHA-256 of the DER, hex.
    pub fingerprint: &'a str,
}

/// The result of a registration.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// Written.
    Ok {
        /// The user id (empty when no certificate was registered).
        user_id: String,
        /// Whether the user id was created by this registration.
        new_user: bool,
    },
    /// The certificate already belongs to another user than the one to link.
    CertLinkedElsewhere,
    /// The user to link does not exist for this SP.
    NoSuchUser,
}

/// The state of an idempotency key.
#[derive(Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// New: locked for this request.
    Fresh,
    /// Done before with the same body: the verification id to replay.
    Replay(String),
    /// Done before with another body.
    Reused,
    /// Another request with the key is running.
    InProgress,
}

/// A stored verification.
#[derive(Debug)]
pub struct StoredVerification {
    /// The record JSON.
    pub record: String,
    /// The user id ("" when none).
    pub user_id: String,
    /// The certificate fingerprint ("" when none).
    pub cert: String,
}

static NEXT_STORE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// One multiplexed connection per store and thread: an actix worker talks to Redis from its
    /// own runtime, with no hop to another thread per command.
    static CONNS: RefCell<HashMap<u64, ConnectionManager>> = RefCell::new(HashMap::new());
}

/// The Redis store.
pub struct Store {
    id: u64,
    client: redis::Client,
    cfg: redis::aio::ConnectionManagerConfig,
    conn: ConnectionManager,
    timeout: Duration,
    prefix: String,
    up: AtomicBool,
    register: Script,
    idem_begin: Script,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store over `url`; connects lazily, so the gateway starts (and serves from the index)
    /// while Redis is down. Must be called inside a Tokio runtime.
    pub fn connect(url: &str, timeout: Duration, prefix: &str) -> Result<Store, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Redis(e.to_string()))?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), cfg.clone())
            .map_err(|e| StoreError::Redis(e.to_string()))?;
        Ok(Store {
            id: NEXT_STORE.fetch_add(1, Ordering::Relaxed),
            client,
            cfg,
            conn,
            timeout,
            prefix: prefix.to_owned(),
            up: AtomicBool::new(false),
            register: Script::new(REGISTER),
            idem_begin: Script::new(IDEM_BEGIN),
        })
    }

    /// A connection handle: this thread's multiplexed connection (made on first use inside a
    /// Tokio runtime), else the shared one.
    pub fn conn(&self) -> ConnectionManager {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.conn.clone();
        }
        CONNS.with(|c| {
            let mut map = c.borrow_mut();
            if let Some(m) = map.get(&self.id) {
                return m.clone();
            }
            match ConnectionManager::new_lazy_with_config(self.client.clone(), self.cfg.clone()) {
                Ok(m) => {
                    map.insert(self.id, m.clone());
                    m
                }
                Err(_) => self.conn.clone(),
            }
        })
    }

    /// `P:{sp}:name`.
    pub fn key(&self, sp: &str, name: &str) -> String {
        format!("{}:{{{sp}}}:{name}", self.prefix)
    }

    /// `P:{~wh}:name`: the webhook outbox keys, all in one Redis Cluster slot (`~` cannot start
    /// an SP id, so no SP shares the tag).
    pub fn webhook_key(&self, name: &str) -> String {
        format!("{}:{{~wh}}:{name}", self.prefix)
    }

    /// `P:{~meta}:name`: deployment-wide bookkeeping (one-time migrations and their locks), in a
    /// slot of its own (`~` cannot start an SP id).
    pub fn meta_key(&self, name: &str) -> String {
        format!("{}:{{~meta}}:{name}", self.prefix)
    }

    /// The key prefix (`[redis] prefix`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis client, for components that need their own connections (blocking reads).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Runs a Redis future with the timeout, tracking whether Redis is up.
    pub async fn run<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => {
                self.up.store(true, Ordering::Relaxed);
                Ok(v)
            }
            Ok(Err(e)) => {
                let transport = e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_unrecoverable_error();
                if transport {
                    self.up.store(false, Ordering::Relaxed);
                }
                Err(StoreError::Redis(e.to_string()))
            }
            Err(_) => {
                self.up.store(false, Ordering::Relaxed);
                Err(StoreError::Timeout)
            }
        }
    }

    /// PING.
    pub async fn ping(&self) -> bool {
        let mut c = self.conn();
        self.run(async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .is_ok()
    }

    /// Whether the last call succeeded.
    pub fn seems_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Looks an idempotency key up, locking it when new.
    pub async fn idempotency_begin(
        &self,
        sp: &str,
        key: &str,
        request_sha256: &str,
        lock_secs: u64,
    ) -> Result<Idempotency, StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, &format!("idem:{key}"));
        let v: String = self
            .run(async move { self.idem_begin.key(k).arg(lock_secs).invoke_async(&mut c).await })
            .await?;
        Ok(if v.is_empty() {
            Idempotency::Fresh
        } else if v == "pending" {
            Idempotency::InProgress
        } else {
            match v.strip_prefix("done:").and_then(|r| r.split_once(':')) {
                Some((h, id)) if h == request_sha256 => Idempotency::Replay(id.to_owned()),
                _ => Idempotency::Reused,
            }
        })
    }

    /// Releases an idempotency lock after a failure (best effort; it expires anyway).
    pub async fn idempotency_abort(&self, sp: &str, key: &str) {
        let mut c = self.conn();
        let k = self.key(sp, &format!("idem:{key}"));
        let _ = self.run(async move { c.del::<_, ()>(k).await }).await;
    }

    /// Writes a verification (and registers its certificate) atomically.
    pub async fn register(&self, sp: &str, r: &Registration<'_>) -> Result<Registered, StoreError> {
        let mut c = self.conn();
        let mut inv = self.register.prepare_invoke();
        let fp = r.cert.as_ref().map_or("", |c| c.fingerprint);
        inv.key(self.key(sp, "certuser"))
            .key(self.key(sp, "succ"))
            .key(self.key(sp, "users"))
            .key(self.key(sp, "serials"))
            .key(self.key(sp, &format!("vf:{}", r.id)))
            .key(self.key(sp, &format!("cert:{fp}")))
            .key(self.key(sp, &format!("idem:{}", r.idempotency.map_or("-", |i| i.0))));
        let new_uid = new_user_id().map_err(|e| StoreError::Redis(e.to_string()))?;
        match &r.cert {
            Some(cert) => {
                let serial_hex = cert.cert.serial.to_hex();
                inv.arg(cert.cert.to_key())
                    .arg(format!("{}:{serial_hex}", cert.kind))
                    .arg(&new_uid)
                    .arg(cert.kind)
                    .arg(serial_hex)
                    .arg(hex::encode(cert.cert.tag))
                    .arg(r.record)
                    .arg(cert.der)
                    .arg(cert.fingerprint)
            }
            None => inv
                .arg("")
                .arg("")
                .arg("")
                .arg("")
                .arg("")
                .arg("")
                .arg(r.record)
                .arg("")
                .arg(""),
        };
        let idem_value = r
            .idempotency
            .map(|(_, h)| format!("done:{h}:{}", r.id))
            .unwrap_or_default();
        inv.arg(idem_value)
            .arg(r.idempotency_ttl)
            .arg(r.link_user.unwrap_or(""))
            .arg(if r.cert.is_some() { "1" } else { "0" })
            .arg(r.cert.as_ref().map(|c| c.cert.to_value()).unwrap_or_default())
            .arg(
                r.cert
                    .as_ref()
                    .map(|c| c.cert.serials_entry())
                    .unwrap_or_default(),
            );
        let (uid, err): (String, String) = self.run(async move { inv.invoke_async(&mut c).await }).await?;
        Ok(match err.as_str() {
            "CERT_LINKED" => Registered::CertLinkedElsewhere,
            "NO_USER" => Registered::NoSuchUser,
            _ => Registered::Ok {
                new_user: !uid.is_empty() && uid == new_uid,
                user_id: uid,
            },
        })
    }

    /// A stored verification of this SP.
    pub async fn verification(&self, sp: &str, id: &str) -> Result<Option<StoredVerification>, StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, &format!("vf:{id}"));
        let (record, user_id, cert): (Option<String>, Option<String>, Option<String>) = self
            .run(async move {
                redis::cmd("HMGET")
                    .arg(k)
                    .arg("record")
                    .arg("user_id")
                    .arg("cert")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(record.map(|record| StoredVerification {
            record,
            user_id: user_id.unwrap_or_default(),
            cert: cert.unwrap_or_default(),
        }))
    }

    /// The raw certificate registered by this SP, by fingerprint.
    pub async fn certificate(&self, sp: &str, fingerprint: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, &format!("cert:{fingerprint}"));
        self.run(async move { c.get(k).await }).await
    }

    /// Stores a login challenge for `ttl` seconds.
    pub async fn put_challenge(&self, sp: &str, nonce: &str, ttl: u64) -> Result<(), StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, &format!("chal:{nonce}"));
        self.run(async move { c.set_ex(k, "1", ttl).await }).await
    }

    /// Consumes a challenge (GETDEL): true exactly once per issued, unexpired challenge.
    pub async fn take_challenge(&self, sp: &str, nonce: &str) -> Result<bool, StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, &format!("chal:{nonce}"));
        let v: Option<String> = self.run(async move { c.get_del(k).await }).await?;
        Ok(v.is_some())
    }

    /// HMGET of many fields of one hash, in chunks (bulk status checks).
    pub async fn hmget(
        &self,
        sp: &str,
        hash: &str,
        fields: &[String],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(fields.len());
        let k = self.key(sp, hash);
        for chunk in fields.chunks(10_000) {
            let mut c = self.conn();
            let k = k.clone();
            let part: Vec<Option<String>> = self
                .run(async move { redis::cmd("HMGET").arg(k).arg(chunk).query_async(&mut c).await })
                .await?;
            out.extend(part);
        }
        Ok(out)
    }

    /// Records that `new_serial` (a signing certificate J-LIS named as the successor) belongs to
    /// `user_id`, so its later verification keeps the user id.
    pub async fn link_successor(
        &self,
        sp: &str,
        new_serial_hex: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, "succ");
        let field = format!("sign:{new_serial_hex}");
        self.run(async move { c.hset(k, field, user_id).await }).await
    }

    /// The user id of a registered certificate.
    pub async fn user_of(&self, sp: &str, cert_ref: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn();
        let k = self.key(sp, "certuser");
        self.run(async move { c.hget(k, cert_ref).await }).await
    }

    /// Adds `n` to this month's meter of `purpose` (best effort: the audit log is the record).
    pub async fn meter(&self, sp: &str, purpose: &str, n: u64) {
        let month = time::OffsetDateTime::now_utc();
        let k = self.key(
            sp,
            &format!(
                "meter:{:04}{:02}:{purpose}",
                month.year(),
                u8::from(month.month())
            ),
        );
        let mut c = self.conn();
        let _ = self.run(async move { c.incr::<_, _, ()>(k, n).await }).await;
    }
}

/// A new random user id: `usr_` and 16 random bytes, base64url.
pub fn new_user_id() -> Result<String, openssl::error::ErrorStack> {
    let mut b = [0u8; 16];
    crate::random::fill(&mut b)?;
    Ok(format!("usr_{}", crate::body::to_b64url(&b)))
}
