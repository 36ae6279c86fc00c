//! Helpers shared by the tests: running the built `dummymp`, waiting for
//! things to happen, and inspecting processes.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// How often a condition is looked at while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long a condition may take before the test fails: generous, so that
/// a slow machine never fails a test, while a broken program fails it
/// instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The built program.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dummymp"))
}

/// `dummymp` as an `assert_cmd` command, run in `dir`, stopped after
/// [`PATIENCE`] if it hangs.
pub fn dummymp(dir: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(binary());
    command.current_dir(dir).timeout(PATIENCE);
    command
}

/// `dummymp --priority nuclear`, for tests that are not about scheduling:
/// other load on the machine cannot slow them down.
pub fn nuclear(dir: &Path) -> assert_cmd::Command {
    let mut command = dummymp(dir);
    command.args(["--priority", "nuclear"]);
    command
}

/// Runs `command`, checks that it succeeded, and returns its standard
/// output.
pub fn stdout_of_success(command: &mut assert_cmd::Command) -> Vec<u8> {
    command.assert().success().get_output().stdout.clone()
}

/// Starts `dummymp --priority nuclear ARGS` in `dir` in the background,
/// with no standard input and its output discarded.
pub fn spawn_nuclear(dir: &Path, args: &[&str]) -> Child {
    std::process::Command::new(binary())
        .args(["--priority", "nuclear"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dummymp starts")
}

/// Waits until `condition` holds, looking every 20 ms; fails the test after
/// [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Waits for `child` to exit; fails the test after [`PATIENCE`].
pub fn wait_for_exit(child: &mut Child) -> ExitStatus {
    let mut status = None;
    wait_until("dummymp to exit", || {
        status = child.try_wait().expect("waitable");
        status.is_some()
    });
    status.expect("exited")
}

/// Waits until process `pid` has exited, through a pidfd (no polling);
/// fails the test after [`PATIENCE`].
pub fn wait_gone(pid: i32) {
    let Some(raw) = Pid::from_raw(pid) else {
        return;
    };
    let Ok(pidfd) = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) else {
        return; // already gone
    };
    let mut fds = [rustix::event::PollFd::new(
        &pidfd,
        rustix::event::PollFlags::IN,
    )];
    let patience = rustix::event::Timespec::try_from(PATIENCE).expect("a timespec");
    let ready = rustix::event::poll(&mut fds, Some(&patience)).expect("pollable");
    assert!(ready > 0 || !is_alive(pid), "process {pid} is still alive");
}

/// Sends `signal` to process `pid`.
pub fn send(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(pid as i32).expect("a process id");
    rustix::process::kill_process(pid, signal).expect("the signal is sent");
}

/// The files in `dir` whose names end with `suffix`.
pub fn files_ending_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// The process ids written (whitespace-separated) into the `*.pid` files
/// of `dir`.
pub fn pids_in(dir: &Path) -> Vec<i32> {
    files_ending_with(dir, ".pid")
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .expect("readable")
                .split_whitespace()
                .map(|pid| pid.parse::<i32>().expect("a process id"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The state letter and process group of a process, from `/proc`; `None`
/// when it does not exist.
fn state_and_group(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split(' ');
    let state = fields.next()?.chars().next()?;
    let _parent = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

/// Whether process `pid` is alive (a zombie counts as dead).
pub fn is_alive(pid: i32) -> bool {
    matches!(state_and_group(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// The live processes whose process group is `pgid`.
pub fn live_members_of_group(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(state_and_group(pid), Some((state, group)) if group == pgid && state != 'Z' && state != 'X'))
        .collect()
}

/// Standard output as lines, sorted (for jobs whose order does not
/// matter).
pub fn sorted_lines(output: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(output)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// Standard output as lines, in order.
pub fn lines(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The most jobs that were running at once, from a log where each job
/// wrote `start` when it began and `end` when it finished.
pub fn most_at_once(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).expect("the jobs wrote their log");
    let mut running = 0usize;
    let mut most = 0;
    for line in text.lines() {
        match line {
            "start" => running += 1,
            "end" => running -= 1,
            other => panic!("unexpected line {other:?} in {}", log.display()),
        }
        most = most.max(running);
    }
    most
}

/// A job that records when it starts and ends in `concurrency.log`.
pub const COUNTING_JOB: &str =
    "echo start >> concurrency.log; sleep 0.05; echo end >> concurrency.log; true {}";

/// Makes a named pipe at `path`.
pub fn make_fifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("a named pipe");
}

/// Writes an executable script at `path` that prints each of its
/// arguments followed by a NUL byte (the exact argument vector), and
/// copies its parent's (dummymp's) peak resident memory so far, in kB, to
/// the file `hwm` (with shell builtins only: no process of its own).
pub fn write_argv_printer(path: &Path) {
    let script = "#!/bin/sh\n\
                  for a in \"$@\"; do printf '%s\\0' \"$a\"; done\n\
                  while read -r key value unit; do\n\
                  [ \"$key\" = VmHWM: ] && echo \"$value\" > hwm\n\
                  done < /proc/$PPID/status\n\
                  true\n";
    std::fs::write(path, script).expect("the script is written");
    let mut permissions = std::fs::metadata(path).expect("written").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(path, permissions).expect("executable");
}
