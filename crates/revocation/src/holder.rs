//! The current snapshot set of a server, swapped atomically when crl-sync writes a new one.
//! Lookups take a lock-free snapshot of the pointer and never wait for a reload.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use arc_swap::Guard;

use crate::entry::PartitionMeta;
use crate::error::Result;
use crate::store::{self, SnapshotSet};

/// Holds the snapshot set that answers lookups.
#[derive(Debug, Default)]
pub struct SnapshotHolder {
    current: ArcSwapOption<SnapshotSet>,
    /// Serialises reloads only; readers never take it.
    reload: Mutex<()>,
}

impl SnapshotHolder {
    /// A holder with no set loaded (not ready).
    pub fn new() -> SnapshotHolder {
        SnapshotHolder::default()
    }

    /// A holder with `set` loaded.
    pub fn with_set(set: SnapshotSet) -> SnapshotHolder {
        let h = SnapshotHolder::new();
        h.swap_in(set);
        h
    }

    /// The current set, cheaply and without blocking. Hold the guard for one request, not longer:
    /// a held guard keeps an old set (and its mapping) alive after a swap.
    pub fn load(&self) -> Guard<Option<Arc<SnapshotSet>>> {
        self.current.load()
    }

    /// The current set as an `Arc`, for holding across an await point or a long job.
    pub fn load_full(&self) -> Option<Arc<SnapshotSet>> {
        self.current.load_full()
    }

    /// Replaces the current set and returns the previous one.
    pub fn swap_in(&self, set: SnapshotSet) -> Option<Arc<SnapshotSet>> {
        self.current.swap(Some(Arc::new(set)))
    }

    /// Loads `dir` again if the newest file of some CA key differs from the loaded one (name,
    /// generation, length or mtime), and swaps the new set in. Returns whether it swapped.
    ///
    /// On error (a damaged new file, an unreadable directory) the current set stays in place, so
    /// a server keeps answering from the last good data while its freshness runs out.
    pub fn reload_if_changed(&self, dir: &Path) -> Result<bool> {
        let _reloading = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        let on_disk = store::latest_stamps(dir)?;
        let loaded = self
            .current
            .load()
            .as_ref()
            .map(|s| s.stamps())
            .unwrap_or_default();
        if on_disk == loaded {
            return Ok(false);
        }
        let set = SnapshotSet::open_dir(dir)?;
        self.swap_in(set);
        Ok(true)
    }

    /// Whether a set is loaded and all its partitions are fresh at `now` (readiness).
    pub fn is_fresh(&self, now: i64, grace: i64) -> bool {
        self.current
            .load()
            .as_ref()
            .is_some_and(|s| s.is_fresh(now, grace))
    }

    /// The stalest partition of the loaded set (earliest nextUpdate), for metrics and readiness.
    pub fn stalest_partition(&self) -> Option<PartitionMeta> {
        self.current
            .load()
            .as_ref()
            .and_then(|s| s.stalest_partition().cloned())
    }
}
