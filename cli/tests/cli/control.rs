//! `--timeout`, `--retries`, `--halt` and the exit statuses.

use predicates::prelude::*;

use crate::support::{lines, live_members_of_group, make_fifo, nuclear, pids_in, sorted_lines};

#[test]
fn exit_status_counts_failed_jobs() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["exit {}", ":::", "0", "0"])
        .assert()
        .code(0);
    nuclear(dir.path())
        .args(["exit {}", ":::", "0", "1", "7", "0", "255"])
        .assert()
        .code(3);
}

#[test]
fn exit_status_is_capped_at_101() {
    let dir = tempfile::tempdir().unwrap();
    let hundred: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    nuclear(dir.path())
        .args(["false", ":::"])
        .args(&hundred)
        .assert()
        .code(100);
    nuclear(dir.path())
        .args(["false", ":::"])
        .args(&hundred)
        .arg("101")
        .assert()
        .code(101);
}

#[test]
fn a_missing_program_fails_its_job_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "./no-such-program", ":::", "a"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot run ./no-such-program a"));
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    assert!(log.lines().nth(1).unwrap().contains("\t127\t0\t"), "{log}");
}

/// Jobs that cannot start free their slot at once; the run goes on (it
/// used to wait for an event that never came).
#[test]
fn many_jobs_that_cannot_start_all_fail_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["-j", "1", "./no-such-program", ":::", "a", "b", "c"])
        .assert()
        .code(3);
}

#[test]
fn timeout_ends_the_jobs_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    // The job's shell starts a grandchild, writes both process ids and
    // waits. The timeout leaves the shell ample time to get there.
    nuclear(dir.path())
        .args([
            "--timeout",
            "2",
            "--joblog",
            "jobs.log",
            "--results",
            "out.jsonl",
            "sleep 1000 & echo $$ $! > {}.pid; wait",
            ":::",
            "job",
        ])
        .assert()
        .code(1);
    let pids = pids_in(dir.path());
    assert_eq!(pids.len(), 2, "the shell and its grandchild");
    assert!(
        live_members_of_group(pids[0]).is_empty(),
        "every process of the job's group is gone"
    );
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    let row: Vec<&str> = log.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!((row[6], row[7]), ("-1", "15"), "{log}");
    let results = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(results.trim()).unwrap();
    assert_eq!(record["timed_out"], true);
}

#[test]
fn timeout_sends_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // The timeout leaves the shell ample time to ignore SIGTERM first.
    nuclear(dir.path())
        .args([
            "--timeout",
            "2",
            "--grace",
            "0.2",
            "--joblog",
            "jobs.log",
            "trap '' TERM; echo $$ > {}.pid; sleep 1000",
            ":::",
            "stubborn",
        ])
        .assert()
        .code(1);
    let pids = pids_in(dir.path());
    assert!(live_members_of_group(pids[0]).is_empty());
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    let row: Vec<&str> = log.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!((row[6], row[7]), ("-1", "9"), "{log}");
}

#[test]
fn retries_run_a_failing_job_at_most_n_times() {
    let dir = tempfile::tempdir().unwrap();
    // Succeeds on its third run.
    let job = "echo run >> attempts-{}; test $(wc -l < attempts-{}) -ge 3";
    nuclear(dir.path())
        .args(["--retries", "3", "--joblog", "jobs.log", job, ":::", "a"])
        .assert()
        .success();
    let attempts = std::fs::read_to_string(dir.path().join("attempts-a")).unwrap();
    assert_eq!(attempts.lines().count(), 3);
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "one line per job, not per run");

    nuclear(dir.path())
        .args(["--retries", "2", job, ":::", "b"])
        .assert()
        .code(1);
    let attempts = std::fs::read_to_string(dir.path().join("attempts-b")).unwrap();
    assert_eq!(attempts.lines().count(), 2);
}

#[test]
fn halt_now_on_the_first_failure_ends_the_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    make_fifo(&dir.path().join("handshake"));
    // Job 2 hands its process id to job 1 through the named pipe, so job 1
    // fails only once job 2 runs.
    let job = "if [ {} = 1 ]; then read pid < handshake; echo $pid > two.pid; exit 1; fi; \
               echo $$ > handshake; sleep 1000; echo unreachable";
    nuclear(dir.path())
        .args([
            "-j",
            "2",
            "--halt",
            "now,fail=1",
            "--joblog",
            "jobs.log",
            job,
            ":::",
            "1",
            "2",
            "3",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unreachable").not());
    let pids = pids_in(dir.path());
    assert_eq!(pids.len(), 1);
    assert!(live_members_of_group(pids[0]).is_empty());
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    let logged: Vec<&str> = log
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        logged,
        ["1"],
        "the cancelled job is not logged; job 3 never ran"
    );
}

#[test]
fn halt_soon_lets_running_jobs_finish_and_starts_no_more() {
    let dir = tempfile::tempdir().unwrap();
    make_fifo(&dir.path().join("handshake"));
    let job = "if [ {} = 1 ]; then read x < handshake; exit 1; fi; \
               echo go > handshake; sleep 0.2; echo finished {}";
    nuclear(dir.path())
        .args([
            "-j",
            "2",
            "--halt",
            "soon,fail=1",
            job,
            ":::",
            "1",
            "2",
            "3",
            "4",
        ])
        .assert()
        .code(1)
        .stdout("finished 2\n");
}

/// Pins GNU parallel 20221122: `parallel -j1 --halt soon,fail=30% 'echo
/// {}; test {} -gt 2' ::: 1 2 3 4 5 6` prints 1 and 2 and exits 34 (30 % of
/// all 6 jobs is met at the second failure; 2 of 6 failed, rounded up).
#[test]
fn halt_on_a_share_of_all_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let out = nuclear(dir.path())
        .args([
            "-j",
            "1",
            "--halt",
            "soon,fail=30%",
            "echo {}; test {} -gt 2",
            ":::",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
        ])
        .assert()
        .code(34)
        .get_output()
        .stdout
        .clone();
    assert_eq!(lines(&out), ["1", "2"]);
}

/// Pins GNU parallel 20221122: `--halt now,fail=1` exits with the failing
/// job's own status (7), and with 128 + the signal for a job a signal
/// killed (143 for `kill -TERM $$`).
#[test]
fn halt_on_the_first_failure_exits_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([
            "-j",
            "1",
            "--halt",
            "now,fail=1",
            "exit {}",
            ":::",
            "0",
            "7",
            "0",
        ])
        .assert()
        .code(7);
    nuclear(dir.path())
        .args([
            "-j",
            "1",
            "--halt",
            "2",
            "kill -TERM $$; true {}",
            ":::",
            "a",
        ])
        .assert()
        .code(143);
    nuclear(dir.path())
        .args([
            "-j",
            "1",
            "--halt",
            "now,done=2",
            "exit {}",
            ":::",
            "0",
            "7",
            "0",
        ])
        .assert()
        .code(1);
}

#[test]
fn halt_now_on_success_stops_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = nuclear(dir.path())
        .args([
            "-j",
            "2",
            "--halt",
            "now,success=1",
            "--joblog",
            "jobs.log",
            "if [ {} = 2 ]; then echo found {}; exit 0; fi; exec sleep 1000",
            ":::",
            "1",
            "2",
            "3",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert_eq!(sorted_lines(&out), ["found 2"]);
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "only the job that succeeded: {log}");
}

#[test]
fn malformed_halt_is_one_line_and_status_255() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["now", "sometimes,fail=1", "now,fail=0", "soon,crash=1"] {
        nuclear(dir.path())
            .args(["--halt", bad, "true", ":::", "a"])
            .assert()
            .code(255)
            .stdout("")
            .stderr(
                predicate::str::contains("--halt")
                    .and(predicate::function(|s: &str| s.lines().count() == 1)),
            );
    }
}
