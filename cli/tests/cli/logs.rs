//! `--joblog`, `--resume`, `--resume-failed` and `--results`.

use std::path::Path;

use predicates::prelude::*;
use rustix::process::Signal;

use crate::support::{
    files_ending_with, lines, nuclear, send, spawn_nuclear, stdout_of_success, wait_for_exit,
    wait_until,
};

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// The job log's lines after the header, split into columns, by job
/// number.
fn log_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let mut rows: Vec<Vec<String>> = lines
        .map(|line| line.splitn(9, '\t').map(str::to_owned).collect())
        .collect();
    rows.sort_by_key(|row| row[0].parse::<u64>().unwrap());
    rows
}

#[test]
fn the_job_log_has_gnu_parallels_columns() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "echo {}; exit {}", ":::", "0", "3"])
        .assert()
        .code(1);
    let rows = log_rows(&dir.path().join("jobs.log"));
    assert_eq!(rows.len(), 2);
    for (row, (seq, exit)) in rows.iter().zip([("1", "0"), ("2", "3")]) {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(row[0], seq);
        assert_eq!(row[1], ":");
        assert!(row[2].trim().parse::<f64>().unwrap() > 1e9, "epoch seconds");
        assert!(row[3].trim().parse::<f64>().unwrap() >= 0.0);
        assert_eq!(row[4], "0");
        assert_eq!(row[5], "2", "bytes received");
        assert_eq!(row[6], exit);
        assert_eq!(row[7], "0");
    }
    // GNU parallel logs plain values bare: `echo 3; exit 3`.
    assert_eq!(rows[1][8], "echo 3; exit 3");
}

#[test]
fn resume_after_an_interrupted_run_does_exactly_the_missing_jobs() {
    let dir = tempfile::tempdir().unwrap();
    // Job 3 blocks while the file block-3 exists: the first run is
    // interrupted there, after jobs 1 and 2 finished.
    let job = "if [ -e block-{} ]; then echo $$ > started-{}.tmp; mv started-{}.tmp started-{}.pid; sleep 1000; fi; echo {}";
    std::fs::write(dir.path().join("block-3"), "").unwrap();
    let mut first = spawn_nuclear(
        dir.path(),
        &[
            "-j", "1", "--joblog", "jobs.log", job, ":::", "1", "2", "3", "4", "5",
        ],
    );
    wait_until("job 3 to start", || {
        !files_ending_with(dir.path(), ".pid").is_empty()
    });
    send(first.id(), Signal::INT);
    assert_eq!(wait_for_exit(&mut first).code(), Some(130));
    let logged: Vec<String> = log_rows(&dir.path().join("jobs.log"))
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    assert_eq!(logged, ["1", "2"], "the interrupted job is not logged");

    std::fs::remove_file(dir.path().join("block-3")).unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "--joblog", "jobs.log", "--resume", job, ":::", "1", "2", "3", "4", "5",
    ]));
    assert_eq!(lines(&out), ["3", "4", "5"]);
    let logged: Vec<String> = log_rows(&dir.path().join("jobs.log"))
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    assert_eq!(logged, ["1", "2", "3", "4", "5"]);

    nuclear(dir.path())
        .args([
            "--joblog", "jobs.log", "--resume", job, ":::", "1", "2", "3", "4", "5",
        ])
        .assert()
        .success()
        .stdout("");
}

#[test]
fn resume_failed_runs_the_failed_jobs_again() {
    let dir = tempfile::tempdir().unwrap();
    let job = "echo {}; test -e ok-{}";
    for ok in ["ok-1", "ok-3"] {
        std::fs::write(dir.path().join(ok), "").unwrap();
    }
    let args = ["--joblog", "jobs.log", job, ":::", "1", "2", "3", "4"];
    nuclear(dir.path()).args(args).assert().code(2);
    for ok in ["ok-2", "ok-4"] {
        std::fs::write(dir.path().join(ok), "").unwrap();
    }
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["-k", "--resume-failed"])
            .args(args),
    );
    assert_eq!(lines(&out), ["2", "4"]);
    nuclear(dir.path())
        .args(["--resume-failed"])
        .args(args)
        .assert()
        .success()
        .stdout("");
}

#[test]
fn resume_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "echo"])
        .write_stdin("a\nb\n")
        .assert()
        .success();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "--resume", "echo"])
        .write_stdin("a\nb\nc\n")
        .assert()
        .success()
        .stdout("c\n");
}

#[test]
fn resume_refuses_the_job_log_of_other_commands() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "echo", ":::", "a", "b"])
        .assert()
        .success();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "--resume", "echo", ":::", "a", "x"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(
            predicate::str::contains("jobs.log")
                .and(predicate::str::contains("job 2"))
                .and(predicate::str::contains("echo b"))
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "--resume", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stderr(predicate::str::contains("jobs.log").and(predicate::str::contains("job 2")));
    nuclear(dir.path())
        .args([
            "--joblog",
            "jobs.log",
            "--resume-failed",
            "ls",
            ":::",
            "a",
            "b",
        ])
        .assert()
        .code(255);
}

#[test]
fn results_are_one_json_object_per_job() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([
            "--results",
            "out.jsonl",
            "echo out {}; echo err {} >&2; exit {}",
            ":::",
            "0",
            "4",
        ])
        .assert()
        .code(1);
    let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let mut records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    records.sort_by_key(|r| r["seq"].as_u64());
    assert_eq!(records.len(), 2);
    let failed = &records[1];
    assert_eq!(failed["input"], serde_json::json!(["4"]));
    assert_eq!(failed["command"], "echo out 4; echo err 4 >&2; exit 4");
    assert_eq!(failed["exit_code"], 4);
    assert!(failed["signal"].is_null());
    assert_eq!(failed["timed_out"], false);
    assert!(failed["start"].as_f64().unwrap() > 1e9);
    assert!(failed["runtime"].as_f64().unwrap() >= 0.0);
    assert_eq!(failed["stdout"], "out 4\n");
    assert_eq!(failed["stderr"], "err 4\n");
    assert_eq!(records[0]["exit_code"], 0);
}

#[test]
fn results_keep_the_whole_output_in_line_buffer_mode() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([
            "--line-buffer",
            "--results",
            "out.jsonl",
            "printf 'a\\nb\\nc'",
            ":::",
            "x",
        ])
        .assert()
        .success()
        .stdout("a\nb\nc\n");
    let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(record["stdout"], "a\nb\nc");
}

#[test]
fn the_job_log_is_written_as_jobs_end() {
    let dir = tempfile::tempdir().unwrap();
    let job = "if [ {} = 2 ]; then sleep 1000; fi";
    let mut run = spawn_nuclear(
        dir.path(),
        &["-j", "2", "--joblog", "jobs.log", job, ":::", "1", "2"],
    );
    wait_until("job 1 to be logged", || {
        std::fs::read_to_string(dir.path().join("jobs.log"))
            .is_ok_and(|text| text.lines().count() == 2)
    });
    send(run.id(), Signal::TERM);
    assert_eq!(wait_for_exit(&mut run).code(), Some(143));
    let rows = log_rows(&dir.path().join("jobs.log"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "1");
}

/// A job log written by GNU parallel 20221122 for `parallel --joblog j
/// 'echo {}; exit 0' ::: a 'b c' "it's"` (its first two lines, copied from
/// a run) and `'echo {} | tr a-z A-Z'`: --resume runs only what is missing.
#[test]
fn resume_accepts_gnu_parallels_job_log_of_the_same_commands() {
    let dir = tempfile::tempdir().unwrap();
    let header = format!("{HEADER}\n");
    std::fs::write(
        dir.path().join("gnu.log"),
        header.clone()
            + "1\t:\t1795692775.460\t     0.000\t0\t2\t0\t0\techo a; exit 0\n"
            + "2\t:\t1795692775.463\t     0.004\t0\t4\t0\t0\techo 'b c'; exit 0\n",
    )
    .unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "--joblog",
        "gnu.log",
        "--resume",
        "echo {}; exit 0",
        ":::",
        "a",
        "b c",
        "it's",
    ]));
    assert_eq!(lines(&out), ["it's"]);
    std::fs::write(
        dir.path().join("pipe.log"),
        header
            + "1\t:\t1795692775.635\t     0.010\t0\t2\t0\t0\techo a | tr a-z A-Z\n"
            + "2\t:\t1795692775.646\t     0.005\t0\t4\t0\t0\techo 'b c' | tr a-z A-Z\n",
    )
    .unwrap();
    nuclear(dir.path())
        .args([
            "--joblog",
            "pipe.log",
            "--resume",
            "echo {} | tr a-z A-Z",
            ":::",
            "a",
            "b c",
        ])
        .assert()
        .success()
        .stdout("");
}

/// A job log cut short by a full disk (its last line partial) is resumed:
/// the partial line counts as not done, and is cut off before appending.
#[test]
fn resume_runs_the_job_whose_log_line_was_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "echo", ":::", "a", "b"])
        .assert()
        .success();
    let path = dir.path().join("jobs.log");
    let mut log = std::fs::read(&path).unwrap();
    log.truncate(log.len() - 4);
    std::fs::write(&path, &log).unwrap();
    let rows_before = log_rows_lossy(&path);
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "--joblog", "jobs.log", "--resume", "echo", ":::", "a", "b",
    ]));
    assert_eq!(out.len(), 2, "exactly one job ran again: {out:?}");
    assert_eq!(rows_before, 1);
    assert_eq!(log_rows(&path).len(), 2);
}

/// The number of complete lines after the header.
fn log_rows_lossy(path: &Path) -> usize {
    let text = std::fs::read(path).unwrap();
    text.iter().filter(|&&b| b == b'\n').count() - 1
}

/// A job killed by a signal is logged with 128 + the signal in Exitval and
/// the signal in Signal (GNU parallel reports 143 as the exit status of
/// `--halt now,fail=1` for `kill -TERM $$`; its 20221122 job log shows
/// Exitval 0 there).
#[test]
fn a_job_killed_by_a_signal_is_logged_with_128_plus_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--joblog", "jobs.log", "kill -TERM $$; true {}", ":::", "a"])
        .assert()
        .code(1);
    let rows = log_rows(&dir.path().join("jobs.log"));
    assert_eq!((rows[0][6].as_str(), rows[0][7].as_str()), ("143", "15"));
}
