//! Yielding to a foreign busy loop that competes with our job for its CPU,
//! without `-v`: the job is lowered in priority and paused.
//!
//! The run happens in a PID namespace of its own, so that the only
//! processes dummymp sees are its own and the test's busy loop: other
//! users' processes can neither start the yielding for us nor keep
//! Generous from starting the job.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::support::{PATIENCE, binary, make_fifo, send, wait_for_exit, wait_until};

/// A shell loop that keeps one CPU busy.
const BUSY: &str = "while :; do :; done";

/// The first CPU this test may run on (from `Cpus_allowed_list`, such as
/// `0-3,8`).
fn first_allowed_cpu() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("the CPUs we may use");
    let first = list.trim().split([',', '-']).next().unwrap();
    first.parse().expect("a CPU number")
}

/// A PID namespace running a script; everything in it is killed when it
/// is dropped.
struct Namespace {
    unshare: Child,
}

impl Namespace {
    /// Runs `script` with `sh` in a new PID namespace (with its own
    /// `/proc`) in `dir`, with `args` as its positional parameters; `None`
    /// where this system does not allow that.
    fn run(dir: &Path, script: &str, args: &[&str]) -> Option<Namespace> {
        let allowed = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !allowed {
            return None;
        }
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(["sh", "-c", script, "sh"])
            .args(args)
            .env("DUMMYMP", binary())
            .current_dir(dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare starts");
        Some(Namespace { unshare })
    }

    /// The process id, as this test sees it, of the process whose id is
    /// `inner` inside the namespace.
    fn outer_pid(&self, inner: i32) -> Option<i32> {
        let root = self.unshare.id() as i32;
        std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .find(|&pid| {
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    return false;
                };
                let ids: Vec<i32> = status
                    .lines()
                    .find_map(|line| line.strip_prefix("NSpid:"))
                    .map(|ids| {
                        ids.split_whitespace()
                            .filter_map(|id| id.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                ids.len() >= 2 && ids.last() == Some(&inner) && descends_from(pid, root)
            })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // `--kill-child`: the namespace's first process dies with unshare,
        // and every other process of the namespace with it.
        send(self.unshare.id(), Signal::KILL);
        wait_for_exit(&mut self.unshare);
    }
}

/// Whether `root` is an ancestor of `pid`.
fn descends_from(pid: i32, root: i32) -> bool {
    let mut current = pid;
    for _ in 0..64 {
        let Some(parent) = parent_of(current) else {
            return false;
        };
        if parent == root {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        current = parent;
    }
    false
}

fn parent_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The fields of `/proc/PID/stat` after the command name (the state is the
/// first).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    Some(after_name.split(' ').map(str::to_owned).collect())
}

/// The state letter and niceness of process `pid`.
fn state_and_nice(pid: i32) -> Option<(char, i32)> {
    let fields = stat_fields(pid)?;
    Some((
        fields.first()?.chars().next()?,
        fields.get(16)?.parse().ok()?,
    ))
}

// Issue 17, item 4: a Generous job on CPU 0 went on at nice 0 when a
// foreign busy loop appeared on CPU 0 (it was lowered and paused only
// sometimes, such as with -v). The loop shares the CPU with the job (here
// two busy processes), so it got a third of the CPU, and the load it makes
// was counted as none: what it waits for the CPU counts too.
/// Holds the lock the library's tests take while they keep CPUs busy, so
/// that this test's busy processes are not their foreign load (and theirs
/// not this test's). Released when dropped.
fn cpu_heavy_section() -> std::fs::File {
    let lock =
        std::fs::File::create(std::env::temp_dir().join("dummymp-cpu-heavy-tests.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    lock
}

#[test]
fn a_busy_loop_on_the_jobs_cpu_lowers_and_pauses_it_without_v() {
    let _cpus = cpu_heavy_section();
    let dir = tempfile::tempdir().unwrap();
    make_fifo(&dir.path().join("go"));
    let cpu = first_allowed_cpu();
    // The job records its process id (in the namespace), then keeps two
    // processes busy; once the test says go, a foreign loop starts on the
    // same CPU.
    let job =
        format!("echo $$ > job.tmp; mv job.tmp job.pid; sh -c '{BUSY}' & exec sh -c '{BUSY}'");
    let script = format!(
        "taskset -c {cpu} \"$DUMMYMP\" --priority generous \"$1\" ::: 1 > out.txt 2> err.txt &
         read go < go
         taskset -c {cpu} sh -c '{BUSY}' &
         wait"
    );
    let Some(namespace) = Namespace::run(dir.path(), &script, &[&job]) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: cannot make a PID namespace (needs root and unshare)"
        );
        eprintln!("skipped: cannot make a PID namespace here (needs root and unshare)");
        return;
    };
    let pid_file = dir.path().join("job.pid");
    wait_until("the job to start", || pid_file.exists());
    let inner: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut job_pid = None;
    wait_until("the job's process id outside the namespace", || {
        job_pid = namespace.outer_pid(inner);
        job_pid.is_some()
    });
    let job_pid = job_pid.unwrap();
    assert_eq!(state_and_nice(job_pid).map(|(_, nice)| nice), Some(0));

    std::fs::write(dir.path().join("go"), "go\n").unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = state_and_nice(job_pid);
        if now == Some(('T', 19)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job was never lowered in priority and paused (state and niceness {now:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(namespace);
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert_eq!(err, "", "nothing is said without -v");
}
