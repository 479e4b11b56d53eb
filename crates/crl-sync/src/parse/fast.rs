//! The fast path of the entry walk: entries of the shape nearly every JPKI (and `openssl ca`)
//! entry has, read at fixed offsets, and UTCTimes read a word at a time with table lookups for the date.
//! Anything else goes to the general reader, which the property tests hold this path to.

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

/// Days from 1970-01-01 to 1 January of each UTCTime year `YY` (1950 to 2049, RFC 5280).
#[allow(clippy::indexing_slicing)] // evaluated at compile time: an index out of range fails the build
const YEAR_START: [i32; 100] = {
    let mut t = [0i32; 100];
    let mut yy = 0;
    while yy < 100 {
        let y = if yy >= 50 {
            1900 + yy as i32
        } else {
            2000 + yy as i32
        };
        // Whole years since 1970, with the leap days of the years in between.
        t[yy] = (y - 1970) * 365 + leap_days_before(y) - leap_days_before(1970);
        yy += 1;
    }
    t
};

/// Leap days in the years 1 to `y - 1` (proleptic Gregorian).
const fn leap_days_before(y: i32) -> i32 {
    (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400
}

/// Days from 1 January to the first of each month (index 1 to 12) in a common year.
const MONTH_START: [u16; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// The length of each month (index 1 to 12) in a common year.
const MONTH_DAYS: [u8; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The Unix time of a 13-octet UTCTime (`YYMMDDhhmmssZ`), or `None` if it is not valid (the
/// general path then reports it). The digits are checked and paired a word at a time and the
/// date is found in two small tables: no division, and no branch that depends on how the dates
/// of consecutive entries relate (in a CRL in serial order they are close to random).
#[inline(always)]
pub(super) fn utc_time(t: &[u8; 13]) -> Option<i64> {
    let (head, tail) = t.split_first_chunk::<8>()?;
    let (mmss, zulu) = tail.split_first_chunk::<4>()?;
    // YYMMDDhh and mmss, then 'Z', checked as digits a word at a time.
    let head = u64::from_le_bytes(*head);
    let mmss = u64::from(u32::from_le_bytes(*mmss)) | 0x3030_3030_0000_0000;
    if zulu != b"Z" || !all_digits(head) || !all_digits(mmss) {
        return None;
    }
    let (p, q) = (digit_pairs(head), digit_pairs(mmss));
    let lane = |x: u64, i: u32| ((x >> (16 * i)) & 0xFFFF) as usize;
    let (yy, month, day, hour) = (lane(p, 0), lane(p, 1), lane(p, 2), lane(p, 3));
    let (minute, second) = (lane(q, 0), lane(q, 1));
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Every year 1950..=2049 divisible by 4 is a leap year (2000 included).
    let leap = usize::from(yy % 4 == 0);
    let feb = usize::from(month == 2);
    let in_month = usize::from(*MONTH_DAYS.get(month)?) + leap * feb;
    if day == 0 || day > in_month {
        return None;
    }
    let days = i64::from(*YEAR_START.get(yy)?)
        + i64::from(*MONTH_START.get(month)?)
        + (leap * usize::from(month > 2)) as i64
        + (day - 1) as i64;
    Some(days * 86_400 + (hour * 3600 + minute * 60 + second) as i64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::utc_time;
    use crate::parse::tlv::{TAG_UTC_TIME, parse_time};

    /// Every calendar string of every UTCTime year, valid or not, against the general reader.
    #[test]
    fn every_date_of_every_year_matches_the_general_reader() {
        let mut valid = 0;
        for yy in 0..100 {
            for month in 0..=13 {
                for day in 0..=32 {
                    for (h, m, s) in [
                        (0, 0, 0),
                        (23, 59, 59),
                        (12, 34, 56),
                        (24, 0, 0),
                        (0, 60, 0),
                        (0, 0, 60),
                    ] {
                        let text = format!("{yy:02}{month:02}{day:02}{h:02}{m:02}{s:02}Z");
                        let t: &[u8; 13] = text.as_bytes().try_into().unwrap();
                        let want = parse_time(TAG_UTC_TIME, t).ok();
                        assert_eq!(utc_time(t), want, "{text}");
                        valid += usize::from(want.is_some());
                    }
                }
            }
        }
        // 100 years of 365 or 366 days, three valid times of day each.
        assert_eq!(valid, (100 * 365 + 25) * 3);
    }
}
