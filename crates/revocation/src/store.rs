//! A snapshot directory: one file per CA key and generation, written atomically, and the set of
//! the newest generation of every CA key that servers load.
//!
//! File names are `rev-<issuer key id, lowercase hex>-<generation, 20 decimal digits>.snap`, so
//! names sort by generation. Anything else in the directory, including the `.…tmp-…` files of an
//! interrupted write, is ignored.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use jpki::Serial;

use crate::entry::{PartitionMeta, Revoked};
use crate::error::{Error, Result};
use crate::snapshot::Snapshot;

const PREFIX: &str = "rev-";
const SUFFIX: &str = ".snap";

/// The file name of generation `generation` of the snapshot for `issuer_key_id`.
pub fn file_name(issuer_key_id: &[u8], generation: u64) -> String {
    let hex: String = issuer_key_id.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}-{generation:020}{SUFFIX}")
}

/// The issuer key id and generation named by a snapshot file name, if it is one.
pub fn parse_file_name(name: &str) -> Option<(Vec<u8>, u64)> {
    let body = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (hex, generation) = body.rsplit_once('-')?;
    if generation.len() != 20 || !generation.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 64 {
        return None;
    }
    let key = hex
        .as_bytes()
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            if s.bytes().any(|b| b.is_ascii_uppercase()) {
                return None;
            }
            u8::from_str_radix(s, 16).ok()
        })
        .collect::<Option<Vec<u8>>>()?;
    Some((key, generation.parse().ok()?))
}

/// Identity of a snapshot file, used to notice a new one without opening it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileStamp {
    /// Issuer key id.
    pub issuer_key_id: Vec<u8>,
    /// Generation from the file name.
    pub generation: u64,
    /// File length.
    pub len: u64,
    /// Modification time, if the platform has one.
    pub modified: Option<SystemTime>,
}

/// Snapshot files per issuer key id: (generation, path), oldest first.
pub type Listing = BTreeMap<Vec<u8>, Vec<(u64, PathBuf)>>;

/// The snapshot files in `dir`, per issuer key id, oldest generation first.
pub fn list(dir: &Path) -> Result<Listing> {
    let mut out = Listing::new();
    for item in fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))? {
        let item = item.map_err(|e| Error::io("read dir", dir, e))?;
        let name = item.file_name();
        if let Some((key, generation)) = name.to_str().and_then(parse_file_name) {
            out.entry(key).or_default().push((generation, item.path()));
        }
    }
    for files in out.values_mut() {
        files.sort();
    }
    Ok(out)
}

/// The stamps of the newest file of each CA key in `dir`, sorted by key id.
pub fn latest_stamps(dir: &Path) -> Result<Vec<FileStamp>> {
    let mut out = Vec::new();
    for (key, files) in list(dir)? {
        if let Some((generation, path)) = files.last() {
            let meta = fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
            out.push(FileStamp {
                issuer_key_id: key,
                generation: *generation,
                len: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
    Ok(out)
}

pub(crate) fn next_generation(dir: &Path, key_id: &[u8]) -> Result<u64> {
    let files = list(dir)?;
    Ok(files
        .get(key_id)
        .and_then(|f| f.last())
        .map_or(1, |(g, _)| g.saturating_add(1)))
}

/// Removes all but the newest `keep` generations of `key_id`. Readers that still map a removed
/// file keep reading it: the data stays until the last mapping goes.
pub(crate) fn prune(dir: &Path, key_id: &[u8], keep: usize) -> Result<()> {
    let files = list(dir)?;
    if let Some(files) = files.get(key_id) {
        let old = files.len().saturating_sub(keep);
        for (_, path) in files.iter().take(old) {
            fs::remove_file(path).map_err(|e| Error::io("remove", path, e))?;
        }
    }
    Ok(())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The name of the lock file a writer holds in a snapshot directory.
pub const LOCK_FILE: &str = ".writer.lock";

/// The exclusive right to write a snapshot directory, held for one `crl-sync` run: a second
/// writer gets [`Error::Busy`] instead of racing the first one's rollback checks. Taking it also
/// removes the temporary files of interrupted writes (a killed writer leaves its `.…tmp-…` file
/// behind; only a writer can have one open, and no other writer runs). The lock is an advisory
/// `flock` on [`LOCK_FILE`], released when this value drops or the process dies.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    removed_temp_files: usize,
}

impl WriterLock {
    /// Takes the lock without waiting and cleans up interrupted writes.
    pub fn acquire(dir: &Path) -> Result<WriterLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(Error::Busy { path }),
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        let mut removed = 0;
        for item in fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))? {
            let item = item.map_err(|e| Error::io("read dir", dir, e))?;
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.contains(".tmp-") && name != LOCK_FILE {
                fs::remove_file(item.path()).map_err(|e| Error::io("remove", item.path(), e))?;
                removed += 1;
            }
        }
        Ok(WriterLock {
            _file: file,
            removed_temp_files: removed,
        })
    }

    /// How many temporary files of interrupted writes were removed.
    pub fn removed_temp_files(&self) -> usize {
        self.removed_temp_files
    }
}

/// Writes `path` atomically: `write` fills a temporary file in the same directory, which is then
/// fsynced, renamed to `path`, and the directory fsynced. On any error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut temp = TempFile::create(path)?;
    let file = temp
        .file()?
        .try_clone()
        .map_err(|e| Error::io("write", &temp.tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    write(&mut w).map_err(|e| Error::io("write", &temp.tmp, e))?;
    w.flush().map_err(|e| Error::io("write", &temp.tmp, e))?;
    drop(w);
    temp.publish()
}

/// Runs `write` on `file` while another thread writes back what it has written so far
/// (`fdatasync` every few milliseconds), so that the fsync before the rename has little left to
/// do. A write-back error is returned even if `write` succeeds: Linux reports a failed write-back
/// to one fsync only, so ignoring it here would let the final fsync succeed on lost data.
pub(crate) fn with_writeback<T>(
    file: &File,
    tmp: &Path,
    write: impl FnOnce(&File) -> std::io::Result<T>,
) -> Result<T> {
    let done = std::sync::atomic::AtomicBool::new(false);
    let (result, synced) = std::thread::scope(|s| {
        let syncer = s.spawn(|| -> std::io::Result<()> {
            while !done.load(Ordering::Acquire) {
                file.sync_data()?;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(())
        });
        let result = write(file);
        done.store(true, Ordering::Release);
        let synced = syncer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the write-back thread panicked")));
        (result, synced)
    });
    let value = result.map_err(|e| Error::io("write", tmp, e))?;
    synced.map_err(|e| Error::io("fsync", tmp, e))?;
    Ok(value)
}

/// A temporary file beside its final path; removed when dropped unless published.
#[derive(Debug)]
pub(crate) struct TempFile {
    file: Option<File>,
    pub(crate) tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
}

impl TempFile {
    /// Creates the temporary file for `path` (in the same directory, so the rename is atomic).
    pub(crate) fn create(path: &Path) -> Result<TempFile> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        Ok(TempFile {
            file: Some(file),
            tmp,
            path: path.to_path_buf(),
            dir,
        })
    }

    /// The open file.
    pub(crate) fn file(&self) -> Result<&File> {
        self.file
            .as_ref()
            .ok_or_else(|| Error::io("write", &self.tmp, std::io::Error::other("already published")))
    }

    /// fsync, rename into place, fsync the directory.
    pub(crate) fn publish(&mut self) -> Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::io("write", &self.tmp, std::io::Error::other("already published")))?;
        file.sync_all().map_err(|e| Error::io("fsync", &self.tmp, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::io("rename", &self.path, e))?;
        // Renamed: nothing left to remove, whatever the directory fsync says.
        self.tmp = PathBuf::new();
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("fsync", &self.dir, e))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The newest snapshot of every CA key: what a server answers from.
#[derive(Debug, Default)]
pub struct SnapshotSet {
    snapshots: Vec<Snapshot>,
}

impl SnapshotSet {
    /// A set of snapshots; two for the same CA key are an error (the set could not tell which is
    /// current).
    pub fn new(mut snapshots: Vec<Snapshot>) -> Result<SnapshotSet> {
        snapshots.sort_by(|a, b| a.issuer_key_id().cmp(b.issuer_key_id()));
        for pair in snapshots.windows(2) {
            if let [a, b] = pair
                && a.issuer_key_id() == b.issuer_key_id()
            {
                return Err(Error::corrupt(
                    "snapshot set",
                    0,
                    "two snapshots for the same CA key",
                ));
            }
        }
        Ok(SnapshotSet { snapshots })
    }

    /// Opens the newest generation of every CA key in `dir`. Fails if one of them is damaged:
    /// a server then keeps the set it has (see [`crate::SnapshotHolder::reload_if_changed`]).
    pub fn open_dir(dir: &Path) -> Result<SnapshotSet> {
        let mut snapshots = Vec::new();
        for (_, files) in list(dir)? {
            if let Some((_, path)) = files.last() {
                snapshots.push(Snapshot::open(path)?);
            }
        }
        SnapshotSet::new(snapshots)
    }

    /// [`SnapshotSet::open_dir`], but each snapshot read into private memory in huge pages
    /// ([`Snapshot::load`]): faster lookups (fewer TLB misses) for one private copy per process.
    pub fn load_dir(dir: &Path) -> Result<SnapshotSet> {
        let mut snapshots = Vec::new();
        for (_, files) in list(dir)? {
            if let Some((_, path)) = files.last() {
                snapshots.push(Snapshot::load(path)?);
            }
        }
        SnapshotSet::new(snapshots)
    }

    /// The snapshots, by issuer key id.
    pub fn snapshots(&self) -> std::slice::Iter<'_, Snapshot> {
        self.snapshots.iter()
    }

    /// The snapshot of one CA key.
    pub fn get(&self, issuer_key_id: &[u8]) -> Option<&Snapshot> {
        self.snapshots
            .binary_search_by(|s| s.issuer_key_id().cmp(issuer_key_id))
            .ok()
            .and_then(|i| self.snapshots.get(i))
    }

    /// Looks a serial up in the snapshot of its issuer's key; `None` when the key has no snapshot
    /// or the serial is not listed (callers tell these apart with [`SnapshotSet::get`]).
    pub fn lookup(&self, issuer_key_id: &[u8], serial: &Serial) -> Option<Revoked> {
        self.get(issuer_key_id)?.lookup(serial)
    }

    /// Number of CA keys.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// Whether the set holds no snapshot.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The partition with the earliest nextUpdate across all CA keys.
    pub fn stalest_partition(&self) -> Option<&PartitionMeta> {
        self.snapshots
            .iter()
            .filter_map(Snapshot::stalest_partition)
            .min_by_key(|p| p.next_update)
    }

    /// Whether the set is non-empty and every partition of every CA key is fresh at `now`.
    pub fn is_fresh(&self, now: i64, grace: i64) -> bool {
        !self.snapshots.is_empty() && self.snapshots.iter().all(|s| s.is_fresh(now, grace))
    }

    /// The file stamps of the snapshots that were opened from files, by key id.
    pub fn stamps(&self) -> Vec<FileStamp> {
        self.snapshots.iter().filter_map(|s| s.stamp().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = file_name(&[0xAB, 0x01], 42);
        assert_eq!(n, "rev-ab01-00000000000000000042.snap");
        assert_eq!(parse_file_name(&n), Some((vec![0xAB, 0x01], 42)));
        for bad in [
            "rev-ab01-42.snap",
            "rev--00000000000000000042.snap",
            "rev-AB01-00000000000000000042.snap",
            "rev-abc-00000000000000000042.snap",
            ".rev-ab01-00000000000000000042.snap.tmp-1-0",
            "rev-ab01-0000000000000000004x.snap",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }
}
