//! The live revocation index: the snapshot set crl-sync writes into the snapshot directory, held
//! in a [`revocation::SnapshotHolder`] and swapped in (lock-free for readers) when a newer file
//! appears.
//!
//! Each server opens one [`Index`] over its snapshot directory and starts [`spawn_reloader`],
//! which looks for a newer snapshot at a fixed interval, off the async threads, and hands each
//! outcome to a callback (the service's metrics). Answers are the service's, from
//! [`revocation::status`] over [`Index::load`].
//!
//! The holder is the index's choice of memory: it reads each snapshot into a private copy in huge
//! pages ([`SnapshotHolder::with_private_copies`]) rather than answering through the shared file
//! mapping, so that lookups take fewer TLB misses, for one copy of the index per process (about
//! 8.5 bytes per revoked certificate).

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use revocation::{PartitionMeta, SnapshotHolder, SnapshotSet};

/// The index a server answers from, with its directory and grace.
#[derive(Debug)]
pub struct Index {
    holder: SnapshotHolder,
    dir: PathBuf,
    grace: i64,
}

/// What one look at the snapshot directory did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reload {
    /// A newer snapshot set was swapped in.
    Swapped,
    /// Nothing newer: the current set stays.
    Unchanged,
    /// The directory or a snapshot could not be read: the current set stays.
    Failed(revocation::Error),
}

impl Index {
    /// An index over `dir`, loaded at once if possible (an empty or missing directory leaves it
    /// unloaded: not ready, every answer unknown). A partition is stale `grace` seconds past its
    /// nextUpdate.
    pub fn open(dir: PathBuf, grace: i64) -> Index {
        let idx = Index {
            holder: SnapshotHolder::with_private_copies(),
            dir,
            grace,
        };
        if let Err(e) = idx.reload() {
            tracing::warn!(dir = %idx.dir.display(), error = %e, "revocation index not loaded yet");
        }
        idx
    }

    /// Loads the directory again if a newer snapshot appeared; `Ok(true)` when it swapped.
    pub fn reload(&self) -> revocation::Result<bool> {
        self.holder.reload_if_changed(&self.dir)
    }

    /// [`Index::reload`], logged: a swap at info, a failure (the current set kept) at warn.
    pub fn refresh(&self) -> Reload {
        match self.reload() {
            Ok(true) => {
                tracing::info!("revocation index swapped in");
                Reload::Swapped
            }
            Ok(false) => Reload::Unchanged,
            Err(e) => {
                tracing::warn!(error = %e, "revocation index reload failed; keeping the current one");
                Reload::Failed(e)
            }
        }
    }

    /// The current set, for one request.
    pub fn load(&self) -> Option<Arc<SnapshotSet>> {
        self.holder.load_full()
    }

    /// Grace past nextUpdate, seconds.
    pub fn grace(&self) -> i64 {
        self.grace
    }

    /// The stalest partition (metrics).
    pub fn stalest(&self) -> Option<PartitionMeta> {
        self.holder.stalest_partition()
    }
}

/// Starts the reload loop on the current Tokio runtime: every `every`, [`Index::refresh`] on a
/// blocking thread (opening a snapshot maps and checks it), then `on_reload` there with the
/// index and the outcome. The loop holds the index weakly and ends once it is dropped, so
/// `on_reload` must not own it (nor anything that owns it).
pub fn spawn_reloader<F>(index: &Arc<Index>, every: Duration, on_reload: F)
where
    F: Fn(&Index, &Reload) + Send + Sync + 'static,
{
    let weak: Weak<Index> = Arc::downgrade(index);
    let on_reload = Arc::new(on_reload);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(index) = weak.upgrade() else { return };
            let on_reload = Arc::clone(&on_reload);
            let _ = tokio::task::spawn_blocking(move || {
                let outcome = index.refresh();
                on_reload(&index, &outcome);
            })
            .await;
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn an_empty_directory_leaves_the_index_unloaded() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(dir.path().to_owned(), 30);
        assert!(index.load().is_none_or(|set| set.is_empty()));
        assert!(index.stalest().is_none());
        assert_eq!(index.grace(), 30);
    }

    #[tokio::test]
    async fn the_reloader_reports_each_look_and_ends_with_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(Index::open(dir.path().to_owned(), 0));
        let looks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&looks);
        spawn_reloader(&index, Duration::from_millis(5), move |_, outcome| {
            assert!(!matches!(outcome, Reload::Swapped));
            counted.fetch_add(1, Ordering::SeqCst);
        });
        for _ in 0..200 {
            if looks.load(Ordering::SeqCst) >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(looks.load(Ordering::SeqCst) >= 2);
        // Once the index is dropped the loop stops looking.
        drop(index);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let after = looks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(looks.load(Ordering::SeqCst), after);
    }
}
