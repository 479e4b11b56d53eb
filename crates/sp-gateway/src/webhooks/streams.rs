//! Consumer-group plumbing shared by the two stages: a dedicated connection (blocking reads must
//! not hold up the handlers' connections), group creation, reads of new and own pending entries,
//! taking over entries a dead replica left pending (XAUTOCLAIM), and pruning dead consumers.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimOptions, StreamId, StreamReadOptions, StreamReadReply};

use crate::store::StoreError;

/// One stage's connection and its consumer-group position.
pub(super) struct GroupReader {
    pub conn: ConnectionManager,
    /// Per-call limit: `block_ms` plus the Redis timeout.
    timeout: Duration,
    pub key: String,
    pub group: String,
    pub consumer: String,
    batch: usize,
    block_ms: usize,
    claim_idle_ms: usize,
    group_ready: bool,
    /// Re-read this consumer's own pending entries before new ones (at start and after errors).
    pub recover: bool,
    claim_cursor: String,
    /// Own-pending batches re-read in the current recovery.
    recovered: usize,
    last_claim: Option<Instant>,
    last_prune: Option<Instant>,
    /// What the stage's entries are, for the takeover log line.
    what: &'static str,
}

/// At most this many own-pending batches are re-read in one recovery.
const MAX_RECOVERY_BATCHES: usize = 100;
/// How often dead consumers are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl GroupReader {
    /// A reader of `key` for `group`/`consumer` over its own lazy connection.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: &redis::Client,
        redis_timeout: Duration,
        key: String,
        group: String,
        consumer: String,
        batch: usize,
        block_ms: u64,
        claim_idle_ms: u64,
        what: &'static str,
    ) -> Result<GroupReader, StoreError> {
        let timeout = redis_timeout + Duration::from_millis(block_ms);
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(redis_timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), cfg)
            .map_err(|e| StoreError::Redis(e.to_string()))?;
        Ok(GroupReader {
            conn,
            timeout,
            key,
            group,
            consumer,
            batch,
            block_ms: usize::try_from(block_ms).unwrap_or(1000),
            claim_idle_ms: usize::try_from(claim_idle_ms).unwrap_or(60_000),
            group_ready: false,
            recover: true,
            claim_cursor: "0-0".to_owned(),
            recovered: 0,
            last_claim: None,
            last_prune: None,
            what,
        })
    }

    /// Runs one Redis call with the timeout.
    pub async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Redis(e.to_string())),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Notes an error: re-read own pending entries next time, and recreate the group if Redis
    /// lost it.
    pub fn failed(&mut self, e: &StoreError) {
        self.recover = true;
        self.recovered = 0;
        if e.to_string().contains("NOGROUP") {
            self.group_ready = false;
        }
    }

    /// Creates the group (from the start of the stream, so events appended before the first
    /// replica started are not skipped) unless it exists.
    pub async fn ensure_group(&mut self) -> Result<(), StoreError> {
        if self.group_ready {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let (k, g) = (self.key.clone(), self.group.clone());
        match self
            .call(async move { c.xgroup_create_mkstream::<_, _, _, ()>(k, g, "0").await })
            .await
        {
            Ok(()) => {}
            Err(e) if e.to_string().contains("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        self.group_ready = true;
        Ok(())
    }

    async fn read(&self, id: &str, block: bool) -> Result<Vec<StreamId>, StoreError> {
        let mut opts = StreamReadOptions::default()
            .group(&self.group, &self.consumer)
            .count(self.batch);
        if block {
            opts = opts.block(self.block_ms);
        }
        let mut c = self.conn.clone();
        let (k, id) = (self.key.clone(), id.to_owned());
        let reply: Option<StreamReadReply> = self
            .call(async move { c.xread_options(&[k], &[id], &opts).await })
            .await?;
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
    }

    /// The next batch a stage must handle before reading new entries, if any: while recovering,
    /// its own pending entries (at most [`MAX_RECOVERY_BATCHES`] batches); then, every half
    /// `claim_idle_ms`, one batch taken over from stopped replicas. Prunes dead consumers hourly.
    /// A stage calls it until it answers `None`, handling each batch (which acknowledges it).
    pub async fn housekeeping(&mut self) -> Result<Option<Vec<StreamId>>, StoreError> {
        if self.recover {
            if self.recovered < MAX_RECOVERY_BATCHES {
                let own = self.read_own_pending().await?;
                if !own.is_empty() {
                    self.recovered += 1;
                    return Ok(Some(own));
                }
            }
            self.recover = false;
            self.recovered = 0;
        }
        let claim_every = Duration::from_millis(self.claim_idle_ms as u64 / 2);
        if self.last_claim.is_none_or(|t| t.elapsed() >= claim_every) {
            let claimed = self.claim_stale().await?;
            self.last_claim = Some(Instant::now());
            if !claimed.is_empty() {
                tracing::info!(
                    entries = claimed.len(),
                    "{} taken over from a stopped replica",
                    self.what
                );
                return Ok(Some(claimed));
            }
        }
        if self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            self.last_prune = Some(Instant::now());
            let min_idle = Duration::from_millis(self.claim_idle_ms as u64 * 10).max(PRUNE_EVERY);
            self.prune_consumers(min_idle).await;
        }
        Ok(None)
    }

    /// New entries, waiting up to `block_ms` for some.
    pub async fn read_new(&self) -> Result<Vec<StreamId>, StoreError> {
        self.read(">", true).await
    }

    /// This consumer's own pending entries (delivered to it before, never acknowledged), one
    /// batch from the start; empty when there are none.
    pub async fn read_own_pending(&self) -> Result<Vec<StreamId>, StoreError> {
        self.read("0", false).await
    }

    /// Takes over one batch of entries left pending by other consumers for `claim_idle_ms`.
    pub async fn claim_stale(&mut self) -> Result<Vec<StreamId>, StoreError> {
        let mut c = self.conn.clone();
        let (k, g, me) = (self.key.clone(), self.group.clone(), self.consumer.clone());
        let (idle, start) = (self.claim_idle_ms, self.claim_cursor.clone());
        let opts = StreamAutoClaimOptions::default().count(self.batch);
        let reply: redis::streams::StreamAutoClaimReply = self
            .call(async move { c.xautoclaim_options(k, g, me, idle, start, opts).await })
            .await?;
        self.claim_cursor = reply.next_stream_id;
        if self.claim_cursor.is_empty() {
            self.claim_cursor = "0-0".to_owned();
        }
        Ok(reply.claimed)
    }

    /// Acknowledges entries.
    pub async fn ack(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let (k, g, ids) = (self.key.clone(), self.group.clone(), ids.to_vec());
        self.call(async move { c.xack::<_, _, _, ()>(k, g, &ids).await })
            .await
    }

    /// Removes consumers of the group that have nothing pending and were idle for `min_idle`
    /// (replicas that stopped for good: each process names itself anew). Best effort.
    pub async fn prune_consumers(&self, min_idle: Duration) {
        let mut c = self.conn.clone();
        let (k, g) = (self.key.clone(), self.group.clone());
        let Ok(info) = self
            .call(async move {
                c.xinfo_consumers::<_, _, redis::streams::StreamInfoConsumersReply>(k, g)
                    .await
            })
            .await
        else {
            return;
        };
        let min = usize::try_from(min_idle.as_millis()).unwrap_or(usize::MAX);
        for gone in info
            .consumers
            .iter()
            .filter(|c| c.pending == 0 && c.idle >= min && c.name != self.consumer)
            .take(100)
        {
            let mut c = self.conn.clone();
            let (k, g, n) = (self.key.clone(), self.group.clone(), gone.name.clone());
            let _ = self
                .call(async move { c.xgroup_delconsumer::<_, _, _, ()>(k, g, n).await })
                .await;
        }
    }
}

/// A field of an entry as text.
pub(super) fn field(e: &StreamId, name: &str) -> Option<String> {
    e.get::<String>(name)
}
