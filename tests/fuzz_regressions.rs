//! Inputs the protocol decoder must survive: every file in
//! `fuzz/regressions/protocol_decoder/` (crashes the fuzzers found, kept
//! once fixed) and the seeds, through the same entry point the fuzz target
//! uses.

use dummymp::__fuzz::{decode_protocol_bytes, sample_protocol_bytes};

fn files_in(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_well_formed_stream_decodes_in_pieces_of_any_size() {
    let stream = sample_protocol_bytes();
    for selector in 0..64u8 {
        let mut input = stream.clone();
        input[0] = selector;
        assert_eq!(
            decode_protocol_bytes(&input),
            5,
            "pieces of {}",
            selector + 1
        );
    }
}

#[test]
fn hostile_streams_end_the_decoding_without_a_panic() {
    let sample = sample_protocol_bytes();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("selector only".into(), vec![3]),
        (
            "claims 4 GiB".into(),
            [&[1u8][..], &u32::MAX.to_le_bytes(), &[0; 8]].concat(),
        ),
        (
            "claims 1 GiB - 1".into(),
            [&[1u8][..], &((1u32 << 30) - 1).to_le_bytes(), b"abc"].concat(),
        ),
        ("zero-length frame".into(), vec![0, 0, 0, 0, 0]),
        ("unknown variant".into(), vec![0, 2, 0, 0, 0, 9, 9]),
        (
            "cut in the middle".into(),
            sample[..sample.len() / 2].to_vec(),
        ),
        (
            "huge string length".into(),
            vec![0, 6, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ),
    ];
    cases.extend(files_in("fuzz/regressions/protocol_decoder"));
    for (name, input) in cases {
        let decoded = decode_protocol_bytes(&input);
        assert!(decoded <= input.len(), "{name}: {decoded} messages");
    }
}
