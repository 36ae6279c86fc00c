//! Many tasks through the library: every result present once, the
//! parent's descriptors and children back to where they were, and memory
//! that grows with the stored results only.
//!
//! `cargo test` runs 2,000 tasks; `DUMMYMP_LOAD_TASKS=10000` (as
//! `bench/soak/run.sh` does) runs the full size.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;

use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority};

dummymp::enable_test_support!();

crate::role_programs! {
    "load" => load_parent(),
}

fn square(x: u64) -> u64 {
    x * x
}

fn task_count() -> u64 {
    std::env::var("DUMMYMP_LOAD_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// This process's open descriptors.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Processes (zombies included) whose parent is this process.
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .to_owned();
            (parent == me).then_some(pid)
        })
        .collect()
}

/// Role: runs `count` tasks (one in ten a command), checks every result,
/// and prints `count tasks, N descriptors before, N after, N children
/// after, peak K kB, K kB after the first tenth`.
fn load_parent() -> i32 {
    let count = task_count();
    let fds_before = open_descriptors();
    let children_before = children().len();
    let mut peak_after_tenth = 0;
    {
        let mut mp = DummyMp::new();
        mp.set_priority_mode(Priority::Nuclear);
        mp.set_max_processes(4);
        mp.set_output_mode(OutputMode::Captured);
        let mut commands = Vec::new();
        for x in 0..count {
            if x % 10 == 9 {
                let code = (x % 7) as i32;
                let id = mp
                    .run_command(Command::new("sh").arg("-c").arg(format!("exit {code}")))
                    .unwrap();
                commands.push((id, code));
            } else {
                mp.run(square, x).unwrap();
            }
            if x == count / 10 {
                mp.process_until_done().unwrap();
                peak_after_tenth = common::peak_rss_kib();
            }
        }
        mp.process_until_done().unwrap();

        let returns: BTreeMap<usize, u64> = mp.returns::<u64>().expect("every return is a u64");
        let expected: BTreeMap<usize, u64> = (0..count)
            .filter(|x| x % 10 != 9)
            .map(|x| (x as usize, x * x))
            .collect();
        assert_eq!(returns, expected, "every value once, by call index");
        for (id, code) in commands {
            assert_eq!(mp.outcome(id), Some(&Outcome::Exited { code }));
        }
        assert_eq!(mp.progress().completed, count as usize);
        assert_eq!(mp.reports().count(), count as usize);
    }
    // Dropped: its watchdog (for the commands) has been told to go.
    let children_after = children();
    println!(
        "{count} tasks, {fds_before} descriptors before, {} after, {children_before} children \
         before, {} after, peak {} kB, {peak_after_tenth} kB after the first tenth; children \
         now: {children_after:?}",
        open_descriptors(),
        children_after.len(),
        common::peak_rss_kib()
    );
    0
}

#[test]
fn many_tasks_return_every_value_once_and_leave_nothing_behind() {
    let output = common::role_command("load")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    eprintln!("{stdout}");
    let numbers: Vec<u64> = stdout
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    // count, fds before, fds after, children before, children after, ...
    assert_eq!(numbers[1], numbers[2], "descriptors back: {stdout}");
    assert_eq!(numbers[3], numbers[4], "children back: {stdout}");
    // What grows is the stored reports and values, some hundreds of bytes
    // a task, not the engine's state.
    let (count, peak, after_tenth) = (numbers[0], numbers[5], numbers[6]);
    let per_task = (peak.saturating_sub(after_tenth) * 1024) / (count - count / 10);
    assert!(per_task < 2048, "{per_task} bytes a task: {stdout}");
}
