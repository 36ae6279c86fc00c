//! A task that prints a 64 MiB line without a newline and one that prints
//! 1,000,000 short lines, while 50 others print: no deadlock, no line of
//! one task mixed with another's, and the parent's memory stays bounded.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use dummymp::{DummyMp, OutputMode, Priority};

dummymp::enable_test_support!();

crate::role_programs! {
    "flood" => flood_parent(),
}

/// The length of the long line.
const LONG_LINE: usize = 64 << 20;
/// How many lines the chatty task prints.
const MANY_LINES: u32 = 1_000_000;
/// How many other tasks print meanwhile, and how many lines each.
const OTHERS: u32 = 50;
const OTHER_LINES: u32 = 2_000;

/// Prints `LONG_LINE` bytes of `x`, with no newline at all.
fn long_line((): ()) -> u8 {
    let block = vec![b'x'; 64 * 1024];
    let mut out = std::io::stdout().lock();
    for _ in 0..LONG_LINE / block.len() {
        out.write_all(&block).unwrap();
    }
    out.flush().unwrap();
    1
}

/// Prints `MANY_LINES` short lines.
fn many_lines((): ()) -> u8 {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..MANY_LINES {
        writeln!(out, "many {i}").unwrap();
    }
    out.flush().unwrap();
    2
}

/// Prints `OTHER_LINES` lines naming itself, through `println!` (each its
/// own write).
fn other(id: u32) -> u8 {
    for i in 0..OTHER_LINES {
        println!("other {id} {i}");
    }
    3
}

/// Role: runs them all at once with tagged output to its standard output;
/// prints its peak resident memory (kB) to standard error at the end.
fn flood_parent() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Tagged);
    let long = mp.run(long_line, ()).unwrap();
    let many = mp.run(many_lines, ()).unwrap();
    let others: Vec<_> = (0..OTHERS).map(|id| mp.run(other, id).unwrap()).collect();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(long), Some(&1));
    assert_eq!(mp.value(many), Some(&2));
    for task in others {
        assert_eq!(mp.value(task), Some(&3));
    }
    std::io::stdout().flush().unwrap();
    eprintln!("peak {}", common::peak_rss_kib());
    0
}

#[test]
fn floods_of_output_neither_block_nor_mix_and_memory_stays_bounded() {
    let mut role = common::role_command("flood")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read as it comes (the role would block on a full pipe otherwise).
    let mut x_bytes = 0usize;
    let mut many_next = 0u32;
    let mut others_next: HashMap<u32, u32> = HashMap::new();
    let mut pid_of: HashMap<&'static str, String> = HashMap::new();
    let mut reader = BufReader::with_capacity(1 << 20, role.stdout.take().unwrap());
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        assert_eq!(line.last(), Some(&b'\n'), "every relayed line ends");
        let text = &line[..line.len() - 1];
        let tag_end = text.iter().position(|&b| b == b']').expect("a [PID n] tag") + 2;
        let (tag, body) = text.split_at(tag_end);
        let tag = String::from_utf8(tag.to_vec()).unwrap();
        let kind: &'static str = if body.first() == Some(&b'x') {
            assert!(
                body.iter().all(|&b| b == b'x'),
                "a piece of the long line, unmixed"
            );
            x_bytes += body.len();
            "long"
        } else {
            let body = std::str::from_utf8(body).expect("whole short lines");
            let words: Vec<&str> = body.split(' ').collect();
            match words[..] {
                ["many", i] => {
                    assert_eq!(i.parse::<u32>().unwrap(), many_next, "in order, none lost");
                    many_next += 1;
                    "many"
                }
                ["other", id, i] => {
                    let id: u32 = id.parse().unwrap();
                    let next = others_next.entry(id).or_default();
                    assert_eq!(i.parse::<u32>().unwrap(), *next, "other {id} in order");
                    *next += 1;
                    "other"
                }
                _ => panic!("a mixed or unknown line: {body:?}"),
            }
        };
        if kind != "other" {
            let known = pid_of.entry(kind).or_insert_with(|| tag.clone());
            assert_eq!(*known, tag, "every {kind} line carries its task's tag");
        }
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut role.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(role.wait().unwrap().success(), "{stderr}");
    assert_eq!(x_bytes, LONG_LINE, "all of the long line arrived");
    assert_eq!(many_next, MANY_LINES);
    assert_eq!(others_next.len(), OTHERS as usize);
    assert!(others_next.values().all(|&n| n == OTHER_LINES));
    let peak_kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak "))
        .expect("the role says its peak")
        .parse()
        .unwrap();
    // Holding the long line whole would take 64 MiB on its own: the parent
    // passes it on in pieces of at most 1 MiB instead.
    eprintln!("parent peak RSS {peak_kib} kB");
    assert!(peak_kib < 32 * 1024, "peak {peak_kib} kB");
}
