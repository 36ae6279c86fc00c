//! Two programs using dummymp on one machine, both in Normal mode: each
//! counts the other's tasks as foreign load, and together they share the
//! CPUs instead of each taking all of them.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use dummymp::{DummyMp, OutputMode, Priority};

dummymp::enable_test_support!();

crate::role_programs! {
    "sharer" => sharer(),
}

/// Spins until the file `stop` exists.
fn spin(stop: String) -> u8 {
    let stop = Path::new(&stop);
    let mut x = 0u64;
    while !stop.exists() {
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
    }
    (x % 2) as u8
}

/// Role: a Normal-mode program with four CPU-bound tasks (on two usable
/// CPUs). Prints, whenever something changed, one line: `running N pids
/// P,P foreign P,P` (its workers and the foreign processes its last
/// measurement counted).
fn sharer() -> i32 {
    let stop = std::env::var("SHARER_STOP").unwrap();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Normal);
    mp.set_output_mode(OutputMode::Captured);
    for _ in 0..4 {
        mp.run(spin, stop.clone()).unwrap();
    }
    let mut last = String::new();
    loop {
        let done = mp.wait(Some(Duration::from_millis(100))).unwrap();
        let pids: Vec<String> = mp.running_pids().iter().map(u32::to_string).collect();
        let foreign: Vec<String> = mp
            .scheduler()
            .measurement()
            .map(|m| m.counted.iter().map(|p| p.pid.to_string()).collect())
            .unwrap_or_default();
        let line = format!(
            "running {} pids {} foreign {}",
            pids.len(),
            pids.join(","),
            foreign.join(",")
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        if done {
            return 0;
        }
    }
}

/// What a sharer said last.
#[derive(Debug, Default, Clone)]
struct Seen {
    running: usize,
    pids: BTreeSet<u32>,
    foreign: BTreeSet<u32>,
}

fn parse(line: &str) -> Seen {
    let words: Vec<&str> = line.split(' ').collect();
    let set = |w: &str| {
        w.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap())
            .collect()
    };
    Seen {
        running: words[1].parse().unwrap(),
        pids: set(words.get(3).copied().unwrap_or("")),
        foreign: set(words.get(5).copied().unwrap_or("")),
    }
}

fn start(stop: &Path) -> (Child, std::io::Lines<BufReader<ChildStdout>>) {
    let mut child = common::role_command("sharer")
        .env("SHARER_STOP", stop)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Reads `lines` until `condition` holds for what they say (or fails
/// after a generous while); returns that.
fn read_until(
    lines: &mut std::io::Lines<BufReader<ChildStdout>>,
    what: &str,
    mut condition: impl FnMut(&Seen) -> bool,
) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in lines.by_ref() {
        let seen = parse(&line.unwrap());
        if condition(&seen) {
            return seen;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
    }
    panic!("the sharer ended before {what}");
}

#[test]
fn two_normal_programs_see_each_others_tasks_and_share_the_cpus() {
    let _cpus = common::cpu_heavy_section();
    let usable = dummymp::usable_cpus();
    if usable != 2 {
        eprintln!("skipped: written for 2 usable CPUs, this machine has {usable}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stop: PathBuf = dir.path().join("stop");
    let (mut first, mut first_lines) = start(&stop);
    let first_seen = read_until(&mut first_lines, "the first program's tasks", |s| {
        s.running >= 1
    });
    // The second starts while the first's workers spin.
    let (mut second, mut second_lines) = start(&stop);
    let second_seen = read_until(
        &mut second_lines,
        "the second program to count the first's workers",
        |s| s.running >= 1 && !s.foreign.is_empty(),
    );
    assert!(
        first_seen
            .pids
            .iter()
            .any(|p| second_seen.foreign.contains(p)),
        "the second counts the first's workers as foreign: {first_seen:?} {second_seen:?}"
    );
    // The first re-measures while its other tasks wait (every 10 s in
    // Normal mode) and counts the second's worker in turn.
    let first_later = read_until(
        &mut first_lines,
        "the first program to count the second's worker",
        |s| s.foreign.iter().any(|p| second_seen.pids.contains(p)),
    );
    // Together they run fewer tasks than both taking every CPU would (4):
    // the second runs at most the one task Normal mode allows when no CPU
    // is free and none of its own runs.
    assert!(second_seen.running <= 1, "{second_seen:?}");
    assert!(
        first_later.running + second_seen.running < 4,
        "{first_later:?} {second_seen:?}"
    );
    eprintln!("first {first_seen:?}\nsecond {second_seen:?}\nfirst later {first_later:?}");
    std::fs::write(&stop, b"").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
}
