//! `-j`, `--priority` and `--nice`, through what can be observed: how many
//! jobs run at once, that every job runs, and how the considerate modes
//! react to the load of other processes. That load is fed to the program
//! (`DUMMYMP_LOAD_SOURCE`, see `src/load/fed.rs`), so that what else the
//! machine runs can neither fail nor hang these tests.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};

use predicates::prelude::*;

use crate::support::{
    COUNTING_JOB, PATIENCE, binary, dummymp, files_ending_with, make_fifo, most_at_once, nuclear,
    sorted_lines, spawn_nuclear, wait_for_exit, wait_until,
};

const TEN: [&str; 10] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

/// Foreign load fed to `dummymp`: a file its load measurements read
/// instead of the machine (`DUMMYMP_LOAD_SOURCE`).
struct FedLoad {
    dir: tempfile::TempDir,
}

impl FedLoad {
    /// Other processes keep `cpus` CPUs busy (0: a quiet machine).
    fn busy(cpus: usize) -> FedLoad {
        let load = FedLoad {
            dir: tempfile::tempdir().unwrap(),
        };
        load.set_busy(cpus);
        load
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("load")
    }

    /// From now on, `cpus` foreign busy loops; replaces the file whole.
    fn set_busy(&self, cpus: usize) {
        let text: String = (1..=cpus)
            .map(|i| format!("{} fed-loop 100\n", 5_000_000 + i))
            .collect();
        let next = self.dir.path().join("load.next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, self.path()).unwrap();
    }
}

/// `dummymp ARGS` run in `dir` with its load fed from `load`, standard
/// input closed and the other two piped; killed when dropped.
struct Fed {
    child: Child,
}

impl Fed {
    fn spawn(dir: &Path, load: &FedLoad, args: &[&str]) -> Fed {
        let child = std::process::Command::new(binary())
            .args(args)
            .current_dir(dir)
            .env("DUMMYMP_LOAD_SOURCE", load.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dummymp starts");
        Fed { child }
    }

    /// Its standard error, line by line, each within a deadline.
    fn stderr_lines(&mut self) -> Lines {
        Lines::new(self.child.stderr.take().unwrap())
    }

    /// Waits (at most [`PATIENCE`]) for it to succeed; returns its
    /// standard output.
    fn success(mut self) -> String {
        let status = wait_for_exit(&mut self.child);
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(status.success(), "{status:?}, output {out:?}");
        out
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lines read on a thread of their own, so that waiting for one has a
/// deadline.
struct Lines {
    rx: Receiver<String>,
}

impl Lines {
    fn new(reader: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx }
    }

    /// Reads lines until one satisfies `wanted`; fails the test after
    /// [`PATIENCE`] or at the end of the output, with the lines seen.
    fn until(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no line {what} within {PATIENCE:?}; seen {seen:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the output ended before a line {what}; seen {seen:?}")
                }
            }
        }
    }
}

/// A job that logs its start and end in `concurrency.log` like
/// [`COUNTING_JOB`], where jobs 1 to `held` also hold until the test
/// closes the named pipe `gate` (each opens it before it says, with the
/// file `started-N.job`, that it runs). Closing the gate once `held` jobs
/// have started proves that many ran at once; the log shows that no more
/// did.
fn gated_job(held: usize) -> String {
    format!(
        "echo start >> concurrency.log; \
         if [ {{#}} -le {held} ]; then (touch started-{{#}}.job; cat > /dev/null) < gate; fi; \
         echo end >> concurrency.log; true {{}}"
    )
}

/// The gate of [`gated_job`] in `dir`, held open (reading and writing, so
/// that opening it does not wait) until dropped.
fn open_gate(dir: &Path) -> std::fs::File {
    let path = dir.join("gate");
    make_fifo(&path);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap()
}

/// Runs `dummymp ARGS` in `dir` (load fed from `load`) with jobs 1 to
/// `held` held at the gate until all of them run, then lets it finish;
/// returns the most jobs that ran at once.
fn most_at_once_when_held(dir: &Path, load: &FedLoad, held: usize, args: &[&str]) -> usize {
    let gate = open_gate(dir);
    let run = Fed::spawn(dir, load, args);
    wait_until(&format!("{held} jobs to run at once"), || {
        files_ending_with(dir, ".job").len() == held
    });
    drop(gate);
    run.success();
    most_at_once(&dir.join("concurrency.log"))
}

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
fn exactly_n_jobs_at_once_with_j_n() {
    let dir = tempfile::tempdir().unwrap();
    let job = gated_job(3);
    let mut args = vec!["--priority", "nuclear", "-j", "3", &job, ":::"];
    args.extend(TEN);
    let most = most_at_once_when_held(dir.path(), &FedLoad::busy(0), 3, &args);
    assert_eq!(most, 3, "jobs at once");
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
fn without_a_cap_one_job_per_usable_cpu() {
    let usable = dummymp::usable_cpus();
    let dir = tempfile::tempdir().unwrap();
    let job = gated_job(usable);
    let mut args = vec!["--priority", "nuclear", &job, ":::"];
    args.extend(TEN);
    let most = most_at_once_when_held(dir.path(), &FedLoad::busy(0), usable, &args);
    assert_eq!(most, usable, "jobs at once on {usable} CPUs");
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

/// Every considerate mode, on a machine where no other process uses any
/// CPU, runs as many jobs at once as the cap allows, and every job.
#[test]
fn every_considerate_mode_runs_every_job_up_to_the_cap() {
    let at_once = dummymp::usable_cpus().min(2);
    let job = gated_job(at_once);
    for mode in ["generous", "normal", "aggressive", "extreme", "NORMAL"] {
        let dir = tempfile::tempdir().unwrap();
        let command = format!("{job} && echo {{}}");
        let args = [
            "--priority",
            mode,
            "-j",
            "2",
            "-k",
            &command,
            ":::",
            "a",
            "b",
            "c",
        ];
        let gate = open_gate(dir.path());
        let run = Fed::spawn(dir.path(), &FedLoad::busy(0), &args);
        wait_until(&format!("{mode}: {at_once} jobs to run at once"), || {
            files_ending_with(dir.path(), ".job").len() == at_once
        });
        drop(gate);
        let out = run.success();
        assert_eq!(sorted_lines(out.as_bytes()), ["a", "b", "c"], "{mode}");
        let most = most_at_once(&dir.path().join("concurrency.log"));
        assert_eq!(most, at_once, "{mode}: jobs at once");
    }
}

/// While other processes keep every CPU busy, every mode but Generous
/// still runs one job at a time (never more, with a cap of 3).
#[test]
fn the_considerate_modes_run_one_job_at_a_time_when_no_cpu_is_free() {
    let load = FedLoad::busy(dummymp::usable_cpus());
    for mode in ["normal", "aggressive", "extreme"] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--priority", mode, "-j", "3", COUNTING_JOB, ":::"];
        args.extend(&TEN[..4]);
        Fed::spawn(dir.path(), &load, &args).success();
        let most = most_at_once(&dir.path().join("concurrency.log"));
        assert_eq!(most, 1, "{mode}: jobs at once");
    }
}

/// Generous starts nothing while other processes keep every CPU busy, says
/// so with `-v`, and runs the job once they are gone.
#[test]
fn generous_waits_until_other_processes_leave_a_cpu_free() {
    let usable = dummymp::usable_cpus();
    let load = FedLoad::busy(usable);
    let dir = tempfile::tempdir().unwrap();
    let mut run = Fed::spawn(
        dir.path(),
        &load,
        &[
            "--priority",
            "generous",
            "-v",
            "touch ran; echo",
            ":::",
            "a",
        ],
    );
    let waiting = run.stderr_lines().until("saying why it waits", |line| {
        line.starts_with("dummymp: waiting (1 waiting, 0 running): ")
            && line.contains("busy with other processes")
    });
    assert!(
        waiting.contains(&format!(
            "{usable} of {usable} CPUs busy with other processes: pid 5000001 (fed-loop) 100 %"
        )),
        "{waiting}"
    );
    assert!(!dir.path().join("ran").exists(), "the job ran: {waiting}");
    load.set_busy(0);
    // `-v` prints each job's command before its output.
    assert_eq!(run.success(), "touch ran; echo a\na\n");
}

/// The state letter and niceness of process `pid`, from `/proc`.
fn state_and_nice(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    Some((fields[0].chars().next()?, fields[16].parse().ok()?))
}

/// Generous lowers the priority of a running job and pauses it when other
/// processes take every CPU, and continues it once they are gone (without
/// `-v`: what is printed changes nothing).
#[test]
fn generous_pauses_a_running_job_for_other_processes_and_continues_it() {
    let load = FedLoad::busy(0);
    let dir = tempfile::tempdir().unwrap();
    let gate = open_gate(dir.path());
    // The job says its pid, then waits at the gate (a shell loop would keep
    // a CPU busy for nothing).
    let run = Fed::spawn(
        dir.path(),
        &load,
        &[
            "--priority",
            "generous",
            "echo $$ > job.pid; cat < gate > /dev/null; echo {}",
            ":::",
            "done",
        ],
    );
    let mut pid = None;
    wait_until("the job to start", || {
        pid = std::fs::read_to_string(dir.path().join("job.pid"))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok());
        pid.is_some()
    });
    let pid = pid.unwrap();
    load.set_busy(dummymp::usable_cpus());
    wait_until("the job to be paused at the lowest priority", || {
        state_and_nice(pid).is_some_and(|(state, nice)| state == 'T' && nice == 19)
    });
    load.set_busy(0);
    wait_until("the job to continue", || {
        state_and_nice(pid).is_some_and(|(state, _)| state != 'T')
    });
    drop(gate);
    assert_eq!(run.success(), "done\n");
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
