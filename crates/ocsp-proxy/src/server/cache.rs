//! Signed responses kept for the RFC 5019 profile (one CertID, no nonce).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A signed response kept for requests without a nonce.
#[derive(Clone, Debug)]
pub(super) struct Cached {
    pub(super) body: Arc<[u8]>,
    /// Served until then (the response's nextUpdate), unix seconds.
    pub(super) valid_until: i64,
    /// The single response's thisUpdate, for `Last-Modified`.
    pub(super) this_update: i64,
}

/// Signed responses to nonce-less single-CertID requests, keyed by the CertID's DER (hash
/// algorithm, issuer hashes and serial). Emptied whenever a newer snapshot set is swapped in, and
/// an entry is never served past its nextUpdate. Bounded: at the limit, an arbitrary entry makes
/// room.
#[derive(Debug)]
pub struct ResponseCache {
    entries: Mutex<HashMap<Vec<u8>, Cached>>,
    max: usize,
}

impl ResponseCache {
    /// A cache of at most `max` responses (0: no caching).
    pub fn new(max: usize) -> ResponseCache {
        ResponseCache {
            entries: Mutex::new(HashMap::new()),
            max,
        }
    }

    pub(super) fn get(&self, key: &[u8], now: i64) -> Option<Cached> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|c| now < c.valid_until).cloned()
    }

    pub(super) fn put(&self, key: Vec<u8>, value: Cached) {
        if self.max == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max
            && !entries.contains_key(&key)
            && let Some(victim) = entries.keys().next().cloned()
        {
            entries.remove(&victim);
        }
        entries.insert(key, value);
    }

    /// Drops every response (a newer snapshot set may change any of them).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Responses kept.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
