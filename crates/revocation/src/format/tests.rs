use super::*;

#[test]
fn streaming_checksum_matches_one_shot() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let one = checksum(&data);
    for split in [0, 1, 7, 31, 32, 33, 500, 999, 1000] {
        let mut c = Checksum::default();
        c.update(&data[..split]);
        c.update(&data[split..]);
        assert_eq!(c.finish(), one, "split {split}");
    }
    let mut flipped = data.clone();
    flipped[123] ^= 1;
    assert_ne!(checksum(&flipped), one);
    assert_ne!(checksum(&data[..999]), one);
}

#[test]
fn partition_table_round_trip() {
    let parts = vec![
        PartitionMeta {
            id: "cn=Tokyo Chiyoda".into(),
            dp_name: None,
            crl_number: vec![0, 0, 1, 2],
            this_update: 1_700_000_000,
            next_update: 1_700_090_000,
            source_sha256: [7; 32],
            entries: 42,
        },
        PartitionMeta {
            id: String::new(),
            dp_name: None,
            crl_number: vec![],
            this_update: -5,
            next_update: 0,
            source_sha256: [0; 32],
            entries: 0,
        },
    ];
    let t = encode_partitions(&parts);
    assert_eq!(t.len() % 8, 0);
    let back = decode_partitions(&t, 2, 0).unwrap();
    assert_eq!(back[0].crl_number, vec![1, 2]);
    assert_eq!(back[0].id, parts[0].id);
    assert_eq!(back[1], parts[1]);
    assert!(decode_partitions(&t, 3, 0).is_err());
    assert!(decode_partitions(&t, 1, 0).is_err());
}
