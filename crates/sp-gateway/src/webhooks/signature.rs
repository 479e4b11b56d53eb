//! The webhook signature: `JPKI-PF-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "t.body">`
//! under the SP's webhook secret (OpenSSL's HMAC). `t` is the time of the attempt, so a receiver
//! can refuse old replays; the body and the event id stay the same across attempts.

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "JPKI-PF-Signature";
/// The event id header (the same as the body's `id`; stable across retries).
pub const EVENT_ID_HEADER: &str = "JPKI-PF-Event-Id";
/// The attempt number header (1 for the first attempt).
pub const ATTEMPT_HEADER: &str = "JPKI-PF-Delivery-Attempt";

/// HMAC-SHA-256 of `"{t}.{body}"`, hex.
pub fn mac_hex(secret: &[u8], t: i64, body: &[u8]) -> Result<String, ErrorStack> {
    let key = PKey::hmac(secret)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(t.to_string().as_bytes())?;
    signer.update(b".")?;
    signer.update(body)?;
    Ok(hex::encode(signer.sign_to_vec()?))
}

/// The header value for an attempt at unix time `t`.
pub fn header_value(secret: &[u8], t: i64, body: &[u8]) -> Result<String, ErrorStack> {
    Ok(format!("t={t},v1={}", mac_hex(secret, t, body)?))
}

/// Checks a header value the way an SP should: `t` within `tolerance_secs` of `now`, and one of
/// its `v1` values equal (in constant time) to the HMAC of `"t.body"`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',').take(16) {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if now.abs_diff(t) > tolerance_secs.unsigned_abs() {
        return false;
    }
    let Ok(want) = mac_hex(secret, t, body) else {
        return false;
    };
    sigs.iter()
        .any(|s| s.len() == want.len() && openssl::memcmp::eq(s.as_bytes(), want.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let secret = b"whsec_0123456789abcdef0123456789abcdef";
        let body = br#"{"id":"evt_1"}"#;
        let h = header_value(secret, 1_700_000_000, body).unwrap();
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify(secret, &h, body, 1_700_000_100, 300));
        assert!(!verify(secret, &h, body, 1_700_001_000, 300), "too old");
        assert!(!verify(b"another secret", &h, body, 1_700_000_000, 300));
        assert!(!verify(secret, &h, br#"{"id":"evt_2"}"#, 1_700_000_000, 300));
        assert!(!verify(secret, "v1=00", body, 1_700_000_000, 300));
        // The same HMAC as the openssl CLI would print for "t.body".
        let pkey = PKey::hmac(secret).unwrap();
        let mut s = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
        s.update(b"1700000000.{\"id\":\"evt_1\"}").unwrap();
        assert_eq!(
            h.split("v1=").nth(1).unwrap(),
            hex::encode(s.sign_to_vec().unwrap())
        );
    }
}
