//! Memory admission of the library: what a task needs is learned per
//! function (not per signature), and in a memory cgroup of the test's own
//! (300 MiB, no swap; needs root, see `common/cgroup.rs`) tasks that fit only
//! alone run one after the other, and a task the out-of-memory killer ends
//! is named so, may be retried, and keeps no later task from running.

#[path = "common/cgroup.rs"]
mod cgroup;
mod common;

use std::io::BufRead;

use dummymp::engine::TaskSpec;
use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority, TaskOptions};

use cgroup::MemoryCgroup;
use common::PATIENCE;

dummymp::enable_test_support!();

crate::role_programs! {
    "allocate" => allocate(),
    "fit-alone" => fit_alone(),
    "oom" => oom(),
}

const MIB: u64 = 1 << 20;

/// Takes `mib` MiB of memory (every page touched) for a moment.
fn fat(mib: u64) -> u64 {
    let taken = vec![1u8; (mib * MIB) as usize];
    std::hint::black_box(&taken)
        .iter()
        .step_by(4096)
        .map(|&b| u64::from(b))
        .sum()
}

/// Takes next to nothing; same signature as [`fat`].
fn thin(x: u64) -> u64 {
    x + 1
}

/// The `allocate` role: [`fat`] of `$MIB` MiB, as a command.
fn allocate() -> i32 {
    let mib = std::env::var("MIB")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    fat(mib);
    0
}

fn allocate_command(mib: u64) -> Command {
    Command::new(std::env::current_exe().expect("test executable"))
        .env("DUMMYMP_TEST_ROLE", "allocate")
        .env("MIB", mib.to_string())
}

#[test]
fn each_function_learns_the_memory_it_needs_apart_from_others_of_its_signature() {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    let big = mp.run(fat, 64).unwrap();
    mp.process_until_done().unwrap();
    assert!(matches!(mp.outcome(big), Some(Outcome::Returned)));
    let fat_key = TaskSpec::call(fat, 0).unwrap().memory_key().to_string();
    let thin_key = TaskSpec::call(thin, 0).unwrap().memory_key().to_string();
    let learned = mp.scheduler().learned_memory(&fat_key);
    assert!(learned.is_some_and(|peak| peak >= 64 * MIB), "{learned:?}");
    assert_eq!(
        mp.scheduler().learned_memory(&thin_key),
        None,
        "thin has the signature of fat ({fat_key}), not its memory"
    );
}

/// The `fit-alone` role, run in the cgroup: tasks of 270 MiB each, one at
/// a time, in the default mode (Normal keeps 30 MiB of the 300 free). The
/// first runs before anything is learned; the next ones fit only with
/// none of ours running, and so start then (they waited for ever). Prints
/// one line per task.
fn fit_alone() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_output_mode(OutputMode::Captured);
    mp.set_max_processes(1);
    let ids: Vec<_> = (0..3)
        .map(|_| mp.run_command(allocate_command(270)).unwrap())
        .collect();
    mp.process_until_done().unwrap();
    for id in ids {
        println!("{}", mp.outcome(id).unwrap());
    }
    0
}

/// The `oom` role, run in the cgroup: a function that takes more than the
/// cgroup holds, retried once (the out-of-memory killer ends it twice),
/// then another function of its signature and itself with a small
/// argument. Prints one line per task.
fn oom() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_output_mode(OutputMode::Captured);
    mp.set_max_processes(1);
    let killed = mp
        .run_with(TaskOptions::new().retries(1), fat, 400)
        .unwrap();
    let other = mp.run(thin, 1).unwrap();
    let again = mp.run(fat, 1).unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(killed).unwrap();
    println!("{} after {} attempts", report.outcome, report.attempts);
    println!("{}", mp.outcome(other).unwrap());
    println!("{}", mp.outcome(again).unwrap());
    0
}

/// Runs `role` in a new 300 MiB cgroup; its lines, or `None` when the
/// test is skipped. Fails when it hangs for [`PATIENCE`] or fails.
fn run_in_small_cgroup(role: &str) -> Option<Vec<String>> {
    let cgroup = MemoryCgroup::for_test(role, 300 * MIB)?;
    let mut command = cgroup.command(std::env::current_exe().unwrap());
    command
        .env("DUMMYMP_TEST_ROLE", role)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let mut child = command.spawn().expect("the role starts");
    let pid = child.id();
    // Ends the role (with its whole PID namespace) if it hangs.
    let watchdog = std::thread::spawn(move || {
        if common::wait_gone(pid, PATIENCE) {
            return true;
        }
        common::send_signal(pid, rustix::process::Signal::KILL);
        false
    });
    let lines: Vec<String> = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| line.unwrap())
        .collect();
    let status = child.wait().unwrap();
    assert!(
        watchdog.join().unwrap(),
        "{role} hung for {PATIENCE:?}; it printed {lines:?}"
    );
    assert!(status.success(), "{role}: {status:?}; it printed {lines:?}");
    Some(lines)
}

#[test]
fn in_a_small_cgroup_tasks_that_fit_only_alone_start_alone() {
    let Some(lines) = run_in_small_cgroup("fit-alone") else {
        return;
    };
    assert_eq!(lines, ["exited with code 0"; 3]);
}

#[test]
fn in_a_small_cgroup_an_oom_kill_is_named_and_poisons_nothing() {
    let Some(lines) = run_in_small_cgroup("oom") else {
        return;
    };
    let oom = Outcome::OutOfMemory {
        limit: Some(300 * MIB),
    };
    assert_eq!(
        lines,
        [
            format!("{oom} after 2 attempts"),
            "returned".to_string(),
            "returned".to_string(),
        ]
    );
}
