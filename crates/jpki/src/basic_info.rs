//! The basic 4 information (基本4情報) carried as otherNames in a signing certificate's subjectAltName.

use serde::{Deserialize, Serialize};

use crate::dob::DateOfBirth;

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

/// A substitute-character map (代替文字使用位置): one flag per character of its text; `true` means a
/// substitute character (代替文字) stands at that position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SubstituteMap(pub Vec<bool>);

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
