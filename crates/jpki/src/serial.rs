//! Certificate serial numbers (RFC 5280 §4.1.2.2).

use std::cmp::Ordering;
use std::fmt;

use crate::error::SerialError;

/// Maximum magnitude of a serial number, in octets (RFC 5280 §4.1.2.2).
pub const MAX_SERIAL_OCTETS: usize = 20;

/// A non-negative certificate serial number of at most 20 octets.
///
/// Serials that fit in 8 octets (all JPKI serials seen so far) are held inline as a `u64`; longer
/// ones keep their big-endian magnitude. The representation is canonical (a value that fits in a
/// `u64` is always `Small`), so derived equality and hashing agree with numeric equality, and
/// [`Ord`] is numeric order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Serial(Repr);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Repr {
    Small(u64),
    /// Big-endian magnitude without leading zeros, right-aligned in the array; `len` in 9..=20.
    Wide {
        len: u8,
        bytes: [u8; MAX_SERIAL_OCTETS],
    },
}

impl Serial {
    /// A serial from a `u64`.
    pub const fn from_u64(value: u64) -> Serial {
        Serial(Repr::Small(value))
    }

    /// The value as a `u64` when it fits in 8 octets.
    #[inline]
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            Repr::Small(v) => Some(v),
            Repr::Wide { .. } => None,
        }
    }

    /// A serial from its unsigned big-endian magnitude (leading zeros allowed).
    pub fn from_magnitude(bytes: &[u8]) -> Result<Serial, SerialError> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let mag = bytes.get(start..).unwrap_or_default();
        if mag.len() > MAX_SERIAL_OCTETS {
            return Err(SerialError::TooLong { octets: mag.len() });
        }
        if mag.len() <= 8 {
            let mut buf = [0u8; 8];
            let off = 8 - mag.len();
            if let Some(dst) = buf.get_mut(off..) {
                dst.copy_from_slice(mag);
            }
            return Ok(Serial(Repr::Small(u64::from_be_bytes(buf))));
        }
        let mut out = [0u8; MAX_SERIAL_OCTETS];
        let off = MAX_SERIAL_OCTETS - mag.len();
        if let Some(dst) = out.get_mut(off..) {
            dst.copy_from_slice(mag);
        }
        Ok(Serial(Repr::Wide {
            len: mag.len() as u8,
            bytes: out,
        }))
    }

    /// A serial from the content octets of a DER INTEGER (two's complement, minimal).
    ///
    /// Negative and non-minimal encodings are rejected; so is an empty INTEGER.
    pub fn from_der_content(content: &[u8]) -> Result<Serial, SerialError> {
        match content {
            [] => Err(SerialError::Empty),
            [first, ..] if first & 0x80 != 0 => Err(SerialError::Negative),
            [0, second, ..] if second & 0x80 == 0 => Err(SerialError::NonMinimal),
            _ => Serial::from_magnitude(content),
        }
    }

    /// Parses hex as OpenSSL prints it (`0A1B2C`, `0a:1b:2c`, with or without `0x`).
    pub fn from_hex(text: &str) -> Result<Serial, SerialError> {
        let t = text.trim();
        let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
        let digits: Vec<u8> = t.bytes().filter(|b| *b != b':').collect();
        if digits.is_empty() {
            return Err(SerialError::Empty);
        }
        if digits.len() > 2 * (MAX_SERIAL_OCTETS + 1) {
            return Err(SerialError::TooLong {
                octets: digits.len().div_ceil(2),
            });
        }
        let mut nibbles = Vec::with_capacity(digits.len() + 1);
        if digits.len() % 2 == 1 {
            nibbles.push(0u8);
        }
        for (i, d) in digits.iter().enumerate() {
            let v = (*d as char)
                .to_digit(16)
                .ok_or(SerialError::NotHex { position: i })?;
            nibbles.push(v as u8);
        }
        let bytes: Vec<u8> = nibbles
            .chunks(2)
            .map(|p| p.iter().fold(0u8, |acc, n| (acc << 4) | n))
            .collect();
        Serial::from_magnitude(&bytes)
    }

    /// The big-endian magnitude without leading zeros (`[]` for zero).
    pub fn magnitude(&self) -> Vec<u8> {
        match &self.0 {
            Repr::Small(v) => {
                let b = v.to_be_bytes();
                let start = b.iter().position(|x| *x != 0).unwrap_or(8);
                b.get(start..).unwrap_or_default().to_vec()
            }
            Repr::Wide { len, bytes } => bytes
                .get(MAX_SERIAL_OCTETS - usize::from(*len)..)
                .unwrap_or_default()
                .to_vec(),
        }
    }

    /// The content octets of the DER INTEGER encoding this serial.
    pub fn to_der_content(&self) -> Vec<u8> {
        let mag = self.magnitude();
        match mag.first() {
            None => vec![0],
            Some(b) if b & 0x80 != 0 => {
                let mut v = Vec::with_capacity(mag.len() + 1);
                v.push(0);
                v.extend_from_slice(&mag);
                v
            }
            Some(_) => mag,
        }
    }

    /// Number of octets in the magnitude (0 for zero).
    pub fn octets(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => (64 - v.leading_zeros() as usize).div_ceil(8),
            Repr::Wide { len, .. } => usize::from(*len),
        }
    }

    /// Uppercase hex of the magnitude with an even number of digits, as `openssl x509 -serial` prints it.
    pub fn to_hex(&self) -> String {
        let mag = self.magnitude();
        if mag.is_empty() {
            return "00".to_owned();
        }
        mag.iter().map(|b| format!("{b:02X}")).collect()
    }
}

impl Ord for Serial {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => a.cmp(b),
            (Repr::Small(_), Repr::Wide { .. }) => Ordering::Less,
            (Repr::Wide { .. }, Repr::Small(_)) => Ordering::Greater,
            (Repr::Wide { len: la, bytes: a }, Repr::Wide { len: lb, bytes: b }) => {
                la.cmp(lb).then_with(|| a.cmp(b))
            }
        }
    }
}

impl PartialOrd for Serial {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl std::str::FromStr for Serial {
    type Err = SerialError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Serial::from_hex(s)
    }
}

impl serde::Serialize for Serial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Serial {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Serial::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_and_wide() {
        let s = Serial::from_hex("1A2B3C4D").unwrap();
        assert_eq!(s.as_u64(), Some(0x1A2B3C4D));
        assert_eq!(s.to_hex(), "1A2B3C4D");
        assert_eq!(s.to_der_content(), vec![0x1A, 0x2B, 0x3C, 0x4D]);
        let w = Serial::from_hex("01:02:03:04:05:06:07:08:09").unwrap();
        assert_eq!(w.as_u64(), None);
        assert_eq!(w.octets(), 9);
        assert!(w > Serial::from_u64(u64::MAX));
        assert_eq!(
            Serial::from_der_content(&[0x00, 0x80]).unwrap().as_u64(),
            Some(0x80)
        );
        assert_eq!(Serial::from_u64(0x80).to_der_content(), vec![0, 0x80]);
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(Serial::from_der_content(&[]), Err(SerialError::Empty));
        assert_eq!(Serial::from_der_content(&[0xFF]), Err(SerialError::Negative));
        assert_eq!(Serial::from_der_content(&[0, 1]), Err(SerialError::NonMinimal));
        assert!(matches!(
            Serial::from_magnitude(&[1; 21]),
            Err(SerialError::TooLong { .. })
        ));
        assert!(matches!(
            Serial::from_hex("12G4"),
            Err(SerialError::NotHex { position: 2 })
        ));
        assert_eq!(Serial::from_hex(""), Err(SerialError::Empty));
    }

    proptest! {
        #[test]
        fn magnitude_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..=20)) {
            let s = Serial::from_magnitude(&bytes).unwrap();
            let again = Serial::from_magnitude(&s.magnitude()).unwrap();
            prop_assert_eq!(s, again);
            prop_assert_eq!(Serial::from_der_content(&s.to_der_content()).unwrap(), s);
            prop_assert_eq!(Serial::from_hex(&s.to_hex()).unwrap(), s);
        }

        #[test]
        fn order_is_numeric(a in any::<u128>(), b in any::<u128>()) {
            let sa = Serial::from_magnitude(&a.to_be_bytes()).unwrap();
            let sb = Serial::from_magnitude(&b.to_be_bytes()).unwrap();
            prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
        }

        #[test]
        fn der_content_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Serial::from_der_content(&bytes);
        }
    }
}
