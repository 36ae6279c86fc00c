//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
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

/// How long a test waits for the CPU-heavy lock: the tests that hold it
/// take seconds each, but several may be queued before this one.
pub const CPU_HEAVY_PATIENCE: Duration = Duration::from_secs(300);

/// Holds the machine-wide lock that tests keeping CPUs busy take, so that
/// they never run at the same time (across test threads and test
/// processes): the tests that measure foreign load need the CPUs to
/// themselves and their loops. Released when the returned file is dropped.
/// Fails the test when the lock stays taken for [`CPU_HEAVY_PATIENCE`]
/// (a test that hangs while it holds it, in this run or another).
pub fn cpu_heavy_section() -> std::fs::File {
    let path = std::env::temp_dir().join("dummymp-cpu-heavy-tests.lock");
    let lock = std::fs::File::create(&path).expect("lock file");
    let deadline = Instant::now() + CPU_HEAVY_PATIENCE;
    // No event says when a lock is free: try again every 50 ms.
    while let Err(error) =
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
    {
        assert_eq!(
            error,
            rustix::io::Errno::WOULDBLOCK,
            "flock {}",
            path.display()
        );
        assert!(
            Instant::now() < deadline,
            "{} stayed locked for {CPU_HEAVY_PATIENCE:?}: another test that keeps CPUs busy hangs",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    lock
}

/// Processes busy-looping on the CPU, started so that they are *not* our
/// descendants (their parent shell exits at once, so they are re-parented)
/// and in process groups of their own. Killed on drop; a loop also ends by
/// itself once this test process is gone (it looks for `/proc/PID` at
/// every turn), so that a test killed before it could drop them leaves no
/// busy loop behind.
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
            "for i in $(seq {count}); do setsid {pin}sh -c 'while [ -e /proc/{me} ]; do :; done' </dev/null >/dev/null 2>&1 & echo $!; done",
            me = std::process::id()
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
///
/// A role that panics (a failed assertion, a deadline that passed) exits
/// with [`ROLE_PANICKED`] after the panic's message, rather than aborting
/// the process: a panic cannot unwind out of a constructor.
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
            let run = || -> i32 {
                match role.as_str() {
                    $($name => $run,)*
                    _ => 99,
                }
            };
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| {
                    // The panic hook has printed the message and where.
                    eprintln!("role {role} panicked: exit status {}", $crate::common::ROLE_PANICKED);
                    $crate::common::ROLE_PANICKED
                });
            std::process::exit(code);
        }
    };
}

/// The exit status of a role program that panicked (the test harness's
/// own for a failed test).
pub const ROLE_PANICKED: i32 = 101;

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

/// Foreign load fed to dummymp instead of measured: a file that a child
/// process started with [`FedLoad::apply`] reads at each of its load
/// measurements (`DUMMYMP_LOAD_SOURCE`, see `src/load/fed.rs`). The test
/// decides what the scheduler sees, whatever else the machine runs.
pub struct FedLoad {
    dir: tempfile::TempDir,
}

impl FedLoad {
    /// A machine where no other process uses any CPU.
    pub fn quiet() -> FedLoad {
        let load = FedLoad {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        load.set_quiet();
        load
    }

    /// A machine where other processes keep `cpus` CPUs busy.
    pub fn busy(cpus: usize) -> FedLoad {
        let load = FedLoad::quiet();
        load.set_busy(cpus);
        load
    }

    /// The file the measurements read.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("load")
    }

    /// From now on, no other process uses any CPU.
    pub fn set_quiet(&self) {
        self.write("");
    }

    /// From now on, `cpus` foreign busy loops (pids 5000001, ...) each keep
    /// a CPU busy.
    pub fn set_busy(&self, cpus: usize) {
        let lines: String = (1..=cpus)
            .map(|i| format!("{} fed-loop 100\n", 5_000_000 + i))
            .collect();
        self.write(&lines);
    }

    /// From now on, the foreign processes of `text` (`PID NAME PERCENT`
    /// lines). The file is replaced whole: a measurement never reads half
    /// of it.
    pub fn write(&self, text: &str) {
        let next = self.dir.path().join("load.next");
        std::fs::write(&next, text).expect("the load file is written");
        std::fs::rename(&next, self.path()).expect("the load file is replaced");
    }

    /// Makes `command` read its load from this file.
    pub fn apply<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("DUMMYMP_LOAD_SOURCE", self.path())
    }
}

/// The lines a child writes, read on a thread of their own so that every
/// wait for one has a deadline.
pub struct Lines {
    rx: Receiver<String>,
}

impl Lines {
    /// Starts reading `reader` line by line.
    pub fn new(reader: impl Read + Send + 'static) -> Lines {
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

    /// The next line; fails the test, naming `what` it waited for, when
    /// none comes within [`PATIENCE`] or the output ends.
    pub fn next(&self, what: &str) -> String {
        match self.rx.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line within {PATIENCE:?} while waiting for {what}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the output ended while waiting for {what}")
            }
        }
    }
}

/// A child process that is killed (and reaped) when the test lets go of it,
/// whether the test passed or failed.
pub struct Guarded {
    pub child: Child,
}

impl Guarded {
    /// Starts `command`.
    pub fn spawn(command: &mut Command) -> Guarded {
        Guarded {
            child: command.spawn().expect("the child starts"),
        }
    }

    /// Waits for the child to exit; fails the test, naming `what` it waited
    /// for, after [`PATIENCE`].
    pub fn wait(&mut self, what: &str) -> ExitStatus {
        assert!(
            wait_gone(self.child.id(), PATIENCE),
            "the child did not exit within {PATIENCE:?} while waiting for {what}"
        );
        self.child.wait().expect("waitable")
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
