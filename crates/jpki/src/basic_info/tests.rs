use der::Encode;
use der::asn1::ObjectIdentifier;
use proptest::prelude::*;

use super::*;
use crate::dob::Era;

/// One DER TLV with a definite, minimal length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn oid_tlv(oid: &str) -> Vec<u8> {
    ObjectIdentifier::new_unwrap(oid).to_der().unwrap()
}

fn utf8(text: &str) -> Vec<u8> {
    tlv(0x0C, text.as_bytes())
}

/// `[0] { type-id, [0] EXPLICIT value }`.
fn other_name(oid: &str, value_tlv: &[u8]) -> Vec<u8> {
    let mut content = oid_tlv(oid);
    content.extend(tlv(0xA0, value_tlv));
    tlv(0xA0, &content)
}

fn item(n: u32, value_tlv: &[u8]) -> Vec<u8> {
    other_name(&format!("1.2.392.200149.8.5.5.{n}"), value_tlv)
}

fn san(names: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &names.concat())
}

/// A minimal (unsigned) certificate with the given extensions.
fn cert(exts: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let alg = tlv(0x30, &oid_tlv("1.2.840.113549.1.1.11"));
    let name = tlv(0x30, &[]);
    let validity = tlv(
        0x30,
        &[tlv(0x17, b"250101000000Z"), tlv(0x17, b"300101000000Z")].concat(),
    );
    let spki = tlv(
        0x30,
        &[tlv(0x30, &oid_tlv("1.2.840.113549.1.1.1")), tlv(0x03, &[0, 1, 2])].concat(),
    );
    let exts: Vec<u8> = exts
        .iter()
        .flat_map(|(oid, value)| tlv(0x30, &[oid_tlv(oid), tlv(0x04, value)].concat()))
        .collect();
    let tbs = tlv(
        0x30,
        &[
            tlv(0xA0, &tlv(0x02, &[2])),
            tlv(0x02, &[0x12, 0x34]),
            alg.clone(),
            name.clone(),
            validity,
            name,
            spki,
            tlv(0xA3, &tlv(0x30, &exts)),
        ]
        .concat(),
    );
    tlv(0x30, &[tbs, alg, tlv(0x03, &[0, 0xAA])].concat())
}

const NAME: &str = "山田　太郎";
const ADDRESS: &str = "東京都千代田区千代田１－１";

fn items(name: &str, sex: &str, dob: &str, address: &str) -> Vec<Vec<u8>> {
    vec![
        item(1, &utf8(name)),
        item(3, &utf8(sex)),
        item(4, &utf8(dob)),
        item(5, &utf8(address)),
    ]
}

fn good_items() -> Vec<Vec<u8>> {
    items(NAME, "1", "319801231", ADDRESS)
}

fn parse(names: &[Vec<u8>]) -> Result<BasicInfo, BasicInfoError> {
    BasicInfo::from_subject_alt_name_der(&san(names))
}

#[test]
fn parses_a_certificate() {
    let der = cert(&[
        ("2.5.29.15", tlv(0x03, &[6, 0xC0])),
        ("2.5.29.17", san(&good_items())),
    ]);
    let info = BasicInfo::from_certificate_der(&der).unwrap();
    assert_eq!(info.name, NAME);
    assert_eq!(info.sex, Sex::Male);
    assert_eq!(info.date_of_birth.era, Era::Showa);
    assert_eq!(info.date_of_birth.iso_date(), "1980-12-31");
    assert_eq!(info.address, ADDRESS);
    assert_eq!(info.name_substitutes, None);
    assert!(info.other_items.is_empty());
    let dbg = format!("{info:?}");
    assert!(!dbg.contains("山田") && !dbg.contains("東京"), "{dbg}");
    assert_eq!(
        info.to_subject_alt_name_der().unwrap(),
        san(&good_items()),
        "encoder matches the hand-built DER"
    );
}

#[test]
fn certificate_level_errors() {
    let no_san = cert(&[("2.5.29.15", tlv(0x03, &[6, 0xC0]))]);
    assert_eq!(
        BasicInfo::from_certificate_der(&no_san),
        Err(BasicInfoError::NoSubjectAltName)
    );
    let twice = cert(&[
        ("2.5.29.17", san(&good_items())),
        ("2.5.29.17", san(&good_items())),
    ]);
    // x509-cert 0.3 does not refuse a repeated extension itself; our check does.
    assert_eq!(
        BasicInfo::from_certificate_der(&twice),
        Err(BasicInfoError::DuplicateSubjectAltName)
    );
    let big = vec![0x30; MAX_INPUT_LEN + 1];
    assert_eq!(
        BasicInfo::from_certificate_der(&big).unwrap_err().code(),
        "INPUT_TOO_LARGE"
    );
    assert_eq!(
        BasicInfo::from_subject_alt_name_der(&big).unwrap_err().code(),
        "INPUT_TOO_LARGE"
    );
    let good = cert(&[("2.5.29.17", san(&good_items()))]);
    for cut in [0, 1, 10, good.len() / 2, good.len() - 1] {
        let err = BasicInfo::from_certificate_der(&good[..cut]).unwrap_err();
        assert_eq!(err.code(), "MALFORMED_DER", "cut at {cut}");
    }
    let err = BasicInfo::from_certificate_der(b"garbage, not DER at all").unwrap_err();
    assert_eq!(err.code(), "MALFORMED_DER");
}

#[test]
fn substitute_maps_and_all_eras() {
    let name = "佐藤　𠮷子";
    let mut names = items(name, "2", "420000229", ADDRESS);
    names.insert(1, item(2, &utf8("00010")));
    names.push(item(6, &utf8(&format!("1{}", "0".repeat(12)))));
    let info = parse(&names).unwrap();
    assert_eq!(info.name, name);
    let map = info.name_substitutes.clone().unwrap();
    assert_eq!(map.to_text(), "00010");
    assert_eq!(map.substituted_positions(), vec![3]);
    assert_eq!(
        info.address_substitutes.as_ref().unwrap().substituted_positions(),
        vec![0]
    );
    assert_eq!(info.sex, Sex::Female);
    assert_eq!(info.date_of_birth.iso_date(), "2000-02-29");
    assert_eq!(info.to_subject_alt_name_der().unwrap(), san(&names));

    let map = SubstituteMap::parse("name", "00100", "渡辺　花子").unwrap();
    assert_eq!(map.substituted_positions(), vec![2]);

    for (code, era) in [
        ("018991231", Era::Unknown),
        ("118800101", Era::Meiji),
        ("219200601", Era::Taisho),
        ("319640229", Era::Showa),
        ("419990101", Era::Heisei),
        ("520200202", Era::Reiwa),
    ] {
        let info = parse(&items(NAME, "3", code, ADDRESS)).unwrap();
        assert_eq!(info.date_of_birth.era, era);
        assert_eq!(info.sex, Sex::Unknown);
        assert_eq!(info.date_of_birth.to_code(), code);
    }
}

#[test]
fn ignores_foreign_names_and_keeps_unknown_items() {
    let mut names = vec![
        tlv(0x82, b"example.jp"),
        tlv(0xA4, &tlv(0x30, &[])),
        other_name("1.3.6.1.4.1.311.20.2.3", &utf8("upn@example.jp")),
        other_name("1.2.392.200149.8.5.4", &utf8("not ours")),
    ];
    names.extend(good_items());
    let furigana = utf8("ヤマダ　タロウ");
    let deeper = tlv(0x30, &[tlv(0x02, &[1]), tlv(0x13, b"x")].concat());
    names.push(item(7, &furigana));
    names.push(other_name("1.2.392.200149.8.5.5.9.1", &deeper));
    let info = parse(&names).unwrap();
    assert_eq!(
        info.other_items,
        vec![
            OtherBasicInfoItem {
                oid: "1.2.392.200149.8.5.5.7".into(),
                value_der: furigana.clone(),
            },
            OtherBasicInfoItem {
                oid: "1.2.392.200149.8.5.5.9.1".into(),
                value_der: deeper,
            },
        ]
    );
    let again = BasicInfo::from_subject_alt_name_der(&info.to_subject_alt_name_der().unwrap());
    assert_eq!(again.unwrap(), info);

    // Each GeneralName on its own, in the same order, makes up the whole extnValue.
    let each = info.other_names_der().unwrap();
    assert_eq!(each.len(), 6);
    assert_eq!(san(&each), info.to_subject_alt_name_der().unwrap());
    // ... so an issuer can add a dNSName and the parser still finds the same items.
    let mut mixed = vec![tlv(0x82, b"example.jp")];
    mixed.extend(each);
    assert_eq!(parse(&mixed).unwrap(), info);
}

#[test]
fn rejects_elements_that_are_no_general_name() {
    for bad in [
        tlv(0x0C, b"bare UTF8String"),
        tlv(0x30, &[]),
        tlv(0x89, b"[9]"),
        tlv(0x80, b"primitive [0]"),
    ] {
        let mut names = good_items();
        names.push(bad.clone());
        assert_eq!(code_of(&names), "MALFORMED_DER", "{bad:02x?}");
    }
    // Every real alternative, [1] to [8], is ignored.
    let mut names = good_items();
    for tag in [0x81, 0x82, 0xA3, 0xA4, 0xA5, 0x86, 0x87, 0x88] {
        names.push(tlv(tag, b""));
    }
    assert!(parse(&names).is_ok());
}

#[test]
fn json_view() {
    let mut names = good_items();
    names.insert(1, item(2, &utf8("00000")));
    names.push(item(7, &utf8("ア")));
    let info = parse(&names).unwrap();
    let json = serde_json::to_value(info.view()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": NAME,
            "name_substitutes": "00000",
            "sex": "male",
            "sex_code": "1",
            "date_of_birth": "1980-12-31",
            "era": "showa",
            "era_digit": "3",
            "address": ADDRESS,
            "other_items": [{"oid": "1.2.392.200149.8.5.5.7", "value_der_hex": "0c03e382a2"}],
        })
    );
    assert!(!format!("{:?}", info.view()).contains("山田"));
}

fn code_of(names: &[Vec<u8>]) -> &'static str {
    parse(names).unwrap_err().code()
}

#[test]
fn item_level_errors() {
    let err = |r: Result<BasicInfo, BasicInfoError>| r.unwrap_err();
    // Wrong string types, with the tag reported.
    for (tag, found) in [
        (0x13, "PrintableString"),
        (0x1E, "BMPString"),
        (0x16, "IA5String"),
    ] {
        let mut names = good_items();
        names[2] = item(4, &tlv(tag, b"319801231"));
        assert_eq!(
            err(parse(&names)),
            BasicInfoError::WrongStringType {
                item: "date_of_birth",
                found: found.into()
            }
        );
    }
    assert_eq!(
        code_of(&items(&"山".repeat(101), "1", "319801231", ADDRESS)),
        "TOO_LONG"
    );
    assert!(parse(&items(&"山".repeat(100), "1", "319801231", ADDRESS)).is_ok());
    assert_eq!(
        err(parse(&items(NAME, "1", "319801231", &"東".repeat(201)))),
        BasicInfoError::TooLong {
            item: "address",
            chars: 201,
            max: 200
        }
    );
    assert!(parse(&items(NAME, "1", "319801231", &"東".repeat(200))).is_ok());
    assert_eq!(
        err(parse(&items("", "1", "319801231", ADDRESS))),
        BasicInfoError::Empty { item: "name" }
    );
    assert_eq!(code_of(&items(NAME, "", "319801231", ADDRESS)), "EMPTY_ITEM");
    assert_eq!(code_of(&items(NAME, "1", "319801231", "")), "EMPTY_ITEM");
    for sex in ["0", "4", "11", "１", "M"] {
        assert_eq!(code_of(&items(NAME, sex, "319801231", ADDRESS)), "BAD_SEX");
    }
    assert_eq!(
        err(parse(&items(NAME, "1", "919801231", ADDRESS))),
        BasicInfoError::BadEra { found: '9' }
    );
    assert_eq!(code_of(&items(NAME, "1", "319800230", ADDRESS)), "BAD_DATE");
    assert_eq!(code_of(&items(NAME, "1", "3198012", ADDRESS)), "BAD_DATE");

    let with_map = |map: &str| {
        let mut names = good_items();
        names.insert(1, item(2, &utf8(map)));
        names
    };
    assert_eq!(
        err(parse(&with_map("00200"))),
        BasicInfoError::BadSubstituteMap {
            item: "name",
            position: 2
        }
    );
    assert_eq!(
        err(parse(&with_map("0000"))),
        BasicInfoError::SubstituteMapLength {
            item: "name",
            map_len: 4,
            text_len: 5
        }
    );
    let mut names = good_items();
    names.push(item(6, &utf8("01")));
    assert_eq!(code_of(&names), "SUBSTITUTE_MAP_LENGTH");

    for (i, missing) in ["name", "sex", "date_of_birth", "address"].iter().enumerate() {
        let mut names = good_items();
        names.remove(i);
        assert_eq!(err(parse(&names)), BasicInfoError::MissingItem { item: missing });
    }
    assert_eq!(code_of(&[]), "MISSING_ITEM");
    let mut names = good_items();
    names.push(item(3, &utf8("2")));
    assert_eq!(err(parse(&names)), BasicInfoError::DuplicateItem { item: "sex" });
    let mut names = good_items();
    names.push(item(2, &utf8("00000")));
    names.push(item(2, &utf8("00000")));
    assert_eq!(code_of(&names), "DUPLICATE_ITEM");

    // Invalid UTF-8 inside a UTF8String.
    let mut names = good_items();
    names[0] = item(1, &tlv(0x0C, &[0xE5, 0xB1]));
    assert_eq!(code_of(&names), "MALFORMED_DER");
    // The value is not [0] EXPLICIT, or has trailing bytes.
    let mut content = oid_tlv("1.2.392.200149.8.5.5.1");
    content.extend(tlv(0xA1, &utf8(NAME)));
    let mut names = good_items();
    names[0] = tlv(0xA0, &content);
    assert_eq!(code_of(&names), "MALFORMED_DER");
    let mut names = good_items();
    names[0] = other_name("1.2.392.200149.8.5.5.1", &[utf8(NAME), utf8("x")].concat());
    assert_eq!(code_of(&names), "MALFORMED_DER");
    let whole = san(&good_items());
    for cut in 0..whole.len() {
        let err = BasicInfo::from_subject_alt_name_der(&whole[..cut]).unwrap_err();
        assert_eq!(err.code(), "MALFORMED_DER", "cut at {cut}");
    }
    let mut trailing = whole.clone();
    trailing.push(0);
    assert_eq!(
        BasicInfo::from_subject_alt_name_der(&trailing)
            .unwrap_err()
            .code(),
        "MALFORMED_DER"
    );
}

#[test]
fn encoder_refuses_what_the_parser_would_reject() {
    let good = parse(&good_items()).unwrap();
    let mut info = good.clone();
    info.name_substitutes = Some(SubstituteMap(vec![false; 3]));
    assert_eq!(
        info.to_subject_alt_name_der().unwrap_err().code(),
        "SUBSTITUTE_MAP_LENGTH"
    );
    let mut info = good.clone();
    info.date_of_birth.day = 31;
    info.date_of_birth.month = 4;
    assert_eq!(
        info.to_subject_alt_name_der().unwrap_err(),
        BasicInfoError::BadDate
    );
    for (oid, der, code) in [
        ("1.2.392.200149.8.5.5.1", utf8("x"), "DUPLICATE_ITEM"),
        ("1.2.392.200149.8.5", utf8("x"), "MALFORMED_DER"),
        ("1.2.392.200149.8.5.5", utf8("x"), "MALFORMED_DER"),
        ("not an oid", utf8("x"), "MALFORMED_DER"),
        ("1.2.392.200149.8.5.5.7", vec![0x0C, 0x05, b'x'], "MALFORMED_DER"),
        (
            "1.2.392.200149.8.5.5.7",
            [utf8("x"), utf8("y")].concat(),
            "MALFORMED_DER",
        ),
    ] {
        let mut info = good.clone();
        info.other_items.push(OtherBasicInfoItem {
            oid: oid.into(),
            value_der: der,
        });
        assert_eq!(info.validate().unwrap_err().code(), code, "{oid}");
        assert!(info.to_subject_alt_name_der().is_err());
    }
}

fn arb_map(text: &str) -> impl Strategy<Value = Option<SubstituteMap>> + use<> {
    proptest::option::of(proptest::collection::vec(any::<bool>(), text.chars().count()))
        .prop_map(|m| m.map(SubstituteMap))
}

fn arb_basic_info() -> impl Strategy<Value = BasicInfo> {
    let name = "[山田太郎花子髙𠮷　A-Za-z０-９ー・]{1,100}";
    let address = "[東京都千代田区大阪府１２３４－丁目番地号 a-z𠮷]{1,200}";
    let dob = (0..6usize, 1800u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(e, year, month, day)| DateOfBirth {
        era: Era::ALL[e],
        year,
        month,
        day,
    });
    let sex = prop_oneof![Just(Sex::Male), Just(Sex::Female), Just(Sex::Unknown)];
    let others = proptest::collection::vec((7u32..1000, "\\PC{0,20}"), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(n, text)| OtherBasicInfoItem {
                oid: format!("1.2.392.200149.8.5.5.{n}"),
                value_der: utf8(&text),
            })
            .collect::<Vec<_>>()
    });
    (name, address, dob, sex, others).prop_flat_map(|(name, address, dob, sex, others)| {
        (arb_map(&name), arb_map(&address)).prop_map(move |(nm, am)| BasicInfo {
            name: name.clone(),
            name_substitutes: nm,
            sex,
            date_of_birth: dob,
            address: address.clone(),
            address_substitutes: am,
            other_items: others.clone(),
        })
    })
}

proptest! {
    #[test]
    fn encode_parse_round_trip(info in arb_basic_info()) {
        let der = info.to_subject_alt_name_der().unwrap();
        prop_assert_eq!(BasicInfo::from_subject_alt_name_der(&der).unwrap(), info.clone());
        let cert = cert(&[("2.5.29.17", der)]);
        prop_assert_eq!(BasicInfo::from_certificate_der(&cert).unwrap(), info);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let a = BasicInfo::from_subject_alt_name_der(&bytes);
        prop_assert_eq!(a, BasicInfo::from_subject_alt_name_der(&bytes));
        let c = BasicInfo::from_certificate_der(&bytes);
        prop_assert_eq!(c, BasicInfo::from_certificate_der(&bytes));
    }

    #[test]
    fn mutated_san_never_panics(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut der = san(&good_items());
        let i = pos.index(der.len());
        der[i] = byte;
        let first = BasicInfo::from_subject_alt_name_der(&der);
        prop_assert_eq!(first.clone(), BasicInfo::from_subject_alt_name_der(&der));
        if let Ok(info) = first {
            // Whatever parses re-encodes and parses back to the same value.
            let again = info.to_subject_alt_name_der().unwrap();
            prop_assert_eq!(BasicInfo::from_subject_alt_name_der(&again).unwrap(), info);
        }
    }
}

/// Cross-check with OpenSSL: a certificate whose otherNames OpenSSL encoded parses, and our
/// encoder produces the same extnValue bytes.
#[test]
fn parses_an_openssl_certificate() {
    use std::process::Command;
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl CLI not found; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let names = [
        (1, "佐藤　𠮷子"),
        (2, "00010"),
        (3, "2"),
        (4, "419890108"),
        (5, ADDRESS),
        (7, "サトウ　ヨシコ"),
    ];
    // A config section, because `FORMAT:UTF8,` (input is UTF-8, not Latin-1) has a comma.
    let alt: String = names
        .iter()
        .enumerate()
        .map(|(i, (n, v))| format!("otherName.{i} = 1.2.392.200149.8.5.5.{n};FORMAT:UTF8,UTF8:{v}\n"))
        .collect();
    let cfg = format!(
        "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n\
         [dn]\nC = JP\nCN = test\n[ext]\nsubjectAltName = @alt\n[alt]\n{alt}"
    );
    std::fs::write(dir.path().join("req.cnf"), cfg).unwrap();
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem",
        ])
        .args([
            "-config", "req.cnf", "-outform", "DER", "-out", "c.der", "-days", "1",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let der = std::fs::read(dir.path().join("c.der")).unwrap();
    let info = BasicInfo::from_certificate_der(&der).unwrap();
    assert_eq!(info.name, "佐藤　𠮷子");
    assert_eq!(
        info.name_substitutes.as_ref().unwrap().substituted_positions(),
        vec![3]
    );
    assert_eq!(info.sex, Sex::Female);
    assert_eq!(info.date_of_birth.iso_date(), "1989-01-08");
    assert_eq!(info.date_of_birth.era, Era::Heisei);
    assert_eq!(info.address, ADDRESS);
    assert_eq!(info.other_items[0].value_der, utf8("サトウ　ヨシコ"));
    let ours = info.to_subject_alt_name_der().unwrap();
    assert!(
        der.windows(ours.len()).any(|w| w == ours),
        "our encoding equals OpenSSL's extnValue"
    );
}
