//! The current snapshot set of a server, swapped atomically when crl-sync writes a new one.
//! Lookups take a lock-free snapshot of the pointer and never wait for a reload.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use arc_swap::Guard;

use crate::entry::PartitionMeta;
use crate::error::Result;
use crate::store::{self, SnapshotSet};

/// A per-thread cached view of a [`SnapshotHolder`] (see [`SnapshotHolder::reader`]).
pub struct HolderReader<'a> {
    cache: arc_swap::cache::Cache<&'a ArcSwapOption<SnapshotSet>, Option<Arc<SnapshotSet>>>,
}

impl std::fmt::Debug for HolderReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderReader").finish_non_exhaustive()
    }
}

impl HolderReader<'_> {
    /// The holder's current set (`None` before the first load).
    #[inline]
    pub fn load(&mut self) -> Option<&SnapshotSet> {
        self.cache.load().as_deref()
    }
}

/// Holds the snapshot set that answers lookups.
#[derive(Debug, Default)]
pub struct SnapshotHolder {
    current: ArcSwapOption<SnapshotSet>,
    /// Serialises reloads only; readers never take it.
    reload: Mutex<()>,
    /// Whether reloads read snapshots into private huge-page memory ([`SnapshotSet::load_dir`])
    /// rather than mapping the files ([`SnapshotSet::open_dir`]).
    private: bool,
}

impl SnapshotHolder {
    /// A holder with no set loaded (not ready).
    pub fn new() -> SnapshotHolder {
        SnapshotHolder::default()
    }

    /// A holder whose reloads read each snapshot into private memory in huge pages
    /// ([`SnapshotSet::load_dir`]): lookups take fewer TLB misses, for one private copy of the
    /// index per process (about 8.5 bytes per revoked certificate).
    pub fn with_private_copies() -> SnapshotHolder {
        SnapshotHolder {
            private: true,
            ..SnapshotHolder::default()
        }
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

    /// A reader for one thread's hot loop: it keeps the current set and, on each
    /// [`HolderReader::load`], only compares one pointer with the holder's (no atomic
    /// read-modify-write, so consecutive lookups overlap their cache misses). It sees a swap on
    /// its next `load`; while it lives it keeps the set it last loaded alive.
    pub fn reader(&self) -> HolderReader<'_> {
        HolderReader {
            cache: arc_swap::cache::Cache::new(&self.current),
        }
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
        let set = if self.private {
            SnapshotSet::load_dir(dir)?
        } else {
            SnapshotSet::open_dir(dir)?
        };
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
