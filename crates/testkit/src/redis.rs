//! A real `redis-server` for tests: its own port, its own directory, stopped on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net::{free_port, wait_for_port};

/// A `redis-server` process on a free loopback port, with AOF on in a temporary directory.
///
/// `make test` installs Debian's `redis-server` when missing; a test that needs Redis fails with a
/// clear message if it is still absent, rather than silently skipping.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server and waits until it answers PING.
    pub fn start() -> RedisServer {
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir for redis");
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .args(["--appendonly", "yes", "--dir"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "redis-server not found: run `make test` (installs it) or `apt-get install redis-server`",
                );
            let mut server = RedisServer {
                child: Some(child),
                port,
                dir,
            };
            if wait_for_port(port, Duration::from_secs(10)) && server.ping() {
                return server;
            }
            server.stop();
        }
        panic!("redis-server did not start on a free port after 5 attempts");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its data directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Sends PING over RESP and expects +PONG.
    pub fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Stops the server (SIGKILL), e.g. to test behaviour with Redis down. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and directory (the AOF brings the data back).
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("restart redis-server");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(10)) && self.ping(),
            "redis restart"
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_pings_stops_and_restarts() {
        let mut r = RedisServer::start();
        assert!(r.ping());
        r.stop();
        assert!(!r.ping());
        r.restart();
        assert!(r.ping());
    }
}
