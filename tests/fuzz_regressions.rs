//! Inputs the protocol decoder must survive: every file in
//! `fuzz/regressions/protocol_decoder/` (hostile streams made by hand,
//! well-formed ones cut and mixed, and any crash the fuzzers find, kept
//! once fixed) and the seeds, through the same entry point the fuzz target
//! uses.

use dummymp::__fuzz::{decode_protocol_bytes, sample_protocol_bytes};

/// The files of `dir` (relative to the repository), by name. Fails when the
/// folder is missing or empty: a replay of nothing would pass silently.
fn files_in(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the regression folder {} is missing: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    assert!(!files.is_empty(), "no input in {}", dir.display());
    files.sort();
    files
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
            "cut in the middle".into(),
            sample[..sample.len() / 2].to_vec(),
        ),
    ];
    cases.extend(files_in("fuzz/regressions/protocol_decoder"));
    for (name, input) in cases {
        let decoded = decode_protocol_bytes(&input);
        assert!(decoded <= input.len(), "{name}: {decoded} messages");
    }
}
