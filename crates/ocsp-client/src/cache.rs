//! A small bounded cache of verified answers, so that J-LIS is asked at most once per certificate
//! per validity window.
//!
//! Keyed by (CA key id, serial); an entry is served only while `now < nextUpdate` of its answer,
//! never after. When full, expired entries go first, then the entries with the earliest
//! nextUpdate (the least useful ones). Thread-safe behind one mutex: every operation is a hash
//! lookup or a few B-tree steps.
//!
//! Not for: signed responses the PF serves (the responder caches those per snapshot).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use jpki::Serial;

use crate::verify::Verified;

/// What a cached answer is about: the issuing CA key and the serial.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The CA key's identifier ([`crate::IssuingCa::key_id`]).
    pub ca_key_id: Vec<u8>,
    /// The certificate serial.
    pub serial: Serial,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<CacheKey, (Verified, u64)>,
    /// (nextUpdate, insertion number) → key: eviction order.
    by_expiry: BTreeMap<(i64, u64), CacheKey>,
    next_seq: u64,
}

impl Inner {
    fn remove(&mut self, key: &CacheKey) {
        if let Some((v, seq)) = self.map.remove(key) {
            self.by_expiry.remove(&(v.next_update, seq));
        }
    }

    fn pop_first(&mut self) -> bool {
        match self.by_expiry.pop_first() {
            Some((_, key)) => {
                self.map.remove(&key);
                true
            }
            None => false,
        }
    }

    fn purge_expired(&mut self, now: i64) {
        while self
            .by_expiry
            .first_key_value()
            .is_some_and(|((next_update, _), _)| *next_update <= now)
        {
            self.pop_first();
        }
    }
}

/// The cache. `capacity` 0 disables it.
#[derive(Debug)]
pub struct VerifiedCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` answers.
    pub fn new(capacity: usize) -> VerifiedCache {
        VerifiedCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent across a panic in another holder (every step is complete or
        // not done), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer for `key` if one is cached and `now` is before its nextUpdate.
    pub fn get(&self, key: &CacheKey, now: i64) -> Option<Verified> {
        let mut inner = self.lock();
        let (v, _) = inner.map.get(key)?;
        if v.usable_at(now) {
            return Some(v.clone());
        }
        inner.remove(key);
        None
    }

    /// Stores a verified answer, unless it is already unusable at `now` or an answer produced
    /// later is cached for the same key.
    pub fn insert(&self, key: CacheKey, verified: Verified, now: i64) {
        if self.capacity == 0 || !verified.usable_at(now) {
            return;
        }
        let mut inner = self.lock();
        if let Some((old, _)) = inner.map.get(&key)
            && old.produced_at > verified.produced_at
            && old.usable_at(now)
        {
            return;
        }
        inner.remove(&key);
        inner.purge_expired(now);
        while inner.map.len() >= self.capacity {
            if !inner.pop_first() {
                break;
            }
        }
        let seq = inner.next_seq;
        inner.next_seq = seq.wrapping_add(1);
        inner.by_expiry.insert((verified.next_update, seq), key.clone());
        inner.map.insert(key, (verified, seq));
    }

    /// Entries held (some may be expired and not yet purged).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::collections::BTreeMap;

    use jpki::{Basis, CertStatus, CheckMethod, Freshness};
    use proptest::prelude::*;

    use super::*;

    fn answer(produced_at: i64, next_update: i64) -> Verified {
        Verified {
            status: CertStatus::Good(Freshness {
                method: CheckMethod::Ocsp,
                partition: "ocsp".into(),
                this_update: produced_at,
                next_update,
                basis: Basis::OwnPartition,
            }),
            this_update: produced_at,
            next_update,
            produced_at,
        }
    }

    fn key(serial: u64) -> CacheKey {
        CacheKey {
            ca_key_id: vec![1, 2, 3],
            serial: Serial::from_magnitude(&serial.to_be_bytes()).unwrap(),
        }
    }

    #[test]
    fn served_until_next_update_never_after() {
        let cache = VerifiedCache::new(4);
        cache.insert(key(1), answer(100, 200), 150);
        assert_eq!(cache.get(&key(1), 199), Some(answer(100, 200)));
        assert_eq!(cache.get(&key(1), 200), None);
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
        cache.insert(key(2), answer(100, 200), 200);
        assert!(cache.is_empty(), "an answer unusable now is not stored");
    }

    #[test]
    fn bounded_evicting_the_earliest_next_update() {
        let cache = VerifiedCache::new(2);
        cache.insert(key(1), answer(100, 300), 100);
        cache.insert(key(2), answer(100, 200), 100);
        cache.insert(key(3), answer(100, 400), 100);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&key(2), 150).is_none());
        assert!(cache.get(&key(1), 150).is_some());
        assert!(cache.get(&key(3), 150).is_some());
        let off = VerifiedCache::new(0);
        off.insert(key(1), answer(100, 300), 100);
        assert!(off.is_empty());
    }

    #[test]
    fn a_newer_answer_replaces_an_older_one_not_the_reverse() {
        let cache = VerifiedCache::new(2);
        cache.insert(key(1), answer(110, 300), 120);
        cache.insert(key(1), answer(100, 200), 120);
        assert_eq!(cache.get(&key(1), 120), Some(answer(110, 300)));
        cache.insert(key(1), answer(120, 250), 120);
        assert_eq!(cache.get(&key(1), 120), Some(answer(120, 250)));
        assert_eq!(cache.len(), 1);
    }

    proptest! {
        /// Against a model: never more than `capacity` entries, never an answer at or after its
        /// nextUpdate, only an answer that was stored for that key, and never an older answer
        /// than the newest usable one stored while it is still cached.
        #[test]
        fn agrees_with_a_model(ops in proptest::collection::vec((0u64..6, 0i64..50, 1i64..40, any::<bool>()), 1..200)) {
            let cache = VerifiedCache::new(3);
            let mut model: BTreeMap<u64, Vec<Verified>> = BTreeMap::new();
            let mut now = 0i64;
            for (serial, produced, ttl, is_get) in ops {
                now += 1;
                if is_get {
                    if let Some(v) = cache.get(&key(serial), now) {
                        prop_assert!(now < v.next_update);
                        prop_assert!(model.get(&serial).is_some_and(|all| all.contains(&v)));
                    }
                } else {
                    let v = answer(produced, now + ttl);
                    cache.insert(key(serial), v.clone(), now);
                    model.entry(serial).or_default().push(v);
                }
                prop_assert!(cache.len() <= 3);
            }
        }
    }
}
