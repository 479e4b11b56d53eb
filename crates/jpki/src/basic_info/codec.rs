//! DER decoding and encoding of the 4-info otherNames.

use der::asn1::{Any, AnyRef, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};

use super::{
    ADDRESS_MAX_CHARS, BasicInfo, MAX_INPUT_LEN, NAME_MAX_CHARS, OtherBasicInfoItem, Sex, SubstituteMap,
    check_text,
};
use crate::dob::DateOfBirth;
use crate::error::BasicInfoError;
use crate::oid;

const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// `[0]` constructed: both the otherName CHOICE alternative and its EXPLICIT value wrapper.
const CONTEXT_0: Tag = Tag::ContextSpecific {
    constructed: true,
    number: TagNumber(0),
};

/// The six known items, in OID order, with their names for errors.
const KNOWN: [(ObjectIdentifier, &str); 6] = [
    (oid::BASIC_INFO_NAME, "name"),
    (oid::BASIC_INFO_NAME_SUBSTITUTES, "name_substitutes"),
    (oid::BASIC_INFO_SEX, "sex"),
    (oid::BASIC_INFO_DATE_OF_BIRTH, "date_of_birth"),
    (oid::BASIC_INFO_ADDRESS, "address"),
    (oid::BASIC_INFO_ADDRESS_SUBSTITUTES, "address_substitutes"),
];

fn malformed(context: &'static str) -> impl Fn(der::Error) -> BasicInfoError {
    move |e| BasicInfoError::MalformedDer {
        context,
        detail: e.to_string(),
    }
}

fn check_size(der: &[u8]) -> Result<(), BasicInfoError> {
    if der.len() > MAX_INPUT_LEN {
        return Err(BasicInfoError::InputTooLarge {
            len: der.len(),
            max: MAX_INPUT_LEN,
        });
    }
    Ok(())
}

fn known_index(type_id: &ObjectIdentifier) -> Option<usize> {
    KNOWN.iter().position(|(o, _)| o == type_id)
}

/// True for OIDs strictly below the 4-info arc. Arcs are self-delimiting in BER, so a prefix of the
/// content octets is a prefix of the arcs.
fn under_arc(type_id: &ObjectIdentifier) -> bool {
    let arc = oid::BASIC_INFO_ARC.as_bytes();
    type_id.as_bytes().len() > arc.len() && type_id.as_bytes().starts_with(arc)
}

pub(super) fn from_certificate_der(der: &[u8]) -> Result<BasicInfo, BasicInfoError> {
    check_size(der)?;
    let cert = x509_cert::Certificate::from_der(der).map_err(malformed("certificate"))?;
    let mut san = None;
    for ext in cert.tbs_certificate().extensions().into_iter().flatten() {
        if ext.extn_id == SUBJECT_ALT_NAME {
            if san.is_some() {
                return Err(BasicInfoError::DuplicateSubjectAltName);
            }
            san = Some(ext.extn_value.as_bytes());
        }
    }
    from_subject_alt_name_der(san.ok_or(BasicInfoError::NoSubjectAltName)?)
}

/// Splits one otherName's content into its type-id and the TLV inside `[0] EXPLICIT`.
fn split_other_name(content: &[u8]) -> Result<(ObjectIdentifier, AnyRef<'_>), der::Error> {
    let mut reader = SliceReader::new(content)?;
    let type_id: ObjectIdentifier = reader.decode()?;
    let wrapper: AnyRef<'_> = reader.decode()?;
    reader.finish()?;
    wrapper.tag().assert_eq(CONTEXT_0)?;
    let value = AnyRef::from_der(wrapper.value())?;
    Ok((type_id, value))
}

fn utf8_text<'a>(item: &'static str, value: AnyRef<'a>) -> Result<&'a str, BasicInfoError> {
    if value.tag() != Tag::Utf8String {
        return Err(BasicInfoError::WrongStringType {
            item,
            found: value.tag().to_string(),
        });
    }
    std::str::from_utf8(value.value()).map_err(|_| BasicInfoError::MalformedDer {
        context: item,
        detail: "UTF8String is not valid UTF-8".to_owned(),
    })
}

pub(super) fn from_subject_alt_name_der(der: &[u8]) -> Result<BasicInfo, BasicInfoError> {
    check_size(der)?;
    let names: Vec<AnyRef<'_>> = Vec::from_der(der).map_err(malformed("subjectAltName"))?;
    let mut known: [Option<&str>; 6] = [None; 6];
    let mut other_items = Vec::new();
    for name in names {
        match name.tag() {
            CONTEXT_0 => {}
            // otherName is IMPLICIT SEQUENCE, so a primitive [0] cannot be one.
            Tag::ContextSpecific {
                number: TagNumber(0), ..
            } => {
                return Err(BasicInfoError::MalformedDer {
                    context: "subjectAltName otherName",
                    detail: "primitive [0] GeneralName".to_owned(),
                });
            }
            // The other GeneralName alternatives, [1] to [8], are not ours.
            Tag::ContextSpecific { number, .. } if number.value() <= 8 => continue,
            other => {
                return Err(BasicInfoError::MalformedDer {
                    context: "subjectAltName",
                    detail: format!("{other} is not a GeneralName"),
                });
            }
        }
        let (type_id, value) =
            split_other_name(name.value()).map_err(malformed("subjectAltName otherName"))?;
        let slot = known_index(&type_id).and_then(|i| Some((known.get_mut(i)?, KNOWN.get(i)?.1)));
        if let Some((slot, item)) = slot {
            if slot.is_some() {
                return Err(BasicInfoError::DuplicateItem { item });
            }
            *slot = Some(utf8_text(item, value)?);
        } else if under_arc(&type_id) {
            other_items.push(OtherBasicInfoItem {
                oid: type_id.to_string(),
                value_der: value.to_der().map_err(malformed("subjectAltName otherName"))?,
            });
        }
    }
    let [name, name_map, sex, dob, address, address_map] = known;
    let name = name.ok_or(BasicInfoError::MissingItem { item: "name" })?;
    let sex = sex.ok_or(BasicInfoError::MissingItem { item: "sex" })?;
    let dob = dob.ok_or(BasicInfoError::MissingItem {
        item: "date_of_birth",
    })?;
    let address = address.ok_or(BasicInfoError::MissingItem { item: "address" })?;

    check_text("name", name, NAME_MAX_CHARS)?;
    check_text("sex", sex, usize::MAX)?;
    check_text("date_of_birth", dob, usize::MAX)?;
    check_text("address", address, ADDRESS_MAX_CHARS)?;
    let info = BasicInfo {
        name: name.to_owned(),
        name_substitutes: name_map
            .map(|m| SubstituteMap::parse("name", m, name))
            .transpose()?,
        sex: Sex::from_code(sex)?,
        date_of_birth: DateOfBirth::parse(dob)?,
        address: address.to_owned(),
        address_substitutes: address_map
            .map(|m| SubstituteMap::parse("address", m, address))
            .transpose()?,
        other_items,
    };
    info.validate()?;
    Ok(info)
}

pub(super) fn check_other_item(item: &OtherBasicInfoItem) -> Result<(), BasicInfoError> {
    let bad = |detail: &str| BasicInfoError::MalformedDer {
        context: "other_items",
        detail: detail.to_owned(),
    };
    let type_id: ObjectIdentifier = item.oid.parse().map_err(|_| bad("OID is not dotted"))?;
    if let Some((_, name)) = known_index(&type_id).and_then(|i| KNOWN.get(i)) {
        return Err(BasicInfoError::DuplicateItem { item: name });
    }
    if !under_arc(&type_id) {
        return Err(bad("OID is not under 1.2.392.200149.8.5.5"));
    }
    AnyRef::from_der(&item.value_der).map_err(malformed("other_items"))?;
    Ok(())
}

fn other_name(type_id: ObjectIdentifier, value: Any) -> GeneralName {
    GeneralName::OtherName(OtherName { type_id, value })
}

fn utf8(text: &str) -> Result<Any, BasicInfoError> {
    Any::new(Tag::Utf8String, text.as_bytes()).map_err(malformed("encoding"))
}

pub(super) fn other_names_der(info: &BasicInfo) -> Result<Vec<Vec<u8>>, BasicInfoError> {
    general_names(info)?
        .iter()
        .map(|n| n.to_der().map_err(malformed("encoding")))
        .collect()
}

pub(super) fn to_subject_alt_name_der(info: &BasicInfo) -> Result<Vec<u8>, BasicInfoError> {
    general_names(info)?.to_der().map_err(malformed("encoding"))
}

/// The items as GeneralNames, in OID order then `other_items`; fails when `validate` does.
fn general_names(info: &BasicInfo) -> Result<Vec<GeneralName>, BasicInfoError> {
    info.validate()?;
    let mut names = vec![other_name(oid::BASIC_INFO_NAME, utf8(&info.name)?)];
    if let Some(map) = &info.name_substitutes {
        let value = utf8(&map.to_text())?;
        names.push(other_name(oid::BASIC_INFO_NAME_SUBSTITUTES, value));
    }
    let sex = info.sex.code().to_string();
    names.push(other_name(oid::BASIC_INFO_SEX, utf8(&sex)?));
    let dob = info.date_of_birth.to_code();
    names.push(other_name(oid::BASIC_INFO_DATE_OF_BIRTH, utf8(&dob)?));
    names.push(other_name(oid::BASIC_INFO_ADDRESS, utf8(&info.address)?));
    if let Some(map) = &info.address_substitutes {
        let value = utf8(&map.to_text())?;
        names.push(other_name(oid::BASIC_INFO_ADDRESS_SUBSTITUTES, value));
    }
    for item in &info.other_items {
        let type_id: ObjectIdentifier =
            item.oid
                .parse()
                .map_err(|e: const_oid::Error| BasicInfoError::MalformedDer {
                    context: "other_items",
                    detail: e.to_string(),
                })?;
        let value = Any::from_der(&item.value_der).map_err(malformed("other_items"))?;
        names.push(other_name(type_id, value));
    }
    Ok(names)
}
