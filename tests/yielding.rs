//! Good neighbour while running: when other users' load appears after our
//! task started, Generous lowers its priority and pauses it, continues it
//! once the load is gone, and its timeout does not run while it is paused;
//! memory admission holds back tasks that would not fit.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{FedLoad, Guarded, Lines};
use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority, TaskOptions};

dummymp::enable_test_support!();

crate::role_programs! {
    "generous-parent" => generous_parent(),
}

/// Role: a Generous queue running one task that prints its
/// pid, then does `WORK` loops of CPU work in the shell and exits, with a
/// timeout of `TIMEOUT_S` seconds. Prints the task's outcome at the end.
fn generous_parent() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Generous);
    mp.set_output_mode(OutputMode::Untagged);
    let work = std::env::var("WORK").unwrap();
    let timeout: u64 = std::env::var("TIMEOUT_S").unwrap().parse().unwrap();
    // The task waits for the test's go-ahead on a fifo, then works.
    let fifo = std::env::var("GO").unwrap();
    let task = mp
        .run_command_with(
            TaskOptions::new().timeout(Duration::from_secs(timeout)),
            Command::shell(format!(
                "echo $$; read x < {fifo}; i=0; while [ $i -lt {work} ]; do i=$((i+1)); done"
            )),
        )
        .unwrap();
    mp.process_until_done().unwrap();
    println!("outcome {}", mp.outcome(task).unwrap());
    0
}

/// The state letter and niceness of `pid`, from `/proc`.
fn state_and_nice(pid: u32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    Some((fields[0].chars().next()?, fields[16].parse().ok()?))
}

/// Waits (looking every 50 ms; no event tells) until `pid`'s state
/// satisfies `wanted`, for at most a minute.
fn wait_state(pid: u32, what: &str, wanted: impl Fn(char, i32) -> bool) {
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((state, nice)) = state_and_nice(pid)
            && wanted(state, nice)
        {
            return;
        }
        assert!(
            Instant::now() < limit,
            "task {pid} never {what}: {:?}",
            state_and_nice(pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens the fifo `path` for writing once its reader waits on it, for at
/// most [`common::PATIENCE`]; fails the test naming `what` otherwise.
fn open_fifo_for_writing(path: &std::path::Path, what: &str) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let limit = Instant::now() + common::PATIENCE;
    loop {
        // Without a reader, a non-blocking open fails (ENXIO) instead of
        // waiting forever.
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => return file,
            Err(error) => assert!(
                Instant::now() < limit,
                "no reader of {} for {what}: {error}",
                path.display()
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// The scenario, with the load fed to the role (`FedLoad`), so that nothing
// else the machine runs changes it: our task runs; foreign load arrives
// and our task is reniced and paused; the load goes and it continues; the
// time it was paused does not count against its 8-second timeout (it is
// paused for longer than that), so it ends by itself.
#[test]
fn generous_pauses_a_running_task_for_foreign_load_and_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let made = std::process::Command::new("mkfifo")
        .arg(&go)
        .status()
        .unwrap();
    assert!(made.success());
    let load = FedLoad::quiet();
    let mut command = common::role_command("generous-parent");
    load.apply(&mut command)
        .env("WORK", "20000")
        .env("TIMEOUT_S", "8")
        .env("GO", &go)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut role = Guarded::spawn(&mut command);
    let lines = Lines::new(role.child.stdout.take().unwrap());
    let task: u32 = lines.next("the task's pid").trim().parse().unwrap();

    load.set_busy(dummymp::usable_cpus());
    wait_state(task, "was paused", |state, nice| state == 'T' && nice == 19);
    // Stay paused for longer than the timeout (the pause came after at
    // most one re-measure interval, 5 s, of the 8).
    std::thread::sleep(Duration::from_secs(9));
    assert_eq!(state_and_nice(task).map(|(s, _)| s), Some('T'));
    load.set_quiet();
    wait_state(task, "continued", |state, _| state != 'T');
    open_fifo_for_writing(&go, "the go-ahead")
        .write_all(b"go\n")
        .unwrap();
    let outcome = lines.next("the task's outcome");
    assert_eq!(outcome, format!("outcome {}", Outcome::Exited { code: 0 }));
    assert!(role.wait("the role to end").success());
}

#[test]
fn tasks_wait_for_memory_and_a_task_that_never_fits_is_reported() {
    let available = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .unwrap()
        * 1024;
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.set_max_processes(2);
    // Each needs 60 % of what is available: only one fits at a time.
    let big = TaskOptions::new().memory(available / 10 * 6);
    let first = mp
        .run_command_with(big.clone(), Command::new("true"))
        .unwrap();
    let second = mp.run_command_with(big, Command::new("true")).unwrap();
    let never = mp
        .run_command_with(
            TaskOptions::new().memory(u64::MAX / 4),
            Command::new("true"),
        )
        .unwrap();
    mp.process_process().unwrap();
    assert_eq!(
        mp.running_pids().len(),
        1,
        "the second task waits for memory"
    );
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(first), Some(&Outcome::Exited { code: 0 }));
    assert_eq!(mp.outcome(second), Some(&Outcome::Exited { code: 0 }));
    match mp.outcome(never) {
        Some(Outcome::FailedToStart { error, errno: None }) => {
            assert!(error.contains("memory"), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_memory_a_task_needs_is_learned_from_finished_tasks() {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    let id = mp
        .run_command(Command::shell(
            "x=$(head -c 20000000 /dev/zero | tr '\\0' a); echo ${#x}",
        ))
        .unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(id).unwrap();
    let peak = report.peak_rss.expect("the kernel reports a peak");
    assert!(peak >= 20_000_000, "{peak}");
    let learned = mp.scheduler().learned_memory(&report.name).unwrap();
    assert_eq!(learned, peak);
}
