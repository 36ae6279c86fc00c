//! Ctrl-C and other stop signals: no job process is left alive, and the
//! exit status says which signal stopped us.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use rustix::process::Signal;

use crate::support::{
    binary, files_ending_with, is_alive, live_members_of_group, pids_in, send, spawn_nuclear,
    wait_for_exit, wait_gone, wait_until,
};

/// A job that starts a grandchild and records both process ids (`$$` is
/// also the job's process group).
const SLEEPER: &str = "sleep 1000 & echo $$ $! > {}.tmp; mv {}.tmp {}.pid; wait";

/// Checks that `jobs` jobs recorded their process group (the first number
/// of each `*.pid` file) and that no process of those groups is alive.
fn assert_no_job_process_alive(dir: &Path, jobs: usize) {
    let files = files_ending_with(dir, ".pid");
    assert_eq!(files.len(), jobs, "every job recorded its processes");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut pids = text.split_whitespace().map(|p| p.parse::<i32>().unwrap());
        let group = pids.next().unwrap();
        let alive = live_members_of_group(group);
        assert!(alive.is_empty(), "group {group} still has {alive:?}");
        for pid in std::iter::once(group).chain(pids) {
            assert!(!is_alive(pid), "process {pid} is alive");
        }
    }
}

#[test]
fn ctrl_c_ends_every_running_job_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = spawn_nuclear(
        dir.path(),
        &[
            "-j", "3", "--joblog", "jobs.log", SLEEPER, ":::", "a", "b", "c", "d",
        ],
    );
    wait_until("three jobs to start", || {
        files_ending_with(dir.path(), ".pid").len() == 3
    });
    send(run.id(), Signal::INT);
    assert_eq!(wait_for_exit(&mut run).code(), Some(130));
    assert_no_job_process_alive(dir.path(), 3);
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "the header only: {log}");
}

#[test]
fn a_second_ctrl_c_kills_jobs_that_ignore_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // The jobs survive SIGTERM (and note that it came); a grace period of an
    // hour leaves only the second Ctrl-C to end them.
    let stubborn = "trap 'echo > {}.term' TERM; echo $$ > {}.tmp; mv {}.tmp {}.pid; \
                    while :; do sleep 1000 & wait; done";
    let mut run = spawn_nuclear(
        dir.path(),
        &["-j", "2", "--grace", "3600", stubborn, ":::", "a", "b"],
    );
    wait_until("both jobs to start", || {
        files_ending_with(dir.path(), ".pid").len() == 2
    });
    send(run.id(), Signal::INT);
    wait_until("both jobs to get SIGTERM", || {
        files_ending_with(dir.path(), ".term").len() == 2
    });
    send(run.id(), Signal::INT);
    assert_eq!(wait_for_exit(&mut run).code(), Some(130));
    assert_no_job_process_alive(dir.path(), 2);
}

#[test]
fn sigterm_ends_the_jobs_and_exits_143() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = spawn_nuclear(dir.path(), &[SLEEPER, ":::", "a"]);
    wait_until("the job to start", || {
        files_ending_with(dir.path(), ".pid").len() == 1
    });
    send(run.id(), Signal::TERM);
    assert_eq!(wait_for_exit(&mut run).code(), Some(143));
    assert_no_job_process_alive(dir.path(), 1);
}

#[test]
fn ctrl_c_while_waiting_for_input_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Command::new(binary())
        .args(["--priority", "nuclear", "touch"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = run.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    // Its first job ran, so the event loop (and its signal handling) runs;
    // standard input stays open: dummymp waits for more.
    wait_until("the first job", || dir.path().join("first").exists());
    send(run.id(), Signal::INT);
    assert_eq!(wait_for_exit(&mut run).code(), Some(130));
    drop(stdin);
}

#[test]
fn jobs_do_not_outlive_dummymp_killed_with_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = spawn_nuclear(
        dir.path(),
        &[
            "-j", "3", "--grace", "0.2", SLEEPER, ":::", "a", "b", "c", "d",
        ],
    );
    wait_until("three jobs to start", || {
        files_ending_with(dir.path(), ".pid").len() == 3
    });
    // SIGKILL: dummymp gets no chance to end its jobs itself.
    send(run.id(), Signal::KILL);
    wait_for_exit(&mut run);
    let pids = pids_in(dir.path());
    assert_eq!(pids.len(), 6, "three jobs and their grandchildren");
    for pid in pids {
        wait_gone(pid);
    }
    assert_no_job_process_alive(dir.path(), 3);
}
