//! A large CRL file ingested in one pass, never held whole.
//!
//! [`StreamSource::open`] reads the file's first chunk and its tail (everything after the
//! revoked entries: crlExtensions, the algorithm and the signature) and finds where its parts are
//! (`crate::parse::skeleton`). [`StreamSource::stream`] then reads the file once from the start
//! in 1 MiB chunks into a few reused buffers: the main thread walks the entries of each chunk
//! into the caller's visitor while two other threads hash the chunks, one the whole file
//! (SHA-256, the snapshot's source hash) and one the tbsCertList (the signature's digest). The
//! bytes before and after the entries must be the ones `open` read, and the file must end where
//! it ended then; otherwise the file changed while it was read and nothing is used.
//!
//! Memory stays at a few megabytes beyond what the visitor keeps, instead of the whole file.
//! Nothing read here is trusted until the caller has checked the signature against the digest.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use openssl::hash::{Hasher, MessageDigest};

use crate::error::CrlError;
use crate::parse::skeleton::{Layout, layout, skeleton};
use crate::parse::{EntryStream, RevokedVisitor, WalkStats};

/// Read size, and the size of the first read that must hold the CRL's header fields.
const CHUNK: usize = 1 << 20;
/// Buffers in flight between the reader and the two hashing threads (16 MiB). The hashing keeps
/// pace with the walk on two cores; more buffers measured no faster and only raised the RSS.
const BUFFERS: usize = 16;

/// Why a stream stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading the file failed, or it changed while it was read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The entries are malformed (or the visitor refused one).
    #[error(transparent)]
    Crl(#[from] CrlError),
}

/// A DER CRL file with the shape that can be streamed.
#[derive(Debug)]
pub struct StreamSource {
    file: File,
    layout: Layout,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// What one pass over the file produced besides the visitor's entries.
#[derive(Debug)]
pub struct Streamed {
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// The tbsCertList's digest under the hash given to [`StreamSource::stream`].
    pub tbs_digest: Vec<u8>,
    /// What the walk saw.
    pub stats: WalkStats,
}

fn changed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "file changed while it was read")
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while let Some(dst) = buf.get_mut(filled..).filter(|d| !d.is_empty()) {
        match file.read(dst) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl StreamSource {
    /// Opens `path`; `Ok(None)` when the file is not a streamable DER CRL of at most `max` bytes
    /// (PEM, small, damaged, oversize, ...): the caller then reads it whole, and the general
    /// reader accepts it or says precisely what is wrong.
    pub fn open(path: &Path, max: usize) -> std::io::Result<Option<StreamSource>> {
        let mut file = File::open(path)?;
        let Ok(len) = usize::try_from(file.metadata()?.len()) else {
            return Ok(None);
        };
        if len > max || len <= CHUNK {
            return Ok(None);
        }
        let mut head = vec![0u8; CHUNK];
        let n = fill(&mut file, &mut head)?;
        head.truncate(n);
        let Some(layout) = layout(&head, len) else {
            return Ok(None);
        };
        let mut tail = vec![0u8; len - layout.revoked_end];
        file.read_exact_at(&mut tail, layout.revoked_end as u64)?;
        head.truncate(layout.revoked_start);
        Ok(Some(StreamSource {
            file,
            layout,
            head,
            tail,
        }))
    }

    /// The CRL without its entries, for [`crate::parse::parse_crl`].
    pub fn skeleton(&self) -> Option<Vec<u8>> {
        skeleton(&self.layout, &self.head, &self.tail)
    }

    /// File offset of the first entry.
    pub fn revoked_offset(&self) -> usize {
        self.layout.revoked_start
    }

    /// Length of the entries' part of the file.
    pub fn revoked_len(&self) -> usize {
        self.layout.revoked_end - self.layout.revoked_start
    }

    /// Reads the file once: entries to `visitor`, the hashes on two other threads.
    pub fn stream<V: RevokedVisitor + ?Sized>(
        self,
        tbs_hash: MessageDigest,
        visitor: &mut V,
    ) -> Result<Streamed, StreamError> {
        self.stream_then(tbs_hash, visitor, |_| ()).map(|(s, ())| s)
    }

    /// [`StreamSource::stream`], and `then` runs with the visitor once every entry was walked,
    /// while the hashing threads may still be at work (on a two-core machine the walk ends first):
    /// the caller can write its index meanwhile. Nothing is verified yet when `then` runs, so
    /// what it makes must stay provisional until the digests have been checked.
    pub fn stream_then<V: RevokedVisitor + ?Sized, T>(
        mut self,
        tbs_hash: MessageDigest,
        visitor: &mut V,
        then: impl FnOnce(&mut V) -> T,
    ) -> Result<(Streamed, T), StreamError> {
        let l = self.layout;
        self.file.seek(SeekFrom::Start(0))?;
        let (to_file_hash, file_rx) = mpsc::sync_channel::<(usize, Arc<Vec<u8>>)>(BUFFERS);
        let (to_tbs_hash, tbs_rx) = mpsc::sync_channel::<(usize, Arc<Vec<u8>>)>(BUFFERS);
        let (give_back, returned) = mpsc::channel::<Arc<Vec<u8>>>();
        let give_back_2 = give_back.clone();
        std::thread::scope(|s| {
            let file_hash = s.spawn(move || {
                let mut h = openssl::sha::Sha256::new();
                for (_, chunk) in file_rx {
                    h.update(&chunk);
                    let _ = give_back.send(chunk);
                }
                h.finish()
            });
            let tbs = s.spawn(move || -> Result<Vec<u8>, CrlError> {
                let mut h = Hasher::new(tbs_hash)?;
                for (at, chunk) in tbs_rx {
                    let from = l.tbs_start.saturating_sub(at).min(chunk.len());
                    let to = l.tbs_end.saturating_sub(at).min(chunk.len());
                    if let Some(part) = chunk.get(from..to) {
                        h.update(part)?;
                    }
                    let _ = give_back_2.send(chunk);
                }
                Ok(h.finish()?.to_vec())
            });
            let walked = self.read_all(visitor, &to_file_hash, &to_tbs_hash, &returned);
            drop(to_file_hash);
            drop(to_tbs_hash);
            let then = walked.as_ref().ok().map(|_| then(visitor));
            let sha = file_hash.join();
            let tbs = tbs.join();
            let stats = walked?;
            let sha256 = sha.map_err(|_| std::io::Error::other("the hashing thread panicked"))?;
            let tbs_digest = tbs.map_err(|_| std::io::Error::other("the hashing thread panicked"))??;
            let streamed = Streamed {
                sha256,
                tbs_digest,
                stats,
            };
            then.map(|t| (streamed, t))
                .ok_or_else(|| std::io::Error::other("the walk failed").into())
        })
    }

    fn read_all<V: RevokedVisitor + ?Sized>(
        &mut self,
        visitor: &mut V,
        to_file_hash: &mpsc::SyncSender<(usize, Arc<Vec<u8>>)>,
        to_tbs_hash: &mpsc::SyncSender<(usize, Arc<Vec<u8>>)>,
        returned: &mpsc::Receiver<Arc<Vec<u8>>>,
    ) -> Result<WalkStats, StreamError> {
        let l = self.layout;
        let mut entries = EntryStream::default();
        let mut pool: Vec<Vec<u8>> = Vec::new();
        let mut made = 0usize;
        let mut at = 0usize;
        loop {
            // A free buffer: one given back by both hashers, a new one, or wait for one.
            while let Ok(arc) = returned.try_recv() {
                if let Ok(v) = Arc::try_unwrap(arc) {
                    pool.push(v);
                }
            }
            let mut buf = match pool.pop() {
                Some(b) => b,
                None if made < BUFFERS => {
                    made += 1;
                    vec![0u8; CHUNK]
                }
                None => loop {
                    let arc = returned
                        .recv()
                        .map_err(|_| std::io::Error::other("hashing stopped"))?;
                    if let Ok(v) = Arc::try_unwrap(arc) {
                        break v;
                    }
                },
            };
            buf.resize(CHUNK, 0);
            let n = fill(&mut self.file, &mut buf)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            let end = at + n;
            if end > l.file_len {
                return Err(changed().into());
            }
            // The parts `open` read must not have changed.
            let same = |kept: &[u8], from: usize| {
                let lo = at.max(from);
                let hi = end.min(from + kept.len());
                lo >= hi || buf.get(lo - at..hi - at) == kept.get(lo - from..hi - from)
            };
            if !same(&self.head, 0) || !same(&self.tail, l.revoked_end) {
                return Err(changed().into());
            }
            let lo = at.max(l.revoked_start);
            let hi = end.min(l.revoked_end);
            if let Some(part) = buf
                .get(lo.saturating_sub(at)..hi.saturating_sub(at))
                .filter(|_| lo < hi)
            {
                entries.feed(part, lo, visitor)?;
            }
            let chunk = Arc::new(buf);
            let stopped = || std::io::Error::other("hashing stopped");
            to_file_hash
                .send((at, Arc::clone(&chunk)))
                .map_err(|_| stopped())?;
            to_tbs_hash.send((at, chunk)).map_err(|_| stopped())?;
            at = end;
        }
        if at != l.file_len || fill(&mut self.file, &mut [0u8; 1])? != 0 {
            return Err(changed().into());
        }
        Ok(entries.finish(visitor)?)
    }
}
