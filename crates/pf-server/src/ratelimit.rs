//! Per-SP rate limits shared by every replica: GCRA (the generic cell rate algorithm) in one Lua
//! script, on Redis's clock, so replicas with skewed clocks agree. Two limiters per SP: requests
//! (cost 1 each) and certificate-status items (a bulk request costs its size). Both are checked
//! and, only if both allow, both are charged, in one atomic step.
//!
//! A replica takes tokens in small leases (about 50 ms of the SP's rate, at most a quarter of its
//! burst) and spends them locally, so a busy SP costs one Redis call per lease rather than per
//! request; an SP with a low rate gets leases of one token, i.e. one Redis call per request.
//! One request per SP and replica refills the lease at a time; the others wait for it and then
//! spend from the new lease. (Without that, every request in flight when a lease ran out took a
//! lease of its own and forfeited it a moment later: a busy SP burned its tolerance in
//! forfeited tokens and fell back to one Redis call per request.)
//!
//! When Redis is unreachable the same algorithm runs in process memory, per replica: the limit
//! then holds per replica rather than in total, which is the better failure than refusing every
//! request or accepting unlimited ones.
//!
//! The counters are two keys per SP, `P:{sp}:rl:req` and `P:{sp}:rl:items` (`P` the server's
//! key prefix; the `{sp}` hash tag keeps both in one Redis Cluster slot for the script). The
//! server says how it reaches Redis through [`LimitStore`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::Script;
use redis::aio::ConnectionManager;

use crate::registry::Sp;

/// How a server reaches the Redis its shared limits are counted in: its connections, its key
/// prefix, and how it runs one call (its deadline, and whatever it records about Redis's health).
pub trait LimitStore: Sync {
    /// Why a call failed; only logged, since a failed call falls back to process memory.
    type Error: std::fmt::Display;

    /// A connection handle.
    fn connection(&self) -> ConnectionManager;

    /// The key prefix (`[redis] prefix`).
    fn key_prefix(&self) -> &str;

    /// Runs one call.
    fn call<T: Send>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>> + Send,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send;
}

/// A shared store is the store.
impl<S: LimitStore + Send> LimitStore for Arc<S> {
    type Error = S::Error;

    fn connection(&self) -> ConnectionManager {
        S::connection(self)
    }

    fn key_prefix(&self) -> &str {
        S::key_prefix(self)
    }

    fn call<T: Send>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>> + Send,
    ) -> impl Future<Output = Result<T, Self::Error>> + Send {
        S::call(self, call)
    }
}

/// `P:{sp}:name`.
fn counter_key(prefix: &str, sp: &str, name: &str) -> String {
    format!("{prefix}:{{{sp}}}:{name}")
}

const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function check(key, interval, tolerance, cost)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  return new_tat, new_tat - tolerance - now
end
local function try(cr, ci)
  local r_tat, r_wait, i_tat, i_wait = 0, 0, 0, 0
  if cr > 0 then r_tat, r_wait = check(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), cr) end
  if ci > 0 then i_tat, i_wait = check(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ci) end
  return r_tat, i_tat, math.max(r_wait, i_wait)
end
local gr, gi = tonumber(ARGV[5]), tonumber(ARGV[6])
local r_tat, i_tat, wait = try(gr, gi)
if wait > 0 then
  gr, gi = tonumber(ARGV[7]), tonumber(ARGV[8])
  r_tat, i_tat, wait = try(gr, gi)
end
if wait > 0 then return {0, 0, math.ceil(wait)} end
if gr > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', r_tat), 'PX', math.ceil((r_tat - now) / 1000) + 1)
end
if gi > 0 then
  redis.call('SET', KEYS[2], string.format('%.0f', i_tat), 'PX', math.ceil((i_tat - now) / 1000) + 1)
end
return {gr, gi, 0}
";

/// How long a replica may spend a lease of tokens taken from the shared limiter. Unspent
/// tokens are forfeited when it ends, so leases only ever make an SP slower, never faster.
const LEASE: Duration = Duration::from_millis(50);

/// Tokens of one limiter this replica took from the shared one and may spend locally until
/// `until`.
#[derive(Debug, Clone, Copy)]
struct Lease {
    tokens: u64,
    until: Instant,
}

impl Lease {
    fn covers(lease: Option<&Lease>, n: u64, now: Instant) -> bool {
        n == 0 || lease.is_some_and(|l| l.until > now && l.tokens >= n)
    }
}

/// An SP's request and item leases.
#[derive(Debug, Default, Clone, Copy)]
struct Leases {
    requests: Option<Lease>,
    items: Option<Lease>,
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refuse; retry after this many microseconds.
    Deny {
        /// Wait, microseconds.
        retry_after_us: u64,
    },
}

impl Decision {
    /// `Retry-After` in whole seconds (at least 1).
    pub fn retry_after_secs(retry_after_us: u64) -> u64 {
        retry_after_us.div_ceil(1_000_000).max(1)
    }
}

/// GCRA parameters, microseconds.
#[derive(Clone, Copy, Debug)]
struct Params {
    interval: f64,
    tolerance: f64,
}

impl Params {
    fn new(per_second: f64, burst: u64) -> Params {
        let interval = 1e6 / per_second.max(1e-6);
        Params {
            interval,
            tolerance: interval * burst as f64,
        }
    }
}

/// One SP's leases in this replica, and the lock one refill at a time holds.
#[derive(Debug, Default)]
struct SpLease {
    leases: Mutex<Leases>,
    refill: tokio::sync::Mutex<()>,
}

impl SpLease {
    /// Spends one request and `items` from the leases when they cover both; otherwise spends
    /// nothing and says which of the two (requests, items) are missing.
    fn spend(&self, items: u64, now: Instant) -> Result<(), (bool, bool)> {
        let mut g = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        let need_req = !Lease::covers(g.requests.as_ref(), 1, now);
        let need_items = !Lease::covers(g.items.as_ref(), items, now);
        if need_req || need_items {
            return Err((need_req, need_items));
        }
        if let Some(l) = g.requests.as_mut() {
            l.tokens -= 1;
        }
        if let Some(l) = g.items.as_mut().filter(|_| items > 0) {
            l.tokens -= items;
        }
        Ok(())
    }
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    script: Script,
    local: Mutex<HashMap<(String, bool), f64>>,
    leases: Mutex<HashMap<String, Arc<SpLease>>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new()
    }
}

impl RateLimiter {
    /// A limiter.
    pub fn new() -> RateLimiter {
        RateLimiter {
            script: Script::new(GCRA),
            local: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// Charges one request and `items` status items (0 for other endpoints) to `sp`.
    pub async fn check(&self, store: &impl LimitStore, sp: &Sp, items: u64) -> Decision {
        let slot = {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            match leases.get(&sp.id) {
                Some(s) => Arc::clone(s),
                None => Arc::clone(leases.entry(sp.id.clone()).or_default()),
            }
        };
        if slot.spend(items, Instant::now()).is_ok() {
            return Decision::Allow;
        }
        // One refill at a time; whoever waited here first looks at the lease the last one took.
        let _refill = slot.refill.lock().await;
        let now = Instant::now();
        let Err((need_req, need_items)) = slot.spend(items, now) else {
            return Decision::Allow;
        };
        let req = Params::new(sp.requests_per_second, sp.burst);
        let it = Params::new(sp.items_per_second, sp.items_burst);
        let chunk = |rate: f64, burst: u64| -> u64 {
            let per_lease = (rate * LEASE.as_secs_f64()).floor() as u64;
            per_lease.min(burst / 4).max(1)
        };
        // Only the lease that ran out is refilled (the other keeps its tokens and its end);
        // item tokens are leased only by requests that spend items (status checks).
        let need_req = u64::from(need_req);
        let want_req = if need_req == 0 {
            0
        } else {
            chunk(sp.requests_per_second, sp.burst)
        };
        let need_items = if need_items { items } else { 0 };
        let want_items = if need_items == 0 {
            0
        } else {
            items.max(chunk(sp.items_per_second, sp.items_burst))
        };
        let mut c = store.connection();
        let mut inv = self.script.prepare_invoke();
        inv.key(counter_key(store.key_prefix(), &sp.id, "rl:req"))
            .key(counter_key(store.key_prefix(), &sp.id, "rl:items"))
            .arg(req.interval)
            .arg(req.tolerance)
            .arg(it.interval)
            .arg(it.tolerance)
            .arg(want_req)
            .arg(want_items)
            .arg(need_req)
            .arg(need_items);
        match store
            .call(async move { inv.invoke_async::<(u64, u64, i64)>(&mut c).await })
            .await
        {
            Ok((_, _, wait)) if wait > 0 => Decision::Deny {
                retry_after_us: u64::try_from(wait).unwrap_or(1),
            },
            Ok((granted_req, granted_items, _)) => {
                let mut g = slot.leases.lock().unwrap_or_else(|e| e.into_inner());
                // This request's share comes out of the new grant; the lease that was still
                // good pays for its own part.
                if need_req > 0 {
                    g.requests = Some(Lease {
                        tokens: granted_req.saturating_sub(1),
                        until: now + LEASE,
                    });
                } else if let Some(l) = g.requests.as_mut() {
                    l.tokens = l.tokens.saturating_sub(1);
                }
                if need_items > 0 {
                    g.items = Some(Lease {
                        tokens: granted_items.saturating_sub(items),
                        until: now + LEASE,
                    });
                } else if let Some(l) = g.items.as_mut().filter(|_| items > 0) {
                    l.tokens = l.tokens.saturating_sub(items);
                }
                Decision::Allow
            }
            Err(e) => {
                tracing::debug!(error = %e, "rate limit falls back to process memory");
                self.check_local(&sp.id, req, it, items)
            }
        }
    }

    fn check_local(&self, sp: &str, req: Params, it: Params, items: u64) -> Decision {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_micros() as f64);
        let mut map = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let step = |tat: Option<&f64>, p: Params, cost: f64| {
            let tat = tat.copied().unwrap_or(now).max(now);
            let new_tat = tat + p.interval * cost;
            (new_tat, new_tat - p.tolerance - now)
        };
        let (r_tat, r_wait) = step(map.get(&(sp.to_owned(), false)), req, 1.0);
        let (i_tat, i_wait) = if items > 0 {
            step(map.get(&(sp.to_owned(), true)), it, items as f64)
        } else {
            (0.0, 0.0)
        };
        let wait = r_wait.max(i_wait);
        if wait > 0.0 {
            return Decision::Deny {
                retry_after_us: wait.ceil() as u64,
            };
        }
        map.insert((sp.to_owned(), false), r_tat);
        if items > 0 {
            map.insert((sp.to_owned(), true), i_tat);
        }
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_gcra_allows_the_burst_then_paces() {
        let l = RateLimiter::new();
        let p = Params::new(1.0, 3);
        let big = Params::new(10.0, 100);
        for _ in 0..3 {
            assert_eq!(l.check_local("a", p, big, 0), Decision::Allow);
        }
        assert!(
            matches!(l.check_local("a", p, big, 0), Decision::Deny { retry_after_us } if retry_after_us <= 1_000_000)
        );
        // Another SP is not affected.
        assert_eq!(l.check_local("b", p, big, 100), Decision::Allow);
        assert!(matches!(l.check_local("b", p, big, 1), Decision::Deny { .. }));
        assert_eq!(Decision::retry_after_secs(1), 1);
        assert_eq!(Decision::retry_after_secs(1_500_000), 2);
    }
}
