//! Card holders' personal data: built-in realistic lists, validation of CLI input, and the
//! subjectAltName encoding of the basic 4 information.
//!
//! Names use U+3000 between family and given name; some carry a substitute character (代替文字)
//! with its map. Addresses are full-width from the prefecture onward. Dates of birth carry the era
//! digit of the Gregorian date that follows.

use jpki::{BasicInfo, DateOfBirth, Era, Sex, SubstituteMap};
use serde::{Deserialize, Serialize};

use crate::drbg::Drbg;
use crate::error::{Result, SimError};

/// A municipality (市区町村) known to the simulator: one CRL partition per CA key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Municipality {
    /// 全国地方公共団体コード (6 digits).
    pub code: &'static str,
    /// Prefecture, as written in addresses.
    pub prefecture: &'static str,
    /// Prefecture in romaji, as in certificate subjects and CRL distribution points.
    pub prefecture_romaji: &'static str,
    /// Municipality, as written in addresses.
    pub name: &'static str,
    /// Municipality in romaji.
    pub name_romaji: &'static str,
    /// Town names (町域) used for drawn addresses.
    pub towns: &'static [&'static str],
}

/// The municipalities the simulator issues in.
pub const MUNICIPALITIES: &[Municipality] = &[
    Municipality {
        code: "131016",
        prefecture: "東京都",
        prefecture_romaji: "Tokyo",
        name: "千代田区",
        name_romaji: "Chiyoda-ku",
        towns: &["千代田", "霞が関", "丸の内", "永田町"],
    },
    Municipality {
        code: "131130",
        prefecture: "東京都",
        prefecture_romaji: "Tokyo",
        name: "渋谷区",
        name_romaji: "Shibuya-ku",
        towns: &["宇田川町", "神南", "代々木", "恵比寿"],
    },
    Municipality {
        code: "011002",
        prefecture: "北海道",
        prefecture_romaji: "Hokkaido",
        name: "札幌市",
        name_romaji: "Sapporo-shi",
        towns: &["中央区北一条西", "北区北八条西", "豊平区平岸"],
    },
    Municipality {
        code: "141003",
        prefecture: "神奈川県",
        prefecture_romaji: "Kanagawa",
        name: "横浜市",
        name_romaji: "Yokohama-shi",
        towns: &["中区本町", "西区みなとみらい", "港北区日吉"],
    },
    Municipality {
        code: "231002",
        prefecture: "愛知県",
        prefecture_romaji: "Aichi",
        name: "名古屋市",
        name_romaji: "Nagoya-shi",
        towns: &["中区三の丸", "千種区今池", "中村区名駅"],
    },
    Municipality {
        code: "271004",
        prefecture: "大阪府",
        prefecture_romaji: "Osaka",
        name: "大阪市",
        name_romaji: "Osaka-shi",
        towns: &["北区中之島", "中央区難波", "天王寺区上本町"],
    },
    Municipality {
        code: "401005",
        prefecture: "福岡県",
        prefecture_romaji: "Fukuoka",
        name: "福岡市",
        name_romaji: "Fukuoka-shi",
        towns: &["中央区天神", "博多区博多駅前", "早良区百道浜"],
    },
    Municipality {
        code: "472018",
        prefecture: "沖縄県",
        prefecture_romaji: "Okinawa",
        name: "那覇市",
        name_romaji: "Naha-shi",
        towns: &["泉崎", "久茂地", "首里当蔵町"],
    },
];

/// Looks a municipality up by code.
pub fn municipality(code: &str) -> Option<&'static Municipality> {
    MUNICIPALITIES.iter().find(|m| m.code == code)
}

/// The municipality an address starts with (prefecture + municipality), if known.
pub fn municipality_of_address(address: &str) -> Option<&'static Municipality> {
    MUNICIPALITIES
        .iter()
        .find(|m| address.starts_with(&format!("{}{}", m.prefecture, m.name)))
}

/// (name, substitute map, sex) — a few with a substitute character (髙, 﨑, 𠮷, 邉).
const NAMES: &[(&str, &str, u8)] = &[
    ("山田\u{3000}太郎", "00000", 1),
    ("佐藤\u{3000}花子", "00000", 2),
    ("鈴木\u{3000}一郎", "00000", 1),
    ("髙橋\u{3000}健一", "10000", 1),
    ("山﨑\u{3000}美咲", "01000", 2),
    ("吉田\u{3000}𠮷子", "00010", 2),
    ("渡邉\u{3000}翔太", "01000", 1),
    ("田中\u{3000}陽菜", "00000", 2),
    ("伊藤\u{3000}蓮", "0000", 1),
    ("中村\u{3000}さくら", "000000", 2),
    ("小林\u{3000}大翔", "00000", 1),
    ("加藤\u{3000}結衣", "00000", 2),
    ("斉藤（旧氏：木村）\u{3000}優子", "000000000000", 2),
    ("松本\u{3000}光", "0000", 3),
];

/// The personal data of a holder, exactly as it goes into the signing certificate.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// 氏名.
    pub name: String,
    /// 氏名代替文字使用位置 (`0`/`1` per character).
    pub name_substitutes: String,
    /// 性別 code: `1`, `2` or `3`.
    pub sex: u8,
    /// 生年月日 code: era digit + YYYYMMDD.
    pub date_of_birth: String,
    /// 住所.
    pub address: String,
    /// 住所代替文字使用位置.
    pub address_substitutes: String,
    /// Municipality code (the CRL partition).
    pub municipality: String,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("municipality", &self.municipality)
            .finish_non_exhaustive()
    }
}

/// Person fields given on the command line; missing ones are drawn.
#[derive(Clone, Debug, Default)]
pub struct PersonInput {
    /// 氏名.
    pub name: Option<String>,
    /// 住所.
    pub address: Option<String>,
    /// 生年月日 code, e.g. `319801231`.
    pub date_of_birth: Option<String>,
    /// `1`, `2` or `3`.
    pub sex: Option<u8>,
    /// Municipality code.
    pub municipality: Option<String>,
}

fn zeros_for(text: &str) -> String {
    "0".repeat(text.chars().count())
}

fn full_width_digits(n: u64) -> String {
    n.to_string()
        .chars()
        .map(|c| {
            c.to_digit(10)
                .and_then(|d| char::from_u32(0xFF10 + d))
                .unwrap_or(c)
        })
        .collect()
}

/// The era digit of a Gregorian date (明治 1868-01-25 … 令和 2019-05-01).
pub fn era_of(year: u16, month: u8, day: u8) -> Era {
    let ymd = u32::from(year) * 10_000 + u32::from(month) * 100 + u32::from(day);
    match ymd {
        20_190_501.. => Era::Reiwa,
        19_890_108.. => Era::Heisei,
        19_261_225.. => Era::Showa,
        19_120_730.. => Era::Taisho,
        18_680_125.. => Era::Meiji,
        _ => Era::Unknown,
    }
}

/// Parses and validates a date-of-birth code (`319801231`): era digit 0–5 and a real date
/// (the `jpki` parser, with the simulator's error).
pub fn parse_dob(code: &str) -> Result<DateOfBirth> {
    DateOfBirth::parse(code).map_err(|e| {
        SimError::arg(
            "date of birth",
            format!("{code:?}: {e}; expected era digit 0-5 + YYYYMMDD"),
        )
    })
}

/// The code of a date of birth.
pub fn dob_code(dob: &DateOfBirth) -> String {
    dob.to_code()
}

/// Validates an address given on the command line.
pub fn validate_address(address: &str) -> Result<()> {
    let n = address.chars().count();
    if n == 0 || n > 200 {
        return Err(SimError::arg(
            "address",
            format!("must be 1 to 200 characters, got {n}"),
        ));
    }
    Ok(())
}

impl Person {
    /// Completes `input` with values drawn from `drbg`, validating what was given.
    pub fn from_input(input: &PersonInput, drbg: &mut Drbg) -> Result<Person> {
        let muni = match &input.municipality {
            Some(code) => municipality(code).ok_or_else(|| {
                let known: Vec<&str> = MUNICIPALITIES.iter().map(|m| m.code).collect();
                SimError::arg(
                    "municipality",
                    format!("unknown code {code}; known: {}", known.join(", ")),
                )
            })?,
            None => match input.address.as_deref().and_then(municipality_of_address) {
                Some(m) => m,
                None => pick(MUNICIPALITIES, drbg)?,
            },
        };
        let (name, name_substitutes, drawn_sex) = match &input.name {
            Some(n) => {
                if n.trim().is_empty() || n.chars().count() > 100 {
                    return Err(SimError::arg("name", "must be 1 to 100 characters"));
                }
                (n.clone(), zeros_for(n), 1 + drbg.below(2)? as u8)
            }
            None => {
                let (n, m, s) = *pick(NAMES, drbg)?;
                (n.to_owned(), m.to_owned(), s)
            }
        };
        let sex = match input.sex {
            Some(s @ 1..=3) => s,
            Some(s) => return Err(SimError::arg("sex", format!("{s}: must be 1, 2 or 3"))),
            None => drawn_sex,
        };
        let date_of_birth = match &input.date_of_birth {
            Some(code) => dob_code(&parse_dob(code)?),
            None => {
                let year = 1940 + drbg.below(68)? as u16;
                let month = 1 + drbg.below(12)? as u8;
                let day = 1 + drbg.below(28)? as u8;
                let era = era_of(year, month, day);
                dob_code(&DateOfBirth {
                    era,
                    year,
                    month,
                    day,
                })
            }
        };
        let address = match &input.address {
            Some(a) => {
                validate_address(a)?;
                a.clone()
            }
            None => {
                let town = pick(muni.towns, drbg)?;
                format!(
                    "{}{}{}{}丁目{}番{}号",
                    muni.prefecture,
                    muni.name,
                    town,
                    full_width_digits(1 + drbg.below(5)?),
                    full_width_digits(1 + drbg.below(30)?),
                    full_width_digits(1 + drbg.below(20)?)
                )
            }
        };
        let address_substitutes = zeros_for(&address);
        Ok(Person {
            name,
            name_substitutes,
            sex,
            date_of_birth,
            address,
            address_substitutes,
            municipality: muni.code.to_owned(),
        })
    }

    /// The holder's municipality.
    pub fn municipality(&self) -> Result<&'static Municipality> {
        municipality(&self.municipality)
            .ok_or_else(|| SimError::arg("municipality", format!("unknown code {}", self.municipality)))
    }

    /// The date of birth.
    pub fn dob(&self) -> Result<DateOfBirth> {
        parse_dob(&self.date_of_birth)
    }

    /// As the `jpki` domain type.
    pub fn to_basic_info(&self) -> Result<BasicInfo> {
        let map = |s: &str| Some(SubstituteMap(s.chars().map(|c| c == '1').collect()));
        Ok(BasicInfo {
            name: self.name.clone(),
            name_substitutes: map(&self.name_substitutes),
            sex: match self.sex {
                1 => Sex::Male,
                2 => Sex::Female,
                _ => Sex::Unknown,
            },
            date_of_birth: self.dob()?,
            address: self.address.clone(),
            address_substitutes: map(&self.address_substitutes),
            other_items: Vec::new(),
        })
    }

    /// The subjectAltName value (GeneralNames) with the six 4-info otherNames, each
    /// `OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }`, encoded by the same
    /// `jpki` code that parses them, after validating every item.
    pub fn subject_alt_name_der(&self) -> Result<Vec<u8>> {
        self.to_basic_info()?
            .to_subject_alt_name_der()
            .map_err(|e| SimError::arg("basic 4 information", e.to_string()))
    }
}

fn pick<'a, T>(items: &'a [T], drbg: &mut Drbg) -> Result<&'a T> {
    let i = drbg.below(items.len() as u64)? as usize;
    items
        .get(i)
        .ok_or_else(|| SimError::arg("built-in list", "empty"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_matching_maps() {
        for (n, m, _) in NAMES {
            assert_eq!(n.chars().count(), m.len(), "{n}");
        }
    }

    #[test]
    fn dob_codes() {
        let d = parse_dob("319801231").unwrap();
        assert_eq!((d.era, d.year, d.month, d.day), (Era::Showa, 1980, 12, 31));
        assert!(parse_dob("319800231").is_err());
        assert!(parse_dob("919801231").is_err());
        assert!(parse_dob("31980123").is_err());
        assert_eq!(era_of(1989, 1, 7), Era::Showa);
        assert_eq!(era_of(1989, 1, 8), Era::Heisei);
        assert_eq!(era_of(2019, 5, 1), Era::Reiwa);
    }

    #[test]
    fn drawn_people_are_deterministic() {
        let a = Person::from_input(&PersonInput::default(), &mut Drbg::new("s", "p").unwrap()).unwrap();
        let b = Person::from_input(&PersonInput::default(), &mut Drbg::new("s", "p").unwrap()).unwrap();
        assert!(a == b);
        assert_eq!(a.address.chars().count(), a.address_substitutes.len());
        assert!(a.dob().is_ok());
    }
}
