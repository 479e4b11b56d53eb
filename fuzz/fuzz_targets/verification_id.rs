//! Fuzzes the verification ids SPs send back and the Redis values that carry registered
//! certificates: any text opens to nothing or to a certificate whose partition fits; a value that
//! parses writes back to text that parses to the same certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_gateway::ids::{CertRef, IdSealer, partition_fits};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sealer = IdSealer::new(&[7u8; 32]);
    if let Some(id) = sealer.open("bank-a", &text) {
        // Only the key's holder can make an id that opens; a fuzzer finding one is a bug.
        panic!("an id opened without the key: {id:?}");
    }
    // Whatever the text, as a certificate's partition: sealed and opened, it is kept only if
    // it fits, and the id opens for its SP alone.
    if let Ok(serial) = jpki::Serial::from_magnitude(data.get(..data.len().min(20)).unwrap_or_default()) {
        let c = CertRef {
            tag: [1, 2, 3, 4],
            serial,
            partition: Some(text.to_string()),
        };
        let id = sealer.seal("bank-a", Some(&c)).expect("sealing works");
        let opened = sealer.open("bank-a", &id).expect("a sealed id opens").cert.expect("with its certificate");
        assert_eq!(opened.partition.is_some(), partition_fits(&text));
        assert!(sealer.open("bank-b", &id).is_none());
        assert_eq!(CertRef::from_value(&c.to_value()), Some(opened));
    }
    for value in [CertRef::from_value(&text), CertRef::from_serials_entry(&text, jpki::Serial::from_u64(1))]
        .into_iter()
        .flatten()
    {
        assert!(value.partition.as_deref().is_none_or(partition_fits));
        assert_eq!(CertRef::from_value(&value.to_value()), Some(value.clone()));
    }
});
