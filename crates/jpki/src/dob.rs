//! Date of birth (生年月日): an era digit followed by the Gregorian date.

use serde::{Deserialize, Serialize};

use crate::error::BasicInfoError;

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

impl Era {
    /// All eras, in digit order.
    pub const ALL: [Era; 6] = [
        Era::Unknown,
        Era::Meiji,
        Era::Taisho,
        Era::Showa,
        Era::Heisei,
        Era::Reiwa,
    ];

    /// The era for its digit (`'0'`–`'5'`).
    pub fn from_digit(digit: char) -> Result<Era, BasicInfoError> {
        match digit {
            '0' => Ok(Era::Unknown),
            '1' => Ok(Era::Meiji),
            '2' => Ok(Era::Taisho),
            '3' => Ok(Era::Showa),
            '4' => Ok(Era::Heisei),
            '5' => Ok(Era::Reiwa),
            found => Err(BasicInfoError::BadEra { found }),
        }
    }

    /// The era's digit as encoded (`'0'`–`'5'`).
    pub fn digit(self) -> char {
        match self {
            Era::Unknown => '0',
            Era::Meiji => '1',
            Era::Taisho => '2',
            Era::Showa => '3',
            Era::Heisei => '4',
            Era::Reiwa => '5',
        }
    }

    /// The era's name in kanji (`昭和`); `不明` for unknown.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Unknown => "不明",
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The era's name in lower-case romaji, as in JSON (`showa`); `unknown` for unknown.
    pub fn romaji(self) -> &'static str {
        match self {
            Era::Unknown => "unknown",
            Era::Meiji => "meiji",
            Era::Taisho => "taisho",
            Era::Showa => "showa",
            Era::Heisei => "heisei",
            Era::Reiwa => "reiwa",
        }
    }
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

/// Years accepted as a sanity bound: nobody alive was born before 1800, and the code has 4 digits.
const YEAR_RANGE: std::ops::RangeInclusive<u16> = 1800..=9999;

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl DateOfBirth {
    /// A checked date: the Gregorian date must exist and the year be in 1800–9999.
    pub fn new(era: Era, year: u16, month: u8, day: u8) -> Result<DateOfBirth, BasicInfoError> {
        let dob = DateOfBirth {
            era,
            year,
            month,
            day,
        };
        dob.validate()?;
        Ok(dob)
    }

    /// Checks that the Gregorian date exists and the year is in 1800–9999.
    pub fn validate(&self) -> Result<(), BasicInfoError> {
        if !YEAR_RANGE.contains(&self.year)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
        {
            return Err(BasicInfoError::BadDate);
        }
        Ok(())
    }

    /// Parses the 9-character code: an era digit then `YYYYMMDD` (`319801231`).
    ///
    /// Errors: [`BasicInfoError::BadEra`] for an era digit other than 0–5, [`BasicInfoError::BadDate`]
    /// for anything else that is not 9 ASCII digits forming a real Gregorian date.
    pub fn parse(code: &str) -> Result<DateOfBirth, BasicInfoError> {
        let mut chars = code.chars();
        let era = Era::from_digit(chars.next().ok_or(BasicInfoError::BadDate)?)?;
        let rest = chars.as_str();
        if rest.len() != 8 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BasicInfoError::BadDate);
        }
        let num = |range: std::ops::Range<usize>| -> Result<u16, BasicInfoError> {
            rest.get(range)
                .and_then(|s| s.parse::<u16>().ok())
                .ok_or(BasicInfoError::BadDate)
        };
        let year = num(0..4)?;
        let month = u8::try_from(num(4..6)?).map_err(|_| BasicInfoError::BadDate)?;
        let day = u8::try_from(num(6..8)?).map_err(|_| BasicInfoError::BadDate)?;
        DateOfBirth::new(era, year, month, day)
    }

    /// The 9-character code as encoded in the certificate (`319801231`).
    pub fn to_code(&self) -> String {
        format!(
            "{}{:04}{:02}{:02}",
            self.era.digit(),
            self.year,
            self.month,
            self.day
        )
    }

    /// The Gregorian date as ISO 8601 `YYYY-MM-DD`.
    pub fn iso_date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_era() {
        let cases = [
            ("018000101", Era::Unknown, 1800, 1, 1),
            ("118680908", Era::Meiji, 1868, 9, 8),
            ("219120730", Era::Taisho, 1912, 7, 30),
            ("319801231", Era::Showa, 1980, 12, 31),
            ("419890108", Era::Heisei, 1989, 1, 8),
            ("520190501", Era::Reiwa, 2019, 5, 1),
        ];
        for (code, era, y, m, d) in cases {
            let dob = DateOfBirth::parse(code).unwrap();
            assert_eq!(
                dob,
                DateOfBirth {
                    era,
                    year: y,
                    month: m,
                    day: d
                }
            );
            assert_eq!(dob.to_code(), code);
            assert_eq!(Era::from_digit(era.digit()).unwrap(), era);
        }
        assert_eq!(DateOfBirth::parse("319801231").unwrap().iso_date(), "1980-12-31");
        assert_eq!(Era::Showa.kanji(), "昭和");
        assert_eq!(Era::Reiwa.romaji(), "reiwa");
    }

    #[test]
    fn leap_days() {
        assert!(DateOfBirth::parse("420000229").is_ok());
        assert!(DateOfBirth::parse("319840229").is_ok());
        assert_eq!(DateOfBirth::parse("219000229"), Err(BasicInfoError::BadDate));
        assert_eq!(DateOfBirth::parse("419990229"), Err(BasicInfoError::BadDate));
    }

    #[test]
    fn rejects_bad_codes() {
        assert_eq!(
            DateOfBirth::parse("619801231"),
            Err(BasicInfoError::BadEra { found: '6' })
        );
        assert_eq!(
            DateOfBirth::parse("x19801231"),
            Err(BasicInfoError::BadEra { found: 'x' })
        );
        for bad in [
            "",
            "3",
            "31980123",
            "3198012310",
            "319800230",
            "319801301",
            "319800001",
            "319801200",
            "317991231",
            "31980-231",
            "3１９８01231",
            "3+1980123",
        ] {
            assert_eq!(DateOfBirth::parse(bad), Err(BasicInfoError::BadDate), "{bad}");
        }
    }
}
