//! A scripted HTTP/1.1 server on loopback for testing clients against bad upstreams: it answers each
//! connection with the next scripted [`Reply`] (a status, a body, a 304 to a matching validator, a
//! truncated body, a stall), and records the requests it saw.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with a body, an ETag and a Last-Modified; answers 304 when the request's
    /// `If-None-Match` equals the ETag.
    Ok {
        body: Vec<u8>,
        etag: String,
        last_modified: String,
    },
    /// A bare status code with a short text body.
    Status(u16),
    /// Announces `Content-Length: announced` but sends only `body` and closes.
    Truncated { body: Vec<u8>, announced: usize },
    /// Accepts and reads the request, then says nothing for this long.
    Stall(Duration),
}

/// What the server saw of one request.
#[derive(Clone, Debug, Default)]
pub struct SeenRequest {
    /// Request line, e.g. `GET /crl/a.crl HTTP/1.1`.
    pub line: String,
    /// Header lines, lowercased names.
    pub headers: Vec<(String, String)>,
    /// The body (at most 1 MiB, as announced by `Content-Length`).
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The first value of a header, by lowercased name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The server; stops accepting when dropped (its thread ends at the next connection or script end).
#[derive(Debug)]
pub struct ScriptedServer {
    port: u16,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    _thread: JoinHandle<()>,
}

impl ScriptedServer {
    /// Starts serving `script`, one reply per connection; after the script the last reply repeats.
    pub fn start(script: Vec<Reply>) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        let thread = std::thread::spawn(move || {
            let mut i = 0usize;
            // Bounded: at most 64 connections per server.
            for stream in listener.incoming().take(64) {
                let Ok(stream) = stream else { continue };
                let reply = script.get(i).or(script.last()).cloned();
                i += 1;
                let Some(reply) = reply else { return };
                let seen3 = Arc::clone(&seen2);
                std::thread::spawn(move || serve_one(stream, reply, &seen3));
            }
        });
        ScriptedServer {
            port,
            seen,
            _thread: thread,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve_one(stream: TcpStream, reply: Reply, seen: &Mutex<Vec<SeenRequest>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut req = SeenRequest::default();
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    req.line = line.trim_end().to_owned();
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().to_owned();
            if k == "content-length" {
                content_length = v.parse().unwrap_or(0);
            }
            req.headers.push((k, v));
        }
    }
    if content_length > 0 {
        let mut body = vec![0u8; content_length.min(1 << 20)];
        if reader.read_exact(&mut body).is_ok() {
            req.body = body;
        }
    }
    let if_none_match = req
        .headers
        .iter()
        .find(|(k, _)| k == "if-none-match")
        .map(|(_, v)| v.clone());
    if let Ok(mut s) = seen.lock() {
        s.push(req);
    }
    let mut out = stream;
    let _ = match reply {
        Reply::Ok {
            body,
            etag,
            last_modified,
        } => {
            if if_none_match.as_deref() == Some(etag.as_str()) {
                write!(
                    out,
                    "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                )
            } else {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nETag: {etag}\r\nLast-Modified: {last_modified}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
            }
        }
        Reply::Status(code) => write!(
            out,
            "HTTP/1.1 {code} Scripted\r\nContent-Length: 8\r\nConnection: close\r\n\r\nscripted"
        ),
        Reply::Truncated { body, announced } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n");
            out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
        }
        Reply::Stall(d) => {
            std::thread::sleep(d);
            Ok(())
        }
    };
    let _ = out.flush();
}
