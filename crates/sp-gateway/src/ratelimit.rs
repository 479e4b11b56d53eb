//! Per-SP rate limits shared by every replica: GCRA (the generic cell rate algorithm) in one Lua
//! script, on Redis's clock, so replicas with skewed clocks agree. Two limiters per SP: requests
//! (cost 1 each) and certificate-status items (a bulk request costs its size). Both are checked
//! and, only if both allow, both are charged, in one atomic step.
//!
//! When Redis is unreachable the same algorithm runs in process memory, per replica: the limit
//! then holds per replica rather than in total, which is the better failure than refusing every
//! request or accepting unlimited ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use redis::Script;

use crate::registry::Sp;
use crate::store::Store;

const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function check(key, interval, tolerance, cost)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  return new_tat, new_tat - tolerance - now
end
local items = tonumber(ARGV[5])
local r_tat, r_wait = check(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), 1)
local i_tat, i_wait = 0, 0
if items > 0 then i_tat, i_wait = check(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), items) end
local wait = math.max(r_wait, i_wait)
if wait > 0 then return {0, math.ceil(wait)} end
redis.call('SET', KEYS[1], string.format('%.0f', r_tat), 'PX', math.ceil((r_tat - now) / 1000) + 1)
if items > 0 then
  redis.call('SET', KEYS[2], string.format('%.0f', i_tat), 'PX', math.ceil((i_tat - now) / 1000) + 1)
end
return {1, 0}
";

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

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    script: Script,
    local: Mutex<HashMap<(String, bool), f64>>,
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
        }
    }

    /// Charges one request and `items` status items (0 for other endpoints) to `sp`.
    pub async fn check(&self, store: &Store, sp: &Sp, items: u64) -> Decision {
        let req = Params::new(sp.requests_per_second, sp.burst);
        let it = Params::new(sp.items_per_second, sp.items_burst);
        let mut c = store.conn();
        let mut inv = self.script.prepare_invoke();
        inv.key(store.key(&sp.id, "rl:req"))
            .key(store.key(&sp.id, "rl:items"))
            .arg(req.interval)
            .arg(req.tolerance)
            .arg(it.interval)
            .arg(it.tolerance)
            .arg(items);
        match store
            .run(async move { inv.invoke_async::<(i64, i64)>(&mut c).await })
            .await
        {
            Ok((1, _)) => Decision::Allow,
            Ok((_, wait)) => Decision::Deny {
                retry_after_us: u64::try_from(wait).unwrap_or(1),
            },
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
