//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags, Signal};

/// How long a test waits for something that should happen before it fails
/// (instead of hanging): generous, so that a slow machine never fails a
/// test.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A log record as the parent's logger received it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRecord {
    pub level: log::Level,
    pub target: String,
    pub module_path: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: String,
}

static KEPT: Mutex<Vec<SeenRecord>> = Mutex::new(Vec::new());
static COUNTED: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// Keeps records whose target starts with `keep`; only counts the others,
/// by target and PID prefix (`"<target> [PID n]"`).
struct TestLogger;

impl log::Log for TestLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("keep") {
            KEPT.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(SeenRecord {
                    level: record.level(),
                    target: record.target().to_string(),
                    module_path: record.module_path().map(str::to_string),
                    file: record.file().map(str::to_string),
                    line: record.line(),
                    message: record.args().to_string(),
                });
        } else {
            let message = record.args().to_string();
            let pid = message
                .strip_prefix("[PID ")
                .and_then(|rest| rest.split(']').next())
                .unwrap_or("-");
            let key = format!("{} [PID {pid}]", record.target());
            *COUNTED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(HashMap::new)
                .entry(key)
                .or_default() += 1;
        }
    }

    fn flush(&self) {}
}

/// Installs the test logger (once per test process) at level Trace.
pub fn install_logger() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&TestLogger).expect("no other logger in tests");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// Kept records whose target is `target`.
pub fn kept_records(target: &str) -> Vec<SeenRecord> {
    KEPT.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|r| r.target == target)
        .cloned()
        .collect()
}

/// Counted records of `target`, per `"[PID n]"`.
pub fn counted_records(target: &str) -> HashMap<String, usize> {
    COUNTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .flatten()
        .filter_map(|(key, n)| {
            let rest = key.strip_prefix(target)?.strip_prefix(' ')?;
            Some((rest.to_string(), *n))
        })
        .collect()
}

/// Whether `pid` is a live process (a zombie counts as dead).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z" | "X") | None)
        }
        Err(_) => false,
    }
}

/// Waits for `pid` to end (observed through a pidfd), for at most `limit`.
/// Returns whether it ended.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let Some(raw) = Pid::from_raw(pid as i32) else {
        return true;
    };
    let Ok(pidfd) = rustix::process::pidfd_open(raw, PidfdFlags::empty()) else {
        return !is_alive(pid);
    };
    let deadline = Instant::now() + limit;
    loop {
        if !is_alive(pid) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = Timespec::try_from(left.min(Duration::from_millis(500))).unwrap();
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        let _ = rustix::event::poll(&mut fds, Some(&timeout));
    }
}

/// Holds the machine-wide lock that tests keeping CPUs busy take, so that
/// they never run at the same time (across test threads and test
/// processes): the tests that measure foreign load need the CPUs to
/// themselves and their loops. Released when the returned file is dropped.
pub fn cpu_heavy_section() -> std::fs::File {
    let lock = std::fs::File::create(std::env::temp_dir().join("dummymp-cpu-heavy-tests.lock"))
        .expect("lock file");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("locked");
    lock
}

/// Processes busy-looping on the CPU, started so that they are *not* our
/// descendants (their parent shell exits at once, so they are re-parented)
/// and in process groups of their own. Killed on drop.
///
/// The loops run inside a [`cpu_heavy_section`]: loops of several tests
/// together, or other busy tests, would leave each loop less CPU than the
/// thresholds the tests rely on.
pub struct ForeignLoad {
    pub pids: Vec<u32>,
    _lock: std::fs::File,
}

impl ForeignLoad {
    /// Starts `count` busy loops, each limited to the CPUs in `cpus` when
    /// given (a `taskset` CPU list).
    pub fn start(count: usize, cpus: Option<&str>) -> ForeignLoad {
        let mut load = ForeignLoad {
            pids: Vec::new(),
            _lock: cpu_heavy_section(),
        };
        load.add(count, cpus);
        load
    }

    /// Starts `count` more loops; returns their pids.
    pub fn add(&mut self, count: usize, cpus: Option<&str>) -> Vec<u32> {
        let pin = cpus.map_or(String::new(), |c| format!("taskset -c {c} "));
        let script = format!(
            "for i in $(seq {count}); do setsid {pin}sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $!; done"
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .expect("sh runs");
        let pids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim().parse().expect("a pid"))
            .collect();
        assert_eq!(pids.len(), count);
        // `setsid` (and `taskset`) exec the loop under the same pid: wait
        // until each pid runs the shell loop itself.
        for &pid in &pids {
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sh\n"
                && Instant::now() < deadline
            {
                std::thread::yield_now();
            }
        }
        self.pids.extend(&pids);
        pids
    }

    /// Stops the loops and waits until they are gone.
    pub fn stop(&mut self) {
        for &pid in &self.pids {
            if let Some(raw) = Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(raw, Signal::KILL);
            }
        }
        for pid in self.pids.drain(..) {
            wait_gone(pid, Duration::from_secs(30));
        }
    }
}

impl Drop for ForeignLoad {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Declares the role programs of a test crate: when this test executable
/// is started by [`role_command`] with one of these names, a constructor
/// runs that role (an expression giving the exit code) instead of the
/// tests.
#[macro_export]
macro_rules! role_programs {
    ($($name:literal => $run:expr),* $(,)?) => {
        #[ctor::ctor(unsafe)]
        fn role_dispatch() {
            // First of all: a worker of a role program runs its task here.
            dummymp::init();
            let Ok(role) = std::env::var("DUMMYMP_TEST_ROLE") else {
                return;
            };
            let code: i32 = match role.as_str() {
                $($name => $run,)*
                _ => 99,
            };
            std::process::exit(code);
        }
    };
}

/// Runs this test executable again as a "role" program: its constructor
/// sees `DUMMYMP_TEST_ROLE` and runs the role's `main` instead of the tests.
pub fn role_command(role: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("test executable"));
    command.env("DUMMYMP_TEST_ROLE", role);
    command
}

/// Reads all of `reader`.
pub fn read_all(mut reader: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("readable");
    out
}

/// Sends `signal` to `pid`.
pub fn send_signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(pid, signal).expect("signal sent");
}

/// Writes `bytes` to a new executable file at `path`.
///
/// The file is written by a child process, never opened for writing here:
/// a test thread forking meanwhile would inherit a writable descriptor of
/// it, and executing the file would then fail with "Text file busy".
pub fn write_executable(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    let mut writer = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh runs");
    writer
        .stdin
        .take()
        .expect("piped")
        .write_all(bytes)
        .expect("written");
    assert!(writer.wait().expect("waited").success());
}

/// This process's peak resident set size (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}
