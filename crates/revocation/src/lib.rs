//! The revocation index: which certificates of a CA key are revoked, answered from a snapshot of
//! the CRLs that key signed.
//!
//! For: the one rule that answers good / revoked / unknown ([`status`], [`SnapshotSet::status`],
//! see [`answer`]), [`IndexBuilder`] (streaming build from CRL entries in CRL order), the versioned snapshot
//! file that servers map read-only ([`Snapshot`]), lookups ([`Snapshot::lookup`],
//! [`Snapshot::lookup_batch`]), the set of the newest snapshot per CA key ([`SnapshotSet`]), the
//! holder that swaps sets atomically ([`SnapshotHolder`]) and the difference between two snapshots
//! ([`delta`], [`changes`]), and the event that announces a difference on the delta stream
//! ([`DeltaEvent`], the contract between crl-sync and the stream's readers). Not for: fetching,
//! verifying or parsing CRLs (that is `crl-sync`), network I/O (Redis included) or async. It touches files only to write, list, map and prune snapshots.
//!
//! # Data model
//! A snapshot covers one CA key (the CA certificate's subjectKeyIdentifier, 1 to 32 bytes) and
//! merges the entries of all that key's CRL partitions into one sorted set, since a serial is
//! unique per CA key. A partition table keeps each CRL's id, CRL number, thisUpdate, nextUpdate,
//! source SHA-256 and entry count, and the name the CRL gives itself in its issuingDistributionPoint
//! (which certificates give in their cRLDistributionPoints, so a certificate finds its partition
//! with no configuration: [`Snapshot::partition_index`]); each entry carries its partition index so
//! an answer can use its own partition's freshness ([`Snapshot::freshness_for`]).
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
//! A narrow entry (serial of at most 8 octets) is one **compact record of 8 bytes** (serial key
//! bits, reason nibble, revocation time as a `u32` offset from the header's base time) when the
//! snapshot's narrow serials lie close enough together, as JPKI's 4-octet serials do (see
//! below), otherwise a full record of 13 bytes (serial `u64`, time `u32`, reason byte). A
//! partition index adds 0 (one partition), 1 (up to 256) or 2 bytes, and the directory about
//! a byte (one `u32` per 4 to 8 entries on average). The 20 M-entry benchmark CRL takes
//! 8.91 bytes per entry. Wide serials take 20 + 4 + 1 + width bytes. The builder holds 16 bytes
//! per entry (one packed `u128`) and sorts in place; entries pushed in serial order from one
//! partition, as a CRL in serial order gives them, take 9 bytes until one is not.
//!
//! # File format, version 4
//! All integers little-endian. Fixed header of 240 bytes:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `JPKIREV\0` |
//! | 8 | 4 | format version (4; versions 2 and 3 are still read) |
//! | 12 | 4 | header length (240) |
//! | 16 | 8 | file length, trailer included |
//! | 24 | 8 | base time (i64 unix seconds; times are `u32` offsets from it) |
//! | 32 | 8 | narrow entry count *n* |
//! | 40 | 8 | wide entry count *w* |
//! | 48 | 8 | duplicates merged |
//! | 56 | 4 | partition count *p* |
//! | 60 | 1 | partition index width: 0 if *p* ≤ 1, 1 if *p* ≤ 256, else 2 |
//! | 61 | 1 | issuer key id length (1..=32) |
//! | 62 | 1 | narrow record width *r*: 8 (compact) or 13 (full) |
//! | 63 | 1 | reserved (0) |
//! | 64 | 32 | issuer key id, zero-padded |
//! | 96 | 8 | directory minimum (the smallest narrow serial) |
//! | 104 | 4 | directory shift *s* (at most 28 with compact records) |
//! | 108 | 4 | directory bucket count *b* |
//! | 112 | 128 | section table: 8 × (offset u64, length u64), in the order below |
//!
//! Sections follow in this order, each starting at a multiple of 8 (zero padding between):
//!
//! | # | section | content |
//! |---:|---|---|
//! | 0 | partition table | *p* records: id length u16, CRL number length u8, distribution point name length u16 (version 4; reserved and zero before), 3 reserved, thisUpdate i64, nextUpdate i64, entries u64, source SHA-256 \[32\], CRL number \[20\] right-aligned, id UTF-8, distribution point name UTF-8, padded to 8 |
//! | 1 | directory | *b* + 1 × u32: index of the first narrow entry with serial `x` where `(x - min) >> s ≥ i` |
//! | 2 | narrow records | *n* × *r* bytes in serial order (strictly increasing) |
//! | 3 | narrow partitions | *n* × width bytes (u8 or u16), absent when width is 0 |
//! | 4 | wide serials | *w* × \[20\]: big-endian magnitude right-aligned (9 to 20 octets), strictly increasing |
//! | 5 | wide times | *w* × u32 |
//! | 6 | wide reasons | *w* × u8: CRLReason code, `0xFF` = no reasonCode |
//! | 7 | wide partitions | *w* × width bytes |
//!
//! A compact record is a `u64`: bits 0–27 the low 28 bits of `serial - min`, bits 28–31 the
//! reason (CRLReason code, 15 = no reasonCode), bits 32–63 the time offset. Since the shift is at
//! most 28, the serials of one bucket agree on every bit above the stored ones, so the serial is
//! `min + (bucket << s) + (key & (2^s - 1))`. Compact records are used when the natural shift
//! (the smallest keeping the bucket count below *n* / 4; *n* / 8 in version 2) is at most 28, or when capping it at 28
//! needs fewer than *n* / 4 + 64 buckets. A full record is serial u64, time offset u32, reason u8.
//!
//! The last 8 bytes are a 64-bit checksum ([`Checksum`]) of everything before them, taken from
//! the directory (section 1) to the trailer first and then over the header and the partition
//! table. A writer can so emit the index while the source CRL is still being hashed and fill in
//! the table's SHA-256 last ([`IndexBuilder::write_pending`]). Version 2 files, identical but for
//! a checksum taken in file order, are still read.
//! The section table must equal the layout implied by the counts; [`Snapshot::open`] also checks
//! the checksum, the order of both serial arrays, the directory (and that its parameters are the
//! ones the serials imply), every compact key, every reason and every partition index, and
//! returns a typed [`Error`] on any damage.
//!
//! # Lookup
//! The directory, on the serial's high bits after subtracting the minimum, points at a bucket of
//! 4 to 8 records on average (about a cache line for near-sequential serials), which is
//! counted without branches. A compact record carries the time and reason, so a hit costs the
//! directory read and one record read (plus the partition byte with several partitions).
//! [`Snapshot::lookup_batch`] overlaps the misses of 16 probes. Servers read snapshots into huge
//! pages ([`SnapshotHolder::with_private_copies`]) and keep a [`HolderReader`] per thread.
#![warn(missing_docs)]

pub mod answer;
mod builder;
mod delta;
mod entry;
mod error;
mod event;
mod format;
mod holder;
mod lookup;
mod mmap;
mod snapshot;
mod store;

pub use answer::{Policy, freshness_of, status};
pub use builder::{IndexBuilder, PendingSnapshot};
pub use delta::{Change, Changes, Delta, changes, delta, delta_from_empty};
pub use entry::{Entry, MAX_CRL_NUMBER_OCTETS, MAX_PARTITION_ID_BYTES, NO_REASON, PartitionMeta, Revoked};
pub use error::{Error, Result};
pub use event::{
    DeltaEvent, EVENT_BASELINE, EVENT_REVOKED, EventError, MAX_CRL_NUMBERS_LEN, MAX_FIELDS,
    MAX_SERIAL_OCTETS, PartitionBaseline, RevokedCertificate,
};
pub use format::{Checksum, FORMAT_VERSION, MAGIC, checksum};
pub use holder::{HolderReader, SnapshotHolder};
pub use snapshot::{Entries, Snapshot};
pub use store::{
    FileStamp, LOCK_FILE, SnapshotSet, WriterLock, file_name, latest_stamps, parse_file_name,
    write_atomically,
};
