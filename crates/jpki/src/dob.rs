//! Date of birth (生年月日): an era digit followed by the Gregorian date.
// Implemented by the jpki parser work; see BasicInfo.

use serde::{Deserialize, Serialize};

/// The Japanese era (元号) digit that precedes the Gregorian date of birth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Era {
    /// `0`: unknown.
    Unknown = 0,
    /// `1`: 明治 Meiji.
    Meiji = 1,
    /// `2`: 大正 Taishō.
    Taisho = 2,
    /// `3`: 昭和 Shōwa.
    Showa = 3,
    /// `4`: 平成 Heisei.
    Heisei = 4,
    /// `5`: 令和 Reiwa.
    Reiwa = 5,
}

/// A date of birth as the certificate encodes it: `319801231` is 昭和, 1980-12-31.
///
/// The year, month and day are Gregorian; the era is kept as encoded and never "corrected".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateOfBirth {
    /// The era digit.
    pub era: Era,
    /// Gregorian year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31 (valid for the month and year).
    pub day: u8,
}
