//! Fuzzes the delta-stream entry parse: the input, split at NUL bytes, is a list of alternating
//! field names and values. Whatever parses must re-encode to fields that parse back to the same
//! event and encode the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revocation::DeltaEvent;

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let fields: Vec<(&[u8], &[u8])> = parts
        .chunks(2)
        .map(|pair| match pair {
            [name, value] => (*name, *value),
            [name] => (*name, &[][..]),
            _ => unreachable!("chunks(2) yields one or two parts"),
        })
        .collect();
    if let Ok(event) = DeltaEvent::from_fields(fields) {
        let encoded = event.to_fields();
        let again = DeltaEvent::from_fields(encoded.clone()).expect("an encoded event parses");
        assert_eq!(again, event);
        assert_eq!(again.to_fields(), encoded);
    }
});
