//! Secrets come from files named in the configuration (mounted from a secret store), never from
//! the configuration itself, and are never printed: [`Secret`]'s `Debug` shows only the length.

use std::path::Path;

/// Secret bytes read from a file. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Reads a secret file, trimming trailing line ends (editors add one).
    pub fn read(path: &Path) -> std::io::Result<Secret> {
        read_secret(path).map(Secret)
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the file was empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Reads a secret file, trimming trailing line ends.
pub fn read_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = std::fs::read(path)?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
}

/// Parses 64 hex digits (a SHA-256 as configuration writes it: API key hashes, certificate pins).
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_are_trimmed_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, b"hunter2-hunter2\r\n\n").unwrap();
        let s = Secret::read(&p).unwrap();
        assert_eq!(s.expose(), b"hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "Secret(15 bytes)");
        assert!(Secret::read(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn sha256_pins() {
        assert_eq!(parse_sha256(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_sha256("ab"), None);
        assert_eq!(parse_sha256(&"zz".repeat(32)), None);
    }
}
