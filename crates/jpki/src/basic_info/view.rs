//! The JSON view of [`BasicInfo`], as the verifier CLI and the SP API print it.

use serde::{Deserialize, Serialize};

use super::BasicInfo;

/// The 4 information for JSON: the date of birth as `YYYY-MM-DD`, the era by name and digit, maps
/// as `0`/`1` text, unknown items as hex DER.
///
/// ```json
/// {"name":"山田　太郎","sex":"male","sex_code":"1","date_of_birth":"1980-12-31",
///  "era":"showa","era_digit":"3","address":"東京都千代田区千代田１－１","other_items":[]}
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicInfoView {
    /// 氏名, as encoded.
    pub name: String,
    /// 氏名代替文字使用位置 (`0010`), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_substitutes: Option<String>,
    /// `male`, `female` or `unknown`.
    pub sex: String,
    /// `1`, `2` or `3`.
    pub sex_code: String,
    /// Gregorian `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `unknown`, `meiji`, `taisho`, `showa`, `heisei` or `reiwa`.
    pub era: String,
    /// `0`–`5`.
    pub era_digit: String,
    /// 住所, as encoded.
    pub address: String,
    /// 住所代替文字使用位置, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_substitutes: Option<String>,
    /// Unknown items under the 4-info arc.
    pub other_items: Vec<OtherItemView>,
}

/// An unknown 4-info item in the JSON view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherItemView {
    /// The OID, dotted.
    pub oid: String,
    /// The DER inside `[0] EXPLICIT`, lower-case hex.
    pub value_der_hex: String,
}

/// Personal data never goes to logs.
impl std::fmt::Debug for BasicInfoView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicInfoView")
            .field("name", &"<redacted>")
            .field("address", &"<redacted>")
            .field("other_items", &self.other_items.len())
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl From<&BasicInfo> for BasicInfoView {
    fn from(info: &BasicInfo) -> BasicInfoView {
        BasicInfoView {
            name: info.name.clone(),
            name_substitutes: info.name_substitutes.as_ref().map(|m| m.to_text()),
            sex: info.sex.as_str().to_owned(),
            sex_code: info.sex.code().to_string(),
            date_of_birth: info.date_of_birth.iso_date(),
            era: info.date_of_birth.era.romaji().to_owned(),
            era_digit: info.date_of_birth.era.digit().to_string(),
            address: info.address.clone(),
            address_substitutes: info.address_substitutes.as_ref().map(|m| m.to_text()),
            other_items: info
                .other_items
                .iter()
                .map(|o| OtherItemView {
                    oid: o.oid.clone(),
                    value_der_hex: hex(&o.value_der),
                })
                .collect(),
        }
    }
}
