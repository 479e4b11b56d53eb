//! Random bytes for ids and nonces, from OpenSSL's DRBG in blocks.
//!
//! Every `RAND_bytes` call takes the DRBG's lock and re-keys its AES-CTR state; a KYC request
//! needs 24 bytes in two pieces (the verification id, a user id), and under load those two calls
//! cost more than the bytes. Each thread instead draws [`BLOCK`] bytes at a time and hands each
//! byte out once; the bytes are the DRBG's, nothing is derived or reused. (The gateway does not
//! fork, so no two processes can share a block.)

use std::cell::RefCell;

/// Bytes drawn from OpenSSL per refill.
pub const BLOCK: usize = 4096;

struct Pool {
    buf: Box<[u8; BLOCK]>,
    /// Bytes before `used` have been handed out.
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool { buf: Box::new([0; BLOCK]), used: BLOCK });
}

/// Fills `out` with random bytes. Requests larger than [`BLOCK`] go to OpenSSL directly.
pub fn fill(out: &mut [u8]) -> Result<(), openssl::error::ErrorStack> {
    if out.len() > BLOCK {
        return openssl::rand::rand_bytes(out);
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if BLOCK - p.used < out.len() {
            openssl::rand::rand_bytes(p.buf.as_mut_slice())?;
            p.used = 0;
        }
        let start = p.used;
        let end = start + out.len();
        out.copy_from_slice(p.buf.get(start..end).unwrap_or_default());
        // Handed out once: wipe them so they do not linger.
        p.buf.get_mut(start..end).unwrap_or_default().fill(0);
        p.used = end;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_never_handed_out_twice_across_refills() {
        // 16-byte draws across several blocks: all distinct (a repeat of 128 random bits means
        // a byte was reused), and not all zero.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * BLOCK / 16 + 7) {
            let mut b = [0u8; 16];
            fill(&mut b).unwrap();
            assert_ne!(b, [0u8; 16]);
            assert!(seen.insert(b), "a draw repeated");
        }
        // Odd sizes straddling the end of a block, and one larger than a block.
        for n in [1usize, 7, 33, 4095, 4096, 4097, 10_000] {
            let mut b = vec![0u8; n];
            fill(&mut b).unwrap();
            if n >= 16 {
                assert!(b.iter().any(|&x| x != 0), "{n}");
            }
        }
    }
}
