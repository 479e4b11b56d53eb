//! The one place that maps a snapshot file into memory.

use std::fs::File;

use memmap2::{Mmap, MmapOptions};

/// Maps `file` read-only, pre-faulting its pages (open reads them all for the checksum anyway).
#[allow(unsafe_code)]
pub(crate) fn map_read_only(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: `Mmap::map` is unsafe because another process could change or truncate the file
    // while it is mapped. Snapshot files are written once to a temporary name, fsynced and renamed
    // into place, and never modified afterwards (a new generation is a new file; old generations
    // are only unlinked, which leaves existing mappings intact). The mapping is read-only, and all
    // reads of it go through bounds-checked slices after the checksum was verified at open.
    unsafe { MmapOptions::new().populate().map(file) }
}

/// Maps `file` read-only without pre-faulting (a writer reading back the file it just wrote
/// touches only what it needs). Same safety argument as [`map_read_only`].
#[allow(unsafe_code)]
pub(crate) fn map_lazily(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: as in `map_read_only`: snapshot files are immutable once renamed into place.
    unsafe { MmapOptions::new().map(file) }
}

/// Private anonymous memory of `len` bytes, asking the kernel for transparent huge pages: a
/// snapshot copied there costs far fewer TLB misses on random lookups than 4 KiB pages do.
pub(crate) fn anon_huge(len: usize) -> std::io::Result<memmap2::MmapMut> {
    let map = memmap2::MmapMut::map_anon(len.max(1))?;
    // Advice only; THP may be disabled, which is fine.
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}
