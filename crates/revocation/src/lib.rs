//! The revocation index: which certificates of a CA key are revoked, answered from a snapshot of
//! the CRLs that key signed.
//!
//! For: [`IndexBuilder`] (streaming build from CRL entries in CRL order), the versioned snapshot
//! file that servers map read-only ([`Snapshot`]), lookups ([`Snapshot::lookup`],
//! [`Snapshot::lookup_batch`]), the set of the newest snapshot per CA key ([`SnapshotSet`]), the
//! holder that swaps sets atomically ([`SnapshotHolder`]) and the difference between two snapshots
//! ([`delta`], [`changes`]). Not for: fetching, verifying or parsing CRLs (that is `crl-sync`),
//! network I/O or async. It touches files only to write, list, map and prune snapshots.
//!
//! # Data model
//! A snapshot covers one CA key (the CA certificate's subjectKeyIdentifier, 1 to 32 bytes) and
//! merges the entries of all that key's CRL partitions into one sorted set, since a serial is
//! unique per CA key. A partition table keeps each CRL's id, CRL number, thisUpdate, nextUpdate,
//! source SHA-256 and entry count, and each entry carries its partition index so an answer can use
//! its own partition's freshness ([`Snapshot::freshness_for`]).
//!
//! A *snapshot set* is a directory holding one file per CA key and generation,
//! `rev-<key id hex>-<generation, 20 digits>.snap`; the newest generation of each key is current.
//! Files are written to a temporary name, fsynced, renamed and the directory fsynced
//! ([`IndexBuilder::write_atomically`]); old generations are pruned.
//!
//! # Duplicates
//! The same serial pushed more than once (within one CRL or across partitions) becomes one entry:
//! its revocation time is the **earliest** of the duplicates, and its reason and partition come
//! from the **latest CRL**: the partition with the greatest thisUpdate, ties going to the partition
//! added later; several duplicates within that partition give the earliest one (then the lowest
//! reason byte). The number of entries merged away is [`Snapshot::duplicates`];
//! [`PartitionMeta::entries`] counts what each CRL listed, duplicates included.
//!
//! # Size
//! Per entry with a serial of at most 8 octets: serial 8 bytes, revocation time 4 (a `u32` offset
//! from the header's base time), reason 1, partition index 0 (one partition), 1 (up to 256) or 2
//! bytes. That is **13 bytes** for a single-partition snapshot, plus the directory (at most one
//! `u32` per 4 entries; about 0.5 bytes per entry for near-sequential serials): 20 M entries take
//! about 270 MB. Wide serials take 20 + 4 + 1 + width bytes. The builder holds 16 bytes per entry
//! (one packed `u128`) and sorts in place.
//!
//! # File format, version 1
//! All integers little-endian. Fixed header of 272 bytes:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `JPKIREV\0` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | header length (272) |
//! | 16 | 8 | file length, trailer included |
//! | 24 | 8 | base time (i64 unix seconds; times are `u32` offsets from it) |
//! | 32 | 8 | narrow entry count *n* |
//! | 40 | 8 | wide entry count *w* |
//! | 48 | 8 | duplicates merged |
//! | 56 | 4 | partition count *p* |
//! | 60 | 1 | partition index width: 0 if *p* ≤ 1, 1 if *p* ≤ 256, else 2 |
//! | 61 | 1 | issuer key id length (1..=32) |
//! | 62 | 2 | reserved (0) |
//! | 64 | 32 | issuer key id, zero-padded |
//! | 96 | 8 | directory minimum (the smallest narrow serial) |
//! | 104 | 4 | directory shift *s* |
//! | 108 | 4 | directory bucket count *b* |
//! | 112 | 160 | section table: 10 × (offset u64, length u64), in the order below |
//!
//! Sections follow in this order, each starting at a multiple of 8 (zero padding between):
//!
//! | # | section | content |
//! |---:|---|---|
//! | 0 | partition table | *p* records: id length u16, CRL number length u8, 5 reserved, thisUpdate i64, nextUpdate i64, entries u64, source SHA-256 \[32\], CRL number \[20\] right-aligned, id UTF-8, padded to 8 |
//! | 1 | directory | *b* + 1 × u32: index of the first narrow serial `x` with `(x - min) >> s ≥ i` |
//! | 2 | narrow serials | *n* × u64, strictly increasing |
//! | 3 | narrow times | *n* × u32 offset from base time |
//! | 4 | narrow reasons | *n* × u8: CRLReason code, `0xFF` = no reasonCode |
//! | 5 | narrow partitions | *n* × width bytes (u8 or u16), absent when width is 0 |
//! | 6 | wide serials | *w* × \[20\]: big-endian magnitude right-aligned (9 to 20 octets), strictly increasing |
//! | 7 | wide times | *w* × u32 |
//! | 8 | wide reasons | *w* × u8 |
//! | 9 | wide partitions | *w* × width bytes |
//!
//! The last 8 bytes are a 64-bit checksum of everything before them ([`checksum`]).
//! The section table must equal the layout implied by the counts; [`Snapshot::open`] also checks
//! the checksum, the order of both serial arrays, the directory, every reason byte and every
//! partition index, and returns a typed [`Error`] on any damage.
//!
//! # Lookup
//! The directory on the serial's high bits (after subtracting the minimum) points at a block of a
//! few entries; JPKI serials are near-sequential, so the directory stays small (kept to at most
//! one bucket per 4 entries) and a lookup costs the directory read plus one or two cache lines.
#![warn(missing_docs)]

mod builder;
mod delta;
mod entry;
mod error;
mod format;
mod holder;
mod lookup;
mod mmap;
mod snapshot;
mod store;

pub use builder::IndexBuilder;
pub use delta::{Change, Changes, Delta, changes, delta, delta_from_empty};
pub use entry::{Entry, MAX_CRL_NUMBER_OCTETS, MAX_PARTITION_ID_BYTES, NO_REASON, PartitionMeta, Revoked};
pub use error::{Error, Result};
pub use format::{Checksum, FORMAT_VERSION, MAGIC, checksum};
pub use holder::SnapshotHolder;
pub use snapshot::{Entries, Snapshot};
pub use store::{
    FileStamp, LOCK_FILE, SnapshotSet, WriterLock, file_name, latest_stamps, parse_file_name,
    write_atomically,
};
