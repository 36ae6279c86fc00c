//! Saying why: warnings when `--timeout` ends a job and when `--halt` stops
//! the run, `-v` explaining why jobs wait; and `--delay` and `--memfree`
//! applied by the scheduler.

use predicates::prelude::*;

use crate::support::nuclear;

/// MemAvailable, in bytes.
fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .unwrap()
        * 1024
}

#[test]
fn a_timeout_says_which_job_it_ended() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--timeout", "0.2s", "sleep {}", ":::", "60"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "dummymp: warning: job 1 was ended because it ran past its timeout of 0.2s: sleep 60",
        ));
}

#[test]
fn a_halt_says_why_the_run_stops() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([
            "-j",
            "1",
            "--halt",
            "now,fail=1",
            "exit {}",
            ":::",
            "3",
            "0",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "dummymp: --halt now,fail=1 is reached: starting no more jobs",
        ));
}

#[test]
fn delay_starts_jobs_apart() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([
            "-j", "3", "--delay", "0.3s", "--joblog", "jobs.log", "true", ":::", "a", "b", "c",
        ])
        .assert()
        .success();
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    let mut starts: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|line| line.split('\t').nth(2).unwrap().trim().parse().unwrap())
        .collect();
    starts.sort_by(f64::total_cmp);
    assert_eq!(starts.len(), 3);
    for pair in starts.windows(2) {
        // Starttime has millisecond precision.
        assert!(pair[1] - pair[0] >= 0.299, "{starts:?}");
    }
}

#[test]
fn memfree_holds_jobs_back_and_verbose_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Each job needs 60 % of what is available: one at a time.
    let size = format!("{}", available_memory() / 10 * 6);
    nuclear(dir.path())
        .args([
            "-v",
            "-j",
            "2",
            "--memfree",
            &size,
            "echo {}",
            ":::",
            "a",
            "b",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "dummymp: starting 1 (2 waiting, 0 running): ",
        ))
        .stderr(predicate::str::contains("memory available"));
}

#[test]
fn a_job_that_can_never_fit_fails_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--memfree", "1000000G", "echo {}", ":::", "a"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "dummymp: cannot run echo a: it needs 977 TiB of memory, more than this machine can \
             ever give a task",
        ));
}
