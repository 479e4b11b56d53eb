//! Fuzzes the distribution point name readers on both entry points: a certificate's
//! cRLDistributionPoints value and a CRL's issuingDistributionPoint value. Whatever names come out
//! have a matching key that is stable (the key of a key is itself).
#![no_main]

use jpki::dp_name::{from_extension_value, idp_names, partition_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in from_extension_value(data).into_iter().chain(idp_names(data)) {
        let key = partition_key(&name);
        assert_eq!(partition_key(&key), key);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let key = partition_key(text);
        assert_eq!(partition_key(&key), key);
    }
});
