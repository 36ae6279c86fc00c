//! Log records and output lines of tasks reach the parent intact.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::Stdio;

use dummymp::{DummyMp, OutputMode, Priority};

dummymp::enable_test_support!();

// Role programs run instead of the tests when asked to (see
// `common::role_command`).
crate::role_programs! {
    "interleave-tagged" => interleave(OutputMode::Tagged),
    "interleave-untagged" => interleave(OutputMode::Untagged),
}

const TASKS: u32 = 4;
const LINES: u32 = 2000;

/// Writes `LINES` long lines to stdout and stderr, each in several pieces
/// with flushes in between, so that whole-line relaying is put to the test.
fn chatter(index: u32) -> u32 {
    let payload: String = std::iter::repeat_n(char::from(b'a' + index as u8), 300).collect();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for n in 0..LINES {
        write!(out, "task{index}-line{n}:").unwrap();
        out.flush().unwrap();
        out.write_all(&payload.as_bytes()[..150]).unwrap();
        out.flush().unwrap();
        out.write_all(&payload.as_bytes()[150..]).unwrap();
        writeln!(out).unwrap();
        if n % 10 == 0 {
            write!(err, "task{index}-err{n}:").unwrap();
            err.flush().unwrap();
            writeln!(err, "{payload}").unwrap();
        }
    }
    out.flush().unwrap();
    index
}

fn interleave(mode: OutputMode) -> i32 {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(mode);
    for index in 0..TASKS {
        mp.run(chatter, index).unwrap();
    }
    mp.process_until_done().unwrap();
    if mp.returns::<u32>().unwrap().len() == TASKS as usize {
        0
    } else {
        1
    }
}

/// Checks that every line is one task's whole line; returns the lines per
/// task and the PID tags seen.
fn check_lines(text: &str, tagged: bool, kind: &str) -> (HashMap<u32, u32>, Vec<String>) {
    let mut per_task = HashMap::new();
    let mut tags = Vec::new();
    for line in text.lines() {
        let line = if tagged {
            let (tag, rest) = line
                .split_once("] ")
                .unwrap_or_else(|| panic!("untagged line: {line:.80}"));
            assert!(tag.starts_with("[PID "), "bad tag in {line:.80}");
            tags.push(tag.to_string());
            rest
        } else {
            line
        };
        let (head, payload) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("mixed line: {line:.80}"));
        let index: u32 = head
            .strip_prefix("task")
            .and_then(|h| h.split('-').next())
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("mixed line: {line:.80}"));
        assert!(head.contains(kind), "{kind} line expected: {line:.80}");
        let expected = char::from(b'a' + index as u8);
        assert_eq!(payload.len(), 300, "mixed line: {line:.80}");
        assert!(
            payload.chars().all(|c| c == expected),
            "mixed line: {line:.80}"
        );
        *per_task.entry(index).or_insert(0) += 1;
    }
    (per_task, tags)
}

fn run_interleave(role: &str, tagged: bool) {
    let _cpus = common::cpu_heavy_section();
    let output = common::role_command(role)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let (per_task, tags) = check_lines(&stdout, tagged, "-line");
    assert_eq!(per_task.len(), TASKS as usize);
    assert!(per_task.values().all(|&n| n == LINES), "{per_task:?}");
    let (per_task, _) = check_lines(&stderr, tagged, "-err");
    assert_eq!(per_task.len(), TASKS as usize, "{per_task:?}");
    assert!(per_task.values().all(|&n| n == LINES / 10), "{per_task:?}");
    if tagged {
        let mut distinct = tags;
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), TASKS as usize, "one PID per task");
    }
}

#[test]
fn output_lines_of_concurrent_tasks_are_never_mixed_tagged() {
    run_interleave("interleave-tagged", true);
}

#[test]
fn output_lines_of_concurrent_tasks_are_never_mixed_untagged() {
    run_interleave("interleave-untagged", false);
}

fn logs(value: u32) -> u32 {
    log::warn!(target: "keep-relay", "hello {value}");
    log::debug!(target: "keep-relay", "details {value}");
    log::trace!(target: "keep-relay", "more details {value}");
    value
}

#[test]
fn log_records_keep_level_target_module_file_and_line() {
    common::install_logger();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    let task = mp.run(logs, 42).unwrap();
    mp.process_until_done().unwrap();
    let pid = mp.report(task).unwrap().pid.unwrap();
    let records = common::kept_records("keep-relay");
    let levels: Vec<log::Level> = records.iter().map(|r| r.level).collect();
    assert_eq!(
        levels,
        [log::Level::Warn, log::Level::Debug, log::Level::Trace]
    );
    let first = &records[0];
    assert_eq!(first.message, format!("[PID {pid}] hello 42"));
    assert_eq!(first.module_path.as_deref(), Some("relay"));
    assert_eq!(first.file.as_deref(), Some("tests/relay.rs"));
    let line = include_str!("relay.rs")
        .lines()
        .position(|l| l.contains("\"hello {value}\""))
        .unwrap() as u32
        + 1;
    assert_eq!(first.line, Some(line));
}
