//! The fast path of the entry walk: entries of the shape nearly every JPKI (and `openssl ca`)
//! entry has, read at fixed offsets, and UTCTimes read a word at a time with the day remembered.
//! Anything else goes to the general reader, which the property tests hold this path to.

use super::tlv::{TAG_UTC_TIME, parse_time};

/// An entry of the common shape, read without the general TLV reader.
pub(super) struct CommonEntry<'a> {
    /// Whole entry length (tag, length and content).
    pub(super) len: usize,
    /// The serial INTEGER's content, already known to be minimal and non-negative.
    pub(super) serial: &'a [u8],
    /// The UTCTime's 13 content octets.
    pub(super) time: &'a [u8; 13],
    pub(super) reason: Option<u8>,
}

/// The crlEntryExtensions that carry only a reasonCode (not critical), up to the code octet:
/// `SEQUENCE { SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED code } } }`.
const REASON_ONLY: [u8; 13] = [
    0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01,
];

/// `SEQUENCE { INTEGER serial (1..=9 octets, minimal, non-negative), UTCTime (13 octets),
/// [reasonCode-only extensions] }` with short-form lengths: what J-LIS and `openssl ca` write
/// for every entry of a narrow serial. `None` sends the entry to the general path.
#[inline(always)]
pub(super) fn common_entry(data: &[u8]) -> Option<CommonEntry<'_>> {
    let (&[0x30, content_len, 0x02, serial_len], _) = data.split_first_chunk::<4>()? else {
        return None;
    };
    if content_len >= 0x80 || !(1..=9).contains(&serial_len) {
        return None;
    }
    let len = 2 + usize::from(content_len);
    let content = data.get(4..len)?;
    let (serial, rest_of_entry) = content.split_at_checked(usize::from(serial_len))?;
    // Minimal and non-negative, as unsigned_integer would accept with minimal = true.
    match serial {
        [first, ..] if first & 0x80 != 0 => return None,
        [0, second, ..] if second & 0x80 == 0 => return None,
        _ => {}
    }
    let (&[0x17, 0x0d], after_tag) = rest_of_entry.split_first_chunk::<2>()? else {
        return None;
    };
    let (time, extensions) = after_tag.split_first_chunk::<13>()?;
    let reason = match extensions {
        [] => None,
        [head @ .., code] if head == REASON_ONLY && *code <= 10 && *code != 7 => Some(*code),
        _ => return None,
    };
    Some(CommonEntry {
        len,
        serial,
        time,
        reason,
    })
}

/// UTCTime decoding with the date part of the previous entry remembered (consecutive entries
/// of a CRL mostly share a day, and the calendar arithmetic is most of a time's cost).
#[derive(Default)]
pub(super) struct DayCache {
    /// The `YYMMDD` octets of the remembered date (little-endian, in the low 48 bits).
    date: u64,
    day_start: Option<i64>,
}

/// Whether each of the 8 octets of `x` is an ASCII digit. A borrow or carry between lanes only
/// happens next to an octet that is not a digit, so it can make the answer `false`, never `true`.
#[inline(always)]
fn all_digits(x: u64) -> bool {
    (x.wrapping_sub(0x3030_3030_3030_3030) | x.wrapping_add(0x4646_4646_4646_4646)) & 0x8080_8080_8080_8080
        == 0
}

/// The four two-digit numbers of 8 ASCII digits (`all_digits`), in 16-bit lanes, first pair lowest.
#[inline(always)]
fn digit_pairs(x: u64) -> u64 {
    let d = x.wrapping_sub(0x3030_3030_3030_3030);
    (d & 0x00FF_00FF_00FF_00FF) * 10 + ((d >> 8) & 0x00FF_00FF_00FF_00FF)
}

impl DayCache {
    /// The Unix time of a 13-octet UTCTime, or `None` if it is not valid (the general path
    /// then reports it).
    #[inline(always)]
    pub(super) fn utc_time(&mut self, t: &[u8; 13]) -> Option<i64> {
        let (head, tail) = t.split_first_chunk::<8>()?;
        let (mmss, zulu) = tail.split_first_chunk::<4>()?;
        // YYMMDDhh and mmss, then 'Z', checked as digits a word at a time.
        let head = u64::from_le_bytes(*head);
        let mmss = u64::from(u32::from_le_bytes(*mmss)) | 0x3030_3030_0000_0000;
        if zulu != b"Z" || !all_digits(head) || !all_digits(mmss) {
            return None;
        }
        let (p, q) = (digit_pairs(head), digit_pairs(mmss));
        let (hour, minute, second) = ((p >> 48) as u32, (q & 0xFFFF) as u32, ((q >> 16) & 0xFFFF) as u32);
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date = head & 0xFFFF_FFFF_FFFF;
        let day_start = match self.day_start {
            Some(d) if self.date == date => d,
            _ => {
                let mut midnight = *b"000000000000Z";
                if let Some(dst) = midnight.get_mut(..6) {
                    dst.copy_from_slice(t.get(..6)?);
                }
                let d = parse_time(TAG_UTC_TIME, &midnight).ok()?;
                self.date = date;
                self.day_start = Some(d);
                d
            }
        };
        Some(day_start + i64::from(hour * 3600 + minute * 60 + second))
    }
}
