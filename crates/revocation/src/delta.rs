//! The difference between two snapshots of one CA key, by a merge walk of their sorted arrays:
//! newly revoked entries (what the 4-info update relay notifies SPs about), entries that left the
//! list (expired certificates drop off CRLs), and entries whose time or reason changed.

use std::cmp::Ordering;

use crate::entry::Entry;
use jpki::Serial;

use crate::format::WIDE_SERIAL_LEN;
use crate::snapshot::{NarrowCursor, Snapshot};

/// One difference between an old and a new snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Listed in the new snapshot only; `partition` indexes the new snapshot's table.
    Added(Entry),
    /// Listed in the old snapshot only; `partition` indexes the old snapshot's table.
    Removed(Entry),
    /// Listed in both, with a different revocation time or reason.
    Changed {
        /// As the old snapshot has it.
        old: Entry,
        /// As the new snapshot has it.
        new: Entry,
    },
}

/// The collected difference between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Newly revoked, in serial order; `partition` indexes [`Delta::new_partitions`].
    pub added: Vec<Entry>,
    /// No longer listed, in serial order; `partition` indexes [`Delta::old_partitions`].
    pub removed: Vec<Entry>,
    /// Listed in both with a different time or reason: (old, new), in serial order.
    pub changed: Vec<(Entry, Entry)>,
    /// Partition ids of the new snapshot.
    pub new_partitions: Vec<String>,
    /// Partition ids of the old snapshot.
    pub old_partitions: Vec<String>,
}

impl Delta {
    /// The id of partition `index` of the new snapshot (for [`Delta::added`] entries).
    pub fn partition_name(&self, index: u16) -> Option<String> {
        self.new_partitions.get(usize::from(index)).cloned()
    }

    /// The id of partition `index` of the old snapshot (for [`Delta::removed`] entries).
    pub fn old_partition_name(&self, index: u16) -> Option<String> {
        self.old_partitions.get(usize::from(index)).cloned()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The difference from `old` to `new`. Both should cover the same CA key; nothing checks it.
pub fn delta(old: &Snapshot, new: &Snapshot) -> Delta {
    collect(Some(old), new)
}

/// The difference from nothing to `new`: every entry is added.
pub fn delta_from_empty(new: &Snapshot) -> Delta {
    collect(None, new)
}

fn collect(old: Option<&Snapshot>, new: &Snapshot) -> Delta {
    let mut d = Delta {
        new_partitions: new.partitions().iter().map(|p| p.id.clone()).collect(),
        old_partitions: old
            .map(|o| o.partitions().iter().map(|p| p.id.clone()).collect())
            .unwrap_or_default(),
        ..Delta::default()
    };
    for c in changes(old, new) {
        match c {
            Change::Added(e) => d.added.push(e),
            Change::Removed(e) => d.removed.push(e),
            Change::Changed { old, new } => d.changed.push((old, new)),
        }
    }
    d
}

/// The differences from `old` (or nothing) to `new` as an iterator, in serial order, without
/// collecting them (a first snapshot adds millions of entries).
pub fn changes<'a>(old: Option<&'a Snapshot>, new: &'a Snapshot) -> Changes<'a> {
    Changes {
        old: old.map(Side::of),
        new: Side::of(new),
        i: 0,
        j: 0,
        wide: false,
    }
}

struct Side<'a> {
    snap: &'a Snapshot,
    narrow_len: usize,
    wide: &'a [[u8; WIDE_SERIAL_LEN]],
    /// Where the walk is in the narrow records (it goes forward).
    cursor: NarrowCursor,
    /// The last narrow serial read, by index.
    last: Option<(usize, u64)>,
}

impl<'a> Side<'a> {
    fn of(snap: &'a Snapshot) -> Side<'a> {
        Side {
            snap,
            narrow_len: snap.len() - snap.wide_len(),
            wide: snap.wide_serials(),
            cursor: NarrowCursor::default(),
            last: None,
        }
    }

    fn len(&self, wide: bool) -> usize {
        if wide { self.wide.len() } else { self.narrow_len }
    }

    fn narrow(&mut self, i: usize) -> Option<u64> {
        if let Some((at, v)) = self.last
            && at == i
        {
            return Some(v);
        }
        let v = self.snap.narrow_serial_seq(i, &mut self.cursor)?;
        self.last = Some((i, v));
        Some(v)
    }

    fn cmp(&mut self, i: usize, other: &mut Side<'_>, j: usize, wide: bool) -> Option<Ordering> {
        if wide {
            Some(self.wide.get(i)?.cmp(other.wide.get(j)?))
        } else {
            Some(self.narrow(i)?.cmp(&other.narrow(j)?))
        }
    }

    fn entry(&mut self, i: usize, wide: bool) -> Option<Entry> {
        let serial = if wide {
            Serial::from_magnitude(self.wide.get(i)?).ok()?
        } else {
            Serial::from_u64(self.narrow(i)?)
        };
        let p = self.snap.payload(wide, i)?;
        Some(Entry {
            serial,
            revoked_at: p.revoked_at,
            reason: p.reason,
            partition: p.partition,
        })
    }
}

/// Iterator returned by [`changes`].
pub struct Changes<'a> {
    old: Option<Side<'a>>,
    new: Side<'a>,
    i: usize,
    j: usize,
    wide: bool,
}

impl std::fmt::Debug for Changes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("old_at", &self.i)
            .field("new_at", &self.j)
            .field("wide", &self.wide)
            .finish()
    }
}

impl Iterator for Changes<'_> {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        loop {
            let wide = self.wide;
            let old_len = self.old.as_ref().map_or(0, |o| o.len(wide));
            let new_len = self.new.len(wide);
            let (i, j) = (self.i, self.j);
            if i >= old_len && j >= new_len {
                if wide {
                    return None;
                }
                self.wide = true;
                self.i = 0;
                self.j = 0;
                continue;
            }
            let ord = match &mut self.old {
                _ if i >= old_len => Ordering::Greater,
                _ if j >= new_len => Ordering::Less,
                Some(old) => old.cmp(i, &mut self.new, j, wide)?,
                None => Ordering::Greater,
            };
            match ord {
                Ordering::Less => {
                    self.i += 1;
                    if let Some(e) = self.old.as_mut().and_then(|o| o.entry(i, wide)) {
                        return Some(Change::Removed(e));
                    }
                }
                Ordering::Greater => {
                    self.j += 1;
                    if let Some(e) = self.new.entry(j, wide) {
                        return Some(Change::Added(e));
                    }
                }
                Ordering::Equal => {
                    self.i += 1;
                    self.j += 1;
                    let old = self.old.as_mut()?;
                    let (pa, pb) = (old.snap.payload(wide, i), self.new.snap.payload(wide, j));
                    if let (Some(a), Some(b)) = (pa, pb)
                        && (a.revoked_at != b.revoked_at || a.reason != b.reason)
                        && let (Some(old), Some(new)) = (old.entry(i, wide), self.new.entry(j, wide))
                    {
                        return Some(Change::Changed { old, new });
                    }
                }
            }
        }
    }
}
