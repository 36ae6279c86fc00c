//! The system refusing processes (`RLIMIT_NPROC`) or descriptors
//! (`RLIMIT_NOFILE`): tasks wait while some of ours run, fail with the OS
//! error named when none does, none is dropped, and all runs again once
//! the limit is lifted.
//!
//! Root ignores `RLIMIT_NPROC`, so its role program runs as `nobody`
//! (through `setpriv`); each role sets its limits itself, in its own
//! process, so that no other test is touched.

mod common;

use std::process::Stdio;

use dummymp::{DummyMp, OutputMode, Priority};
use rustix::process::{Resource, Rlimit};

dummymp::enable_test_support!();

crate::role_programs! {
    "nproc" => nproc_parent(),
    "nproc-one-worker" => nproc_one_worker_parent(),
    "nofile" => nofile_parent(),
}

fn fine(x: u32) -> u32 {
    x + 1
}

fn nuclear() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp
}

/// Runs `count` tasks and prints one line per task: its outcome (and its
/// value when it returned one, which must be right).
fn run_and_print(mp: &mut DummyMp, phase: &str, count: u32) {
    let tasks: Vec<_> = (0..count).map(|x| (x, mp.run(fine, x).unwrap())).collect();
    mp.process_until_done().unwrap();
    for (x, task) in tasks {
        let outcome = mp.outcome(task).expect("every task has an outcome");
        if let Some(value) = mp.value(task) {
            assert_eq!(*value, x + 1);
        }
        println!("{phase}: {outcome}");
    }
}

/// Tasks (processes and threads) of this process's real user: what
/// `RLIMIT_NPROC` counts.
fn tasks_of_my_user() -> u64 {
    let uid = rustix::process::getuid().as_raw();
    let mut count = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        // Processes only (not the `self` and `thread-self` links).
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        };
        if field("Uid:") == Some(u64::from(uid)) {
            count += field("Threads:").unwrap_or(1);
        }
    }
    count
}

fn set_soft_limit(resource: Resource, soft: u64) {
    let hard = rustix::process::getrlimit(resource).maximum;
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(soft),
            maximum: hard,
        },
    )
    .unwrap();
}

/// Role (as `nobody`): room for no process, then for one worker at a time
/// (a worker is two tasks: itself and its relay thread), then lifted.
fn nproc_parent() -> i32 {
    assert_ne!(rustix::process::getuid().as_raw(), 0, "root ignores NPROC");
    let mut mp = nuclear();
    run_and_print(&mut mp, "warm-up", 1);
    let mine = tasks_of_my_user();
    set_soft_limit(Resource::Nproc, mine);
    run_and_print(&mut mp, "none", 3);
    // One worker and its relay thread fit, a second worker's process too,
    // but not its relay thread: its setup fails with EAGAIN and is retried.
    set_soft_limit(Resource::Nproc, mine + 3);
    run_and_print(&mut mp, "one", 6);
    set_soft_limit(Resource::Nproc, mine + 64);
    mp.set_max_processes(8);
    run_and_print(&mut mp, "lifted", 8);
    0
}

/// Role (as `nobody`): room for one worker at a time, over many tasks.
fn nproc_one_worker_parent() -> i32 {
    let mut mp = nuclear();
    run_and_print(&mut mp, "warm-up", 1);
    set_soft_limit(Resource::Nproc, tasks_of_my_user() + 3);
    run_and_print(&mut mp, "one", 60);
    0
}

/// The lowest descriptor number free in this process.
fn lowest_free_descriptor() -> u64 {
    (0..)
        .find(|n| !std::path::Path::new(&format!("/proc/self/fd/{n}")).exists())
        .unwrap()
}

/// Role: no descriptor to spare, then the limit lifted.
fn nofile_parent() -> i32 {
    let mut mp = nuclear();
    // Reads the executable's identity while descriptors are plentiful.
    run_and_print(&mut mp, "warm-up", 1);
    let original = rustix::process::getrlimit(Resource::Nofile)
        .current
        .unwrap_or(1024);
    set_soft_limit(Resource::Nofile, lowest_free_descriptor() + 1);
    run_and_print(&mut mp, "none", 3);
    set_soft_limit(Resource::Nofile, original);
    run_and_print(&mut mp, "lifted", 6);
    0
}

/// Runs a role and returns its lines, by phase.
fn phases(command: &mut std::process::Command) -> Vec<(String, String)> {
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (phase, outcome) = line.split_once(": ").unwrap();
            (phase.to_string(), outcome.to_string())
        })
        .collect()
}

fn outcomes_of<'a>(lines: &'a [(String, String)], phase: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|(p, _)| p == phase)
        .map(|(_, o)| o.as_str())
        .collect()
}

/// `role` run as an unprivileged user, for whom `RLIMIT_NPROC` counts: a
/// user id of its own (no account needs to exist), so that no other test's
/// processes count against the same limit.
fn as_unprivileged(role: &str, uid: u32) -> std::process::Command {
    let role = common::role_command(role);
    let mut command = std::process::Command::new("setpriv");
    command
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .args(["--clear-groups", "--"])
        .arg(role.get_program())
        .envs(role.get_envs().filter_map(|(k, v)| Some((k, v?))))
        // The user must be able to enter the working directory.
        .current_dir("/");
    command
}

/// Whether this test process may become `nobody` (it must be root).
fn can_become_nobody() -> bool {
    let root = rustix::process::getuid().is_root();
    if !root {
        eprintln!("skipped: becoming `nobody` needs root");
    }
    root
}

#[test]
fn a_process_limit_makes_tasks_wait_or_fail_with_eagain_and_lifting_it_recovers() {
    if !can_become_nobody() {
        return;
    }
    let lines = phases(&mut as_unprivileged("nproc", 64_601));
    assert_eq!(outcomes_of(&lines, "warm-up"), ["returned"]);
    let none = outcomes_of(&lines, "none");
    assert_eq!(none.len(), 3, "none dropped: {lines:?}");
    for outcome in none {
        assert!(
            outcome.starts_with("could not be started:")
                && outcome.contains("Resource temporarily unavailable"),
            "{outcome}"
        );
    }
    // Each waits for a running task to end and starts then (a refusal that
    // meets the end of the last running task is tried again too: see the
    // test below).
    let one = outcomes_of(&lines, "one");
    assert_eq!(one, ["returned"; 6], "{lines:?}");
    assert_eq!(outcomes_of(&lines, "lifted"), ["returned"; 8]);
}

#[test]
fn a_descriptor_limit_fails_tasks_with_emfile_and_lifting_it_recovers() {
    let lines = phases(&mut common::role_command("nofile"));
    assert_eq!(outcomes_of(&lines, "warm-up"), ["returned"]);
    let none = outcomes_of(&lines, "none");
    assert_eq!(none.len(), 3, "none dropped: {lines:?}");
    for outcome in none {
        assert!(
            outcome.starts_with("could not be started:") && outcome.contains("Too many open files"),
            "{outcome}"
        );
    }
    assert_eq!(outcomes_of(&lines, "lifted"), ["returned"; 6]);
}

#[test]
fn a_worker_refused_its_relay_thread_is_retried_even_if_the_last_task_just_ended() {
    if !can_become_nobody() {
        return;
    }
    let lines = phases(&mut as_unprivileged("nproc-one-worker", 64_602));
    let one = outcomes_of(&lines, "one");
    assert_eq!(one.len(), 60);
    let failed: Vec<_> = one.iter().filter(|o| **o != "returned").collect();
    assert!(
        failed.is_empty(),
        "{} of 60 failed: {failed:?}",
        failed.len()
    );
}
