//! `-j`, `--priority` and `--nice`, through what can be observed: how many
//! jobs run at once, and that every job runs.

use predicates::prelude::*;

use crate::support::{
    COUNTING_JOB, dummymp, files_ending_with, make_fifo, most_at_once, nuclear, sorted_lines,
    spawn_nuclear, stdout_of_success, wait_for_exit, wait_until,
};

const TEN: [&str; 10] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

#[test]
fn one_job_at_a_time_with_j_1() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["-j", "1", COUNTING_JOB, ":::"])
        .args(TEN)
        .assert()
        .success();
    assert_eq!(most_at_once(&dir.path().join("concurrency.log")), 1);
}

#[test]
fn never_more_than_n_jobs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["-j", "3", COUNTING_JOB, ":::"])
        .args(TEN)
        .assert()
        .success();
    let most = most_at_once(&dir.path().join("concurrency.log"));
    assert!((1..=3).contains(&most), "{most} jobs at once");
}

#[test]
fn a_percentage_of_the_usable_cpus() {
    let dir = tempfile::tempdir().unwrap();
    // 1 % of any machine rounds to less than one CPU: one job at a time.
    nuclear(dir.path())
        .args(["-j", "1%", COUNTING_JOB, ":::"])
        .args(TEN)
        .assert()
        .success();
    assert_eq!(most_at_once(&dir.path().join("concurrency.log")), 1);
}

#[test]
fn without_a_cap_at_most_one_job_per_usable_cpu() {
    let usable = dummymp::usable_cpus();
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([COUNTING_JOB, ":::"])
        .args(TEN)
        .assert()
        .success();
    let most = most_at_once(&dir.path().join("concurrency.log"));
    assert!(
        (1..=usable).contains(&most),
        "{most} jobs at once on {usable} CPUs"
    );
}

/// Pins GNU parallel's `-j0`: as many jobs at once as possible (ten jobs
/// of `sleep 1` end after about one second). Each job holds the gate open
/// before it says it started, and waits for the gate to close: the test
/// closes it once all ten have started, which they only do if they all run
/// at once.
#[test]
fn j0_runs_as_many_jobs_as_possible() {
    let dir = tempfile::tempdir().unwrap();
    let gate_path = dir.path().join("gate");
    make_fifo(&gate_path);
    // Read and write: opening does not wait for a reader.
    let gate = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&gate_path)
        .unwrap();
    let mut args = vec!["-j", "0", "(touch started-{}.job; cat) < gate", ":::"];
    args.extend(TEN);
    let mut run = spawn_nuclear(dir.path(), &args);
    wait_until("ten jobs to run at once", || {
        files_ending_with(dir.path(), ".job").len() == TEN.len()
    });
    drop(gate);
    assert!(wait_for_exit(&mut run).success());
}

/// Every mode that starts a job even when other processes keep every CPU
/// busy (generous waits then, so a test of it could wait for as long as
/// the rest of the machine is busy).
#[test]
fn every_considerate_mode_runs_every_job_within_the_cap() {
    for mode in ["normal", "aggressive", "extreme", "NORMAL"] {
        let dir = tempfile::tempdir().unwrap();
        let out = stdout_of_success(
            dummymp(dir.path())
                .args(["--priority", mode, "-j", "2", "-k"])
                .args([COUNTING_JOB, "&&", "echo", "{}", ":::", "a", "b", "c"]),
        );
        assert_eq!(sorted_lines(&out), ["a", "b", "c"], "{mode}");
        let most = most_at_once(&dir.path().join("concurrency.log"));
        assert!((1..=2).contains(&most), "{mode}: {most} jobs at once");
    }
}

#[test]
fn generous_is_a_priority_mode() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .args(["--priority", "generous", "--dry-run", "echo", ":::", "a"])
        .assert()
        .success()
        .stdout("echo a\n");
}

#[test]
fn an_unknown_priority_mode_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .args(["--priority", "polite", "true", ":::", "a"])
        .assert()
        .code(255)
        .stderr(
            predicate::str::contains("polite")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
}

#[test]
fn a_malformed_job_limit_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["many", "-2", "0%", "x%"] {
        dummymp(dir.path())
            .args(["-j", bad, "true", ":::", "a"])
            .assert()
            .code(255);
    }
}

/// The niceness of this process, from `/proc`.
fn own_niceness() -> i32 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    // Field 19 of the whole line; the state is field 3.
    after_name.split(' ').nth(16).unwrap().parse().unwrap()
}

#[test]
fn nice_runs_the_jobs_nicer() {
    let dir = tempfile::tempdir().unwrap();
    let expected = (own_niceness() + 7).clamp(-20, 19);
    let out = nuclear(dir.path())
        .args([
            "--nice",
            "7",
            "cut -d' ' -f19 /proc/$$/stat; true {}",
            ":::",
            "a",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(out).unwrap().trim(), expected.to_string());
}
