//! A fuzzer that needs only stable Rust: feeds a target inputs mutated from
//! its seed corpus by a seeded random generator, for a bounded time, and
//! saves every input that panics.
//!
//! It has no coverage feedback (libFuzzer, through `cargo fuzz`, has); it
//! is the fallback `fuzz/run.sh` uses where libFuzzer cannot be built.
//!
//! ```text
//! stable_fuzz TARGET SECONDS SEED [CORPUS_DIR] [ARTIFACT_DIR]
//! ```
//!
//! Prints one line: `TARGET: N executions in S s, C crashes`.
//! `stable_fuzz write-seed FILE` writes a well-formed protocol stream (a
//! seed for the protocol decoder's corpus) to FILE.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small, fast, seeded generator (xorshift64*): the same seed gives the
/// same inputs.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte strings that matter to the targets: frame lengths at the edges,
/// replacement strings, shell syntax.
const DICTIONARY: &[&[u8]] = &[
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0x3f],
    &[0x00, 0x00, 0x00, 0x40],
    &[0x01, 0x00, 0x00, 0x40],
    &[0, 0, 0, 0],
    &[0x80, 0x80, 0x80, 0x80, 0x0f],
    b"{}",
    b"{.}",
    b"{/}",
    b"{//}",
    b"{/.}",
    b"{#}",
    b"{%}",
    b"{1}",
    b"{2.}",
    b"{3//}",
    b"{99999999999999999999}",
    b"{0}",
    b"{",
    b"}",
    b"'",
    b"\"",
    b"$(",
    b"`",
    b"\\",
    b";",
    b"\n",
    b"cd",
    b"\xff\xfe",
];

fn mutate(random: &mut Random, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = if corpus.is_empty() || random.below(8) == 0 {
        Vec::new()
    } else {
        corpus[random.below(corpus.len())].clone()
    };
    for _ in 0..=random.below(8) {
        match random.below(7) {
            0 => {
                // Random bytes somewhere.
                let at = random.below(data.len() + 1);
                let count = random.below(16) + 1;
                let bytes: Vec<u8> = (0..count).map(|_| random.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            1 if !data.is_empty() => {
                let at = random.below(data.len());
                data[at] ^= 1 << random.below(8);
            }
            2 if !data.is_empty() => {
                let from = random.below(data.len());
                let to = (from + random.below(32)).min(data.len());
                data.drain(from..to);
            }
            3 => {
                let word = DICTIONARY[random.below(DICTIONARY.len())];
                let at = random.below(data.len() + 1);
                data.splice(at..at, word.iter().copied());
            }
            4 if !data.is_empty() => {
                // Duplicate a piece (repeated frames, repeated words).
                let from = random.below(data.len());
                let to = (from + random.below(64) + 1).min(data.len());
                let piece = data[from..to].to_vec();
                let at = random.below(data.len() + 1);
                data.splice(at..at, piece);
            }
            5 if !data.is_empty() => {
                data.truncate(random.below(data.len()));
            }
            _ => {
                let other = if corpus.is_empty() {
                    Vec::new()
                } else {
                    corpus[random.below(corpus.len())].clone()
                };
                let at = random.below(data.len() + 1);
                data.splice(at..at, other);
            }
        }
    }
    data.truncate(64 * 1024);
    data
}

fn read_corpus(dir: Option<&Path>) -> Vec<Vec<u8>> {
    let Some(dir) = dir else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// A name for an input: FNV-1a of its bytes, in hex.
fn name_of(data: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "write-seed" {
        std::fs::write(&args[2], dummymp::__fuzz::sample_protocol_bytes()).expect("seed written");
        return;
    }
    if args.len() < 4 {
        eprintln!("usage: stable_fuzz TARGET SECONDS SEED [CORPUS_DIR] [ARTIFACT_DIR]");
        std::process::exit(2);
    }
    let target: fn(&[u8]) = match args[1].as_str() {
        "protocol_decoder" => dummymp_fuzz::protocol_decoder,
        "cli_template" => dummymp_fuzz::cli_template,
        other => {
            eprintln!("unknown target {other}");
            std::process::exit(2);
        }
    };
    let seconds: f64 = args[2].parse().expect("SECONDS is a number");
    let seed: u64 = args[3].parse().expect("SEED is a number");
    let mut corpus = read_corpus(args.get(4).map(Path::new));
    if args[1] == "protocol_decoder" {
        corpus.push(dummymp::__fuzz::sample_protocol_bytes());
    }
    let artifacts = args.get(5).map(PathBuf::from);
    let mut random = Random(seed | 1);
    let started = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    let (mut executions, mut crashes) = (0u64, 0u64);
    // Quiet panics: each crash is saved and counted instead.
    std::panic::set_hook(Box::new(|_| {}));
    while started.elapsed() < budget {
        for _ in 0..256 {
            let input = mutate(&mut random, &corpus);
            executions += 1;
            if std::panic::catch_unwind(|| target(&input)).is_err() {
                crashes += 1;
                if let Some(dir) = &artifacts {
                    let _ = std::fs::create_dir_all(dir);
                    let _ = std::fs::write(dir.join(format!("crash-{}", name_of(&input))), &input);
                }
            }
        }
    }
    println!(
        "{}: {executions} executions in {:.1} s, {crashes} crashes",
        args[1],
        started.elapsed().as_secs_f64()
    );
    std::process::exit(i32::from(crashes > 0));
}
