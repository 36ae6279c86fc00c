//! Faults around the CLI: dummymp killed with SIGKILL mid-run, starts the
//! system refuses, a job log or results file that cannot be written,
//! daemons and double-forked grandchildren of jobs, and the descriptors a
//! job gets.

use std::path::Path;
use std::process::{Command, Stdio};

use rustix::process::Signal;

use crate::support::{
    PATIENCE, binary, files_ending_with, is_alive, nuclear, send, spawn_nuclear, wait_for_exit,
    wait_gone, wait_until,
};

/// Whether this test process may become `nobody` (it must be root).
fn can_become_nobody() -> bool {
    let root = rustix::process::getuid().is_root();
    if !root {
        eprintln!("skipped: becoming `nobody` needs root");
    }
    root
}

/// The job numbers a job log lists, in the order they were written.
fn logged_seqs(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| line.split('\t').next().unwrap().parse().unwrap())
        .collect()
}

/// `dummymp --priority nuclear ARGS` run through bash with every
/// descriptor above 2 closed and `ulimit -n LIMIT`: the same descriptors
/// whatever the test harness leaves open.
fn with_descriptor_limit(dir: &Path, limit: u32, args: &[&str]) -> assert_cmd::Command {
    let script = format!(
        "for n in $(ls /proc/$$/fd); do \
         if [ \"$n\" -gt 2 ] && [ -e /proc/$$/fd/$n ]; then eval \"exec $n>&-\"; fi; done; \
         ulimit -n {limit} && exec \"$@\""
    );
    let mut command = assert_cmd::Command::new("bash");
    command
        .args(["-c", &script, "bash"])
        .arg(binary())
        .args(["--priority", "nuclear"])
        .args(args)
        .current_dir(dir)
        .timeout(PATIENCE);
    command
}

#[test]
fn refused_starts_are_retried_when_a_job_ends() {
    // 40 descriptors: room for a few jobs' pipes, not for 20.
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<String> = (1..=60).map(|n| n.to_string()).collect();
    let mut args = vec!["-j", "20", "sleep 0.1; echo {}", ":::"];
    args.extend(inputs.iter().map(String::as_str));
    let output = with_descriptor_limit(dir.path(), 40, &args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let mut printed: Vec<u32> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    printed.sort_unstable();
    assert_eq!(printed, (1..=60).collect::<Vec<_>>(), "every job ran once");
}

#[test]
fn a_run_whose_every_start_fails_ends_instead_of_hanging() {
    // 12 descriptors: dummymp's own signal pipes fit, no job's pipes do.
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<String> = (1..=16).map(|n| n.to_string()).collect();
    let mut args = vec!["-j", "2", "sleep 0.3; true {}", ":::"];
    args.extend(inputs.iter().map(String::as_str));
    let output = with_descriptor_limit(dir.path(), 12, &args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(16), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("Too many open files").count(),
        16,
        "each job fails with the error named: {stderr}"
    );
}

#[test]
fn sigkill_mid_run_leaves_no_job_a_log_of_exactly_the_finished_jobs_and_resume_runs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // Jobs 1-10 finish; 11 and 12 block while the file `block` exists (and
    // say their pid); 13-62 are queued when dummymp is killed.
    let job = "if [ -e block ] && [ {} -gt 10 ]; then echo $$ > {}.tmp; mv {}.tmp {}.pid; \
               exec sleep 1000; fi; echo {} >> ran.txt";
    std::fs::write(dir.path().join("block"), "").unwrap();
    let inputs: Vec<String> = (1..=62).map(|n| n.to_string()).collect();
    let mut args = vec!["-j", "2", "--joblog", "jobs.log", job, ":::"];
    args.extend(inputs.iter().map(String::as_str));
    let mut run = spawn_nuclear(dir.path(), &args);
    wait_until("jobs 11 and 12 to run", || {
        files_ending_with(dir.path(), ".pid").len() == 2
    });
    send(run.id(), Signal::KILL);
    wait_for_exit(&mut run);

    // The watchdog ends the two running jobs.
    for file in files_ending_with(dir.path(), ".pid") {
        let pid: i32 = std::fs::read_to_string(&file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_gone(pid);
    }
    let ran_first: Vec<u64> = std::fs::read_to_string(dir.path().join("ran.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut logged = logged_seqs(&dir.path().join("jobs.log"));
    logged.sort_unstable();
    assert_eq!(
        logged,
        (1..=10).collect::<Vec<_>>(),
        "each finished job once"
    );
    let mut ran_sorted = ran_first.clone();
    ran_sorted.sort_unstable();
    assert_eq!(
        ran_sorted, logged,
        "the log lists exactly the jobs that finished"
    );

    std::fs::remove_file(dir.path().join("block")).unwrap();
    std::fs::remove_file(dir.path().join("ran.txt")).unwrap();
    let mut args = vec!["-j", "2", "--joblog", "jobs.log", "--resume", job, ":::"];
    args.extend(inputs.iter().map(String::as_str));
    nuclear(dir.path()).args(&args).assert().success();
    let mut ran_second: Vec<u64> = std::fs::read_to_string(dir.path().join("ran.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    ran_second.sort_unstable();
    assert_eq!(
        ran_second,
        (11..=62).collect::<Vec<_>>(),
        "exactly the rest"
    );
    let mut logged = logged_seqs(&dir.path().join("jobs.log"));
    logged.sort_unstable();
    assert_eq!(logged, (1..=62).collect::<Vec<_>>(), "every job once");
}

#[test]
fn a_job_log_or_results_file_on_a_full_device_is_a_clear_error_and_runs_nothing() {
    for option in ["--joblog", "--results"] {
        let dir = tempfile::tempdir().unwrap();
        // `--results` writes a file only for a name ending in `.jsonl` (any
        // other names a directory, as in GNU parallel).
        let full = dir.path().join("full.jsonl");
        std::os::unix::fs::symlink("/dev/full", &full).unwrap();
        let target = if option == "--joblog" {
            "/dev/full"
        } else {
            "full.jsonl"
        };
        let output = nuclear(dir.path())
            .args([option, target, "-j", "1", "touch {}", ":::", "a", "b", "c"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(255), "{option}: {stderr}");
        assert!(
            stderr.contains(target) && stderr.contains("No space left on device"),
            "{option}: {stderr}"
        );
        let ran = ["a", "b", "c"]
            .iter()
            .filter(|f| dir.path().join(f).exists())
            .count();
        // The job log's header is written before any job starts; the
        // results file has none, so its first job runs before the write
        // fails, and then no other starts.
        let most = if option == "--joblog" { 0 } else { 1 };
        assert!(ran <= most, "{option}: {ran} jobs ran");
    }
}

/// Runs `script` in a private mount namespace where `dir/small` is a tmpfs
/// of 16 KiB; `None` where this system does not allow that.
fn in_small_filesystem(dir: &Path, script: &str) -> Option<std::process::Output> {
    let small = dir.join("small");
    std::fs::create_dir(&small).unwrap();
    let probe = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=16k tmpfs \"$1\"",
            "sh",
        ])
        .arg(&small)
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let output = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            &format!("mount -t tmpfs -o size=16k tmpfs small && {script}"),
        ])
        .env("DUMMYMP", binary())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Some(output)
}

#[test]
fn a_job_log_that_fills_its_disk_stops_the_run_and_lists_only_finished_jobs() {
    let dir = tempfile::tempdir().unwrap();
    // Each job leaves a marker outside the small filesystem; the log fills
    // 16 KiB after some 200 lines. `cp` keeps the log past the namespace.
    let script = "\"$DUMMYMP\" --priority nuclear -j 2 --joblog small/jobs.log \
                  'touch done-{}; echo {}' ::: $(seq 1000) > out.txt 2> err.txt; \
                  echo $? > status.txt; cp small/jobs.log jobs.log";
    let Some(output) = in_small_filesystem(dir.path(), script) else {
        eprintln!("skipped: cannot mount a small filesystem here (needs root and unshare)");
        return;
    };
    assert!(output.status.success(), "{output:?}");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("status.txt").trim(), "255");
    let stderr = read("err.txt");
    assert!(
        stderr.contains("cannot write job log") && stderr.contains("No space left on device"),
        "{stderr}"
    );
    let log = read("jobs.log");
    let whole_lines: Vec<&str> = log
        .split_inclusive('\n')
        .skip(1)
        .filter(|l| l.ends_with('\n'))
        .collect();
    assert!(whole_lines.len() > 10, "the log filled up after some jobs");
    let done = |seq: &str| dir.path().join(format!("done-{seq}")).exists();
    for line in &whole_lines {
        let seq = line.split('\t').next().unwrap();
        assert!(done(seq), "job {seq} is in the log but never ran");
    }
    let ran = (1..=1000).filter(|n| done(&n.to_string())).count();
    assert!(ran < 1000, "the run stopped at the error ({ran} ran)");
    // Jobs that finished after the log broke are printed but not logged:
    // --resume runs them again. Not more than the running ones (-j 2) and
    // the one whose line failed.
    assert!(
        ran <= whole_lines.len() + 3,
        "{ran} ran, {} logged",
        whole_lines.len()
    );
}

#[test]
fn a_job_log_in_an_unwritable_place_is_a_clear_error_and_runs_nothing() {
    if !can_become_nobody() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    // Run as `nobody` (root may write anywhere); the tempdir is root's, so
    // `nobody` can neither write the log nor the jobs' files there.
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(binary())
        .args(["--priority", "nuclear", "--joblog"])
        .arg(locked.join("jobs.log"))
        .args(["echo", "{}", ":::", "a", "b"])
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("Permission denied") && stderr.contains("jobs.log"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no job ran");
    // A path inside a missing directory.
    let output = nuclear(dir.path())
        .args(["--joblog", "missing/jobs.log", "echo", "{}", ":::", "a"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
    assert!(output.stdout.is_empty(), "no job ran");
}

#[test]
fn a_process_limit_makes_jobs_wait_for_a_free_process() {
    if !can_become_nobody() {
        return;
    }
    // As `nobody` with room for dummymp, its watchdog and two jobs: with
    // -j 8 most starts are refused (EAGAIN) and retried when a job ends.
    // The jobs start no process of their own (`echo` runs directly).
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new("prlimit");
    command
        .args([
            "--nproc=4:4",
            "setpriv",
            // A user id of its own: no other test's processes count
            // against its process limit.
            "--reuid=64603",
            "--regid=64603",
            "--clear-groups",
            "--",
        ])
        .arg(binary())
        .args(["--priority", "nuclear", "-j", "8", "echo", ":::"])
        .args((1..=40).map(|n| n.to_string()))
        .current_dir("/")
        .stdin(Stdio::null());
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let mut printed: Vec<u32> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    printed.sort_unstable();
    assert_eq!(printed, (1..=40).collect::<Vec<_>>());
    drop(dir);
}

#[test]
fn a_job_gets_none_of_dummymps_own_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let output = nuclear(dir.path())
        .args([
            "--joblog",
            "jobs.log",
            "--results",
            "results.jsonl",
            "ls -l /proc/self/fd/ # {}",
            ":::",
            "a",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    // What this test process leaves inheritable reaches every child, with
    // or without dummymp: those numbers and targets are allowed.
    let inheritable: Vec<(String, String)> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_string_lossy().into_owned();
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))?
                .trim()
                .to_owned();
            let cloexec = u32::from_str_radix(&flags, 8).ok()? & 0o2000000 != 0;
            let target = std::fs::read_link(e.path()).ok()?;
            (!cloexec).then(|| (fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    for line in String::from_utf8_lossy(&output.stdout).lines().skip(1) {
        let (name, target) = line.split_once(" -> ").unwrap();
        let fd = name.rsplit(' ').next().unwrap();
        let allowed = ["0", "1", "2"].contains(&fd)
            || target.starts_with("/proc/")
            || inheritable.contains(&(fd.to_string(), target.to_string()));
        assert!(allowed, "the job got {fd} -> {target}");
        assert!(!target.contains("jobs.log") && !target.contains("results.jsonl"));
    }
}

/// A job that starts a grandchild ignoring SIGTERM whose parent exits at
/// once (re-parented, still in the job's process group) and a `setsid`
/// daemon, and records their pids (`orphan daemon`) in `{}.pid`.
const FAMILY_JOB: &str = "sh -c \"trap '' TERM; while :; do sleep 1; done\" & orphan=$!; \
     setsid sh -c 'echo $$ > {}.daemon; exec sleep 1000' & \
     while [ ! -s {}.daemon ]; do sleep 0.01; done; \
     echo $orphan $(cat {}.daemon) > {}.tmp; mv {}.tmp {}.pid; wait";

/// The (orphan, daemon) pids the family jobs recorded.
fn families(dir: &Path) -> Vec<(i32, i32)> {
    files_ending_with(dir, ".pid")
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            let mut pids = text.split_whitespace().map(|p| p.parse().unwrap());
            (pids.next().unwrap(), pids.next().unwrap())
        })
        .collect()
}

fn assert_orphans_gone_daemons_alive(dir: &Path) {
    for (orphan, daemon) in families(dir) {
        wait_gone(orphan);
        assert!(
            is_alive(daemon),
            "the setsid daemon {daemon} lives on, as documented"
        );
        send(daemon as u32, Signal::KILL);
        wait_gone(daemon);
    }
}

#[test]
fn a_timeout_ends_a_jobs_double_forked_grandchildren_but_not_its_setsid_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let output = nuclear(dir.path())
        .args([
            "--timeout",
            "2",
            "--grace",
            "0.2",
            FAMILY_JOB,
            ":::",
            "a",
            "b",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "both timed out: {output:?}");
    assert_eq!(families(dir.path()).len(), 2);
    assert_orphans_gone_daemons_alive(dir.path());
}

#[test]
fn ctrl_c_ends_a_jobs_double_forked_grandchildren_but_not_its_setsid_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = spawn_nuclear(dir.path(), &["--grace", "0.2", FAMILY_JOB, ":::", "a", "b"]);
    wait_until("both jobs to start their families", || {
        files_ending_with(dir.path(), ".pid").len() == 2
    });
    send(run.id(), Signal::INT);
    assert_eq!(wait_for_exit(&mut run).code(), Some(130));
    assert_orphans_gone_daemons_alive(dir.path());
}
