//! Size limits, checked on every input before any parsing.

use crate::error::Failure;

/// Upper bounds on input sizes, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A DER certificate.
    pub max_certificate: usize,
    /// A raw signature.
    pub max_signature: usize,
    /// Signed data (raw or CMS content).
    pub max_data: usize,
    /// A DER CMS ContentInfo.
    pub max_cms: usize,
    /// Certificates embedded in one CMS.
    pub max_cms_certificates: usize,
    /// Judged end-entity certificates cached per verifier (0 disables the cache).
    pub cert_cache_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_certificate: 16 * 1024,
            max_signature: 1024,
            max_data: 64 * 1024 * 1024,
            max_cms: 64 * 1024 * 1024 + 256 * 1024,
            max_cms_certificates: 16,
            cert_cache_entries: crate::chain::CHAIN_CACHE_CAPACITY,
        }
    }
}

/// `MALFORMED_INPUT` unless `len <= max`.
pub(crate) fn check(what: &str, len: usize, max: usize) -> Result<(), Failure> {
    if len > max {
        return Err(Failure::malformed(format!(
            "{what} is {len} bytes, over the limit of {max}"
        )));
    }
    if len == 0 {
        return Err(Failure::malformed(format!("{what} is empty")));
    }
    Ok(())
}

/// `MALFORMED_INPUT` unless `len <= max` (empty allowed).
pub(crate) fn check_max(what: &str, len: usize, max: usize) -> Result<(), Failure> {
    if len > max {
        return Err(Failure::malformed(format!(
            "{what} is {len} bytes, over the limit of {max}"
        )));
    }
    Ok(())
}
