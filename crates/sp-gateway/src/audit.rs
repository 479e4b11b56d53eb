//! The audit log (動作記録): append-only JSON lines, each carrying `prev`, the SHA-256 (hex) of the
//! previous line's bytes (64 zeros for the first line), and `seq`, counting from 0. Removing,
//! inserting, reordering or editing a line breaks the chain at that point; `sp-gateway audit verify
//! FILE` finds it.
//!
//! Records carry ids, serials, verdicts, reason codes and counts: **never 4 info**. As a last line
//! of defence the writer drops any field named like a 4-info item.
//!
//! One writer thread owns the file: handlers send records over a channel and never block on disk.
//! The thread writes whatever is queued, flushes when the queue is empty, fsyncs at most every
//! second, and on [`AuditLog::close`] drains, flushes and fsyncs before returning (graceful
//! shutdown). A reopened file continues its chain.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Field names that would be 4 info; never written.
const FORBIDDEN: [&str; 8] = [
    "basic_info",
    "name",
    "address",
    "date_of_birth",
    "sex",
    "name_substitutes",
    "address_substitutes",
    "subject",
];

enum Msg {
    Record(Map<String, Value>),
    Close(Sender<()>),
}

/// The audit log handle; cheap to share.
#[derive(Debug)]
pub struct AuditLog {
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    healthy: Arc<AtomicBool>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

/// The state a chain continues from.
fn tail_of(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, ZERO.to_owned())),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(1 << 20);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok((0, ZERO.to_owned()));
    };
    let seq = serde_json::from_str::<Value>(last)
        .ok()
        .and_then(|v| v.get("seq").and_then(Value::as_u64))
        .ok_or_else(|| std::io::Error::other("the last audit line has no seq: run `audit verify`"))?;
    Ok((seq + 1, hex::encode(verifier::sha256(last.as_bytes()))))
}

impl AuditLog {
    /// Opens (or creates) the log at `path` and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let (seq, prev) = tail_of(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let h = Arc::clone(&healthy);
        let p = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer(file, p, rx, seq, prev, &h))?;
        Ok(AuditLog {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            healthy,
        })
    }

    /// Appends a record: `event`, the SP, and `fields` (an object; other values are wrapped).
    pub fn record(&self, event: &str, sp: Option<&str>, fields: Value) {
        let mut m = Map::new();
        m.insert("event".into(), Value::from(event));
        if let Some(sp) = sp {
            m.insert("sp".into(), Value::from(sp));
        }
        match fields {
            Value::Object(o) => {
                for (k, v) in o {
                    if !FORBIDDEN.contains(&k.as_str()) {
                        m.insert(k, v);
                    }
                }
            }
            Value::Null => {}
            other => {
                m.insert("detail".into(), other);
            }
        }
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let sent = tx.as_ref().is_some_and(|t| t.send(Msg::Record(m)).is_ok());
        if !sent {
            self.healthy.store(false, Ordering::Relaxed);
            tracing::error!(event, "audit record dropped: the log is closed");
        }
    }

    /// False once a write failed (readiness turns false).
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Drains the queue, flushes, fsyncs and stops the writer. Idempotent.
    pub fn close(&self) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = tx {
            let (ack_tx, ack_rx) = mpsc::channel();
            if tx.send(Msg::Close(ack_tx)).is_ok() {
                let _ = ack_rx.recv_timeout(Duration::from_secs(30));
            }
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer(
    file: File,
    path: PathBuf,
    rx: Receiver<Msg>,
    mut seq: u64,
    mut prev: String,
    healthy: &AtomicBool,
) {
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let (mut ts_second, mut ts) = (i64::MIN, String::new());
    let fail = |e: std::io::Error| {
        healthy.store(false, Ordering::Relaxed);
        tracing::error!(path = %path.display(), error = %e, "audit log write failed");
    };
    loop {
        let msg = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut next = msg;
        while let Some(m) = next.take() {
            match m {
                Msg::Record(fields) => {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    if now != ts_second {
                        ts_second = now;
                        ts = pf_server::clock::rfc3339(now);
                    }
                    // The record's own fields, serialised once, between seq/ts and prev.
                    let body = Value::Object(fields).to_string();
                    let inner = body
                        .strip_prefix('{')
                        .and_then(|b| b.strip_suffix('}'))
                        .unwrap_or("");
                    let sep = if inner.is_empty() { "" } else { "," };
                    let text = format!("{{\"seq\":{seq},\"ts\":\"{ts}\"{sep}{inner},\"prev\":\"{prev}\"}}");
                    match out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n")) {
                        Ok(()) => {
                            prev = hex::encode(verifier::sha256(text.as_bytes()));
                            seq += 1;
                            dirty = true;
                        }
                        Err(e) => fail(e),
                    }
                }
                Msg::Close(ack) => {
                    if let Err(e) = out.flush().and_then(|()| out.get_ref().sync_data()) {
                        fail(e);
                    }
                    let _ = ack.send(());
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if dirty {
            if let Err(e) = out.flush() {
                fail(e);
            }
            // Let records gather: one write and one wake-up per few milliseconds under load,
            // rather than one per request.
            std::thread::sleep(Duration::from_millis(2));
            if last_sync.elapsed() >= Duration::from_secs(1) {
                if let Err(e) = out.get_ref().sync_data() {
                    fail(e);
                }
                last_sync = Instant::now();
                dirty = false;
            }
        }
    }
    let _ = out.flush().and_then(|()| out.get_ref().sync_data());
}

/// The result of checking a log.
#[derive(Debug, serde::Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Whether the whole chain holds.
    pub ok: bool,
    /// Lines checked.
    pub lines: u64,
    /// The first line (1-based) where the chain breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at_line: Option<u64>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SHA-256 of the last line: anchor it elsewhere to detect truncation.
    pub head: String,
}

/// Checks the chain of the log at `path`.
pub fn verify(path: &Path) -> std::io::Result<VerifyReport> {
    let reader = BufReader::new(File::open(path)?);
    let mut prev = ZERO.to_owned();
    let mut n = 0u64;
    let broken = |n: u64, prev: &str, why: String| VerifyReport {
        ok: false,
        lines: n,
        broken_at_line: Some(n),
        error: Some(why),
        head: prev.to_owned(),
    };
    for line in reader.split(b'\n') {
        let line = line?;
        n += 1;
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            return Ok(broken(n, &prev, "not a JSON object".into()));
        };
        if v.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Ok(broken(
                n,
                &prev,
                "prev is not the SHA-256 of the previous line".into(),
            ));
        }
        if v.get("seq").and_then(Value::as_u64) != Some(n - 1) {
            return Ok(broken(n, &prev, format!("seq is not {}", n - 1)));
        }
        prev = hex::encode(verifier::sha256(&line));
    }
    Ok(VerifyReport {
        ok: true,
        lines: n,
        broken_at_line: None,
        error: None,
        head: prev,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    #[test]
    fn chain_survives_reopen_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/audit.jsonl");
        let log = AuditLog::open(&p).unwrap();
        log.record(
            "verification",
            Some("bank-a"),
            json!({"id": "vf_1", "basic_info": {"name": "x"}}),
        );
        log.record("login", Some("bank-a"), json!({"verdict": "valid"}));
        log.close();
        let log = AuditLog::open(&p).unwrap();
        log.record("status_check", Some("bank-b"), json!({"items": 3}));
        log.close();
        let r = verify(&p).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.lines, 3);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(!text.contains("basic_info"));
        // Edit a line.
        let edited = text.replacen("\"valid\"", "\"invalid\"", 1);
        std::fs::write(&p, &edited).unwrap();
        let r = verify(&p).unwrap();
        assert_eq!(r.broken_at_line, Some(3));
        // Drop a line.
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&p, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert_eq!(verify(&p).unwrap().broken_at_line, Some(2));
    }
}
