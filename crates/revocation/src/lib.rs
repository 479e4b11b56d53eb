//! The revocation index.
//!
//! It will own the per-issuer sorted serial arrays (u64 fast path, wide path for longer serials,
//! parallel arrays for revocation time and reason), the versioned snapshot file format that servers
//! `mmap` read-only, the holder that swaps snapshots atomically, and the delta between two snapshots.
//!
//! It does not fetch or parse CRLs (that is `crl-sync`) and does no network I/O.
#![warn(missing_docs)]
