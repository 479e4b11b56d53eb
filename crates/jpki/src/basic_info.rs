//! The basic 4 information (基本4情報) carried as otherNames in a signing certificate's subjectAltName.
//!
//! ```text
//! GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
//! GeneralName  ::= CHOICE { otherName [0] OtherName, ... }
//! OtherName    ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY DEFINED BY type-id }
//! ```
//!
//! Each item is an otherName with a type-id under `1.2.392.200149.8.5.5` and a `UTF8String` value
//! (see `JPKI.md`, "The basic 4 information"). The parser returns text exactly as encoded.

mod codec;
mod view;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::dob::DateOfBirth;
use crate::error::BasicInfoError;

pub use view::{BasicInfoView, OtherItemView};

/// Largest certificate or subjectAltName accepted, in bytes. JPKI certificates are about 2 KiB.
pub const MAX_INPUT_LEN: usize = 64 * 1024;
/// Most characters accepted in the name (氏名) *(assumed; the J-LIS profile is under NDA)*.
pub const NAME_MAX_CHARS: usize = 100;
/// Most characters accepted in the address (住所), per the published profile.
pub const ADDRESS_MAX_CHARS: usize = 200;

/// 性別.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// `1`.
    Male = 1,
    /// `2`.
    Female = 2,
    /// `3`.
    Unknown = 3,
}

impl Sex {
    /// The sex for its code: exactly `1`, `2` or `3`.
    pub fn from_code(code: &str) -> Result<Sex, BasicInfoError> {
        match code {
            "1" => Ok(Sex::Male),
            "2" => Ok(Sex::Female),
            "3" => Ok(Sex::Unknown),
            other => Err(BasicInfoError::BadSex {
                // Bounded, so a garbage value cannot flood a log line.
                found: other.chars().take(8).collect(),
            }),
        }
    }

    /// The code as encoded (`'1'`, `'2'` or `'3'`).
    pub fn code(self) -> char {
        match self {
            Sex::Male => '1',
            Sex::Female => '2',
            Sex::Unknown => '3',
        }
    }

    /// `male`, `female` or `unknown`, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Unknown => "unknown",
        }
    }
}

/// A substitute-character map (代替文字使用位置): one flag per character of its text; `true` means a
/// substitute character (代替文字) stands at that position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SubstituteMap(pub Vec<bool>);

impl SubstituteMap {
    /// Parses `map_text` (`0`/`1` per character) for `text`; `item` names the map's item in errors
    /// (`name` or `address`).
    ///
    /// Errors: [`BasicInfoError::BadSubstituteMap`] for any other character,
    /// [`BasicInfoError::SubstituteMapLength`] when the map and the text differ in characters.
    pub fn parse(item: &'static str, map_text: &str, text: &str) -> Result<SubstituteMap, BasicInfoError> {
        let flags = map_text
            .chars()
            .enumerate()
            .map(|(position, c)| match c {
                '0' => Ok(false),
                '1' => Ok(true),
                _ => Err(BasicInfoError::BadSubstituteMap { item, position }),
            })
            .collect::<Result<Vec<bool>, _>>()?;
        let map = SubstituteMap(flags);
        map.check_len(item, text)?;
        Ok(map)
    }

    /// Checks that the map has one position per character of `text`.
    pub fn check_len(&self, item: &'static str, text: &str) -> Result<(), BasicInfoError> {
        let text_len = text.chars().count();
        if self.0.len() != text_len {
            return Err(BasicInfoError::SubstituteMapLength {
                item,
                map_len: self.0.len(),
                text_len,
            });
        }
        Ok(())
    }

    /// The map as encoded: `0`/`1` per character (`00100`).
    pub fn to_text(&self) -> String {
        self.0.iter().map(|f| if *f { '1' } else { '0' }).collect()
    }

    /// Character indexes (0-based) where a substitute character stands.
    pub fn substituted_positions(&self) -> Vec<usize> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.then_some(i))
            .collect()
    }
}

/// An otherName under the 4-info arc that this version does not know (a 振り仮名 field may come),
/// kept exactly as encoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OtherBasicInfoItem {
    /// The otherName type-id, dotted.
    pub oid: String,
    /// The DER of the otherName value (the `[0] EXPLICIT` content), unchanged.
    pub value_der: Vec<u8>,
}

/// The basic 4 information, exactly as encoded: text is never normalised or "corrected".
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BasicInfo {
    /// 氏名: family and given name separated by U+3000; may include 旧氏.
    pub name: String,
    /// 氏名代替文字使用位置, when present.
    pub name_substitutes: Option<SubstituteMap>,
    /// 性別.
    pub sex: Sex,
    /// 生年月日.
    pub date_of_birth: DateOfBirth,
    /// 住所: from the prefecture onward, full-width digits, at most 200 characters.
    pub address: String,
    /// 住所代替文字使用位置, when present.
    pub address_substitutes: Option<SubstituteMap>,
    /// Unknown otherNames under the 4-info arc, preserved as is.
    pub other_items: Vec<OtherBasicInfoItem>,
}

/// Personal data never goes to logs: `Debug` shows only which items are present.
impl std::fmt::Debug for BasicInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicInfo")
            .field("name", &"<redacted>")
            .field("address", &"<redacted>")
            .field("other_items", &self.other_items.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn check_text(item: &'static str, text: &str, max: usize) -> Result<(), BasicInfoError> {
    if text.is_empty() {
        return Err(BasicInfoError::Empty { item });
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(BasicInfoError::TooLong { item, chars, max });
    }
    Ok(())
}

impl BasicInfo {
    /// Reads the 4 information from a DER certificate's subjectAltName.
    ///
    /// The input is bounded by [`MAX_INPUT_LEN`]. Errors: [`BasicInfoError::InputTooLarge`],
    /// [`BasicInfoError::MalformedDer`], [`BasicInfoError::NoSubjectAltName`],
    /// [`BasicInfoError::DuplicateSubjectAltName`], and those of
    /// [`BasicInfo::from_subject_alt_name_der`].
    pub fn from_certificate_der(der: &[u8]) -> Result<BasicInfo, BasicInfoError> {
        codec::from_certificate_der(der)
    }

    /// Reads the 4 information from the subjectAltName extnValue (the `GeneralNames` DER).
    ///
    /// Other kinds of GeneralName (`[1]`–`[8]`) and otherNames outside `1.2.392.200149.8.5.5` are
    /// ignored; unknown items under that arc are kept in [`BasicInfo::other_items`]. An element that
    /// is no GeneralName at all (a universal tag, `[9]` and up, a primitive `[0]`) is
    /// [`BasicInfoError::MalformedDer`]. The result satisfies
    /// [`BasicInfo::validate`].
    pub fn from_subject_alt_name_der(der: &[u8]) -> Result<BasicInfo, BasicInfoError> {
        codec::from_subject_alt_name_der(der)
    }

    /// Encodes the subjectAltName extnValue (`GeneralNames` DER): the six items in OID order, then
    /// [`BasicInfo::other_items`] in their order. Fails when [`BasicInfo::validate`] fails, so that
    /// whatever is encoded parses back to an equal value.
    pub fn to_subject_alt_name_der(&self) -> Result<Vec<u8>, BasicInfoError> {
        codec::to_subject_alt_name_der(self)
    }

    /// Each item as the DER of one `GeneralName` (`[0]` otherName), in the order
    /// [`BasicInfo::to_subject_alt_name_der`] uses, for an issuer that puts other names in the same
    /// subjectAltName. Fails when [`BasicInfo::validate`] fails.
    pub fn other_names_der(&self) -> Result<Vec<Vec<u8>>, BasicInfoError> {
        codec::other_names_der(self)
    }

    /// Checks the profile rules the parser enforces: text present and within length limits, a
    /// real date, maps matching their texts, and other items that are single DER values under the
    /// 4-info arc with an OID the six known items do not use.
    pub fn validate(&self) -> Result<(), BasicInfoError> {
        check_text("name", &self.name, NAME_MAX_CHARS)?;
        self.date_of_birth.validate()?;
        check_text("address", &self.address, ADDRESS_MAX_CHARS)?;
        if let Some(map) = &self.name_substitutes {
            map.check_len("name", &self.name)?;
        }
        if let Some(map) = &self.address_substitutes {
            map.check_len("address", &self.address)?;
        }
        for item in &self.other_items {
            codec::check_other_item(item)?;
        }
        Ok(())
    }

    /// The JSON view (`date_of_birth` as `YYYY-MM-DD`, maps as `0`/`1` text).
    pub fn view(&self) -> BasicInfoView {
        BasicInfoView::from(self)
    }
}
