//! How a process learns, before `main` runs, that it was started as a
//! worker, and what happens when its program forgets to call
//! [`init`](crate::init).
//!
//! A worker is started with [`WORKER_FLAG`] and a ticket as its first two
//! arguments, *and* a socket as its standard input (or, through a launcher
//! that replaces standard input, the same ticket in the environment variable
//! [`TICKET_VARIABLE`]). Only these together make a worker: arguments typed
//! by hand or copied by a task into a command of its own (whose standard
//! input is a terminal, a file, a pipe or `/dev/null`), or a variable
//! inherited by some unrelated program, never do, so worker mode cannot be
//! entered by accident.
//!
//! A constructor of this crate looks at the command line before `main`
//! runs. In a worker it moves the two descriptors that talk to the parent
//! out of the way (whatever `main` prints before `init` cannot corrupt the
//! messages) and arms two tripwires for a program that never calls `init`:
//!
//! * the first engine the program creates (every queueing or processing
//!   call creates one) ends the process at once, so that a worker can
//!   never start workers of its own and multiply;
//! * at exit, the parent is told that the program did not call `init`.
//!
//! Either way the parent reports the task as failed with [`MISSING_INIT`].

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, Once};

use rustix::fs::{Mode, OFlags};

use crate::protocol::{self, TaskResult, WorkerMessage};

/// The first argument of a worker's command line.
pub(crate) const WORKER_FLAG: &str = "__dummymp_worker__";

/// The first argument of the engine's watchdog (see `engine::watchdog`),
/// which is recognised the same way.
pub(crate) const WATCHDOG_FLAG: &str = "__dummymp_watchdog__";

/// The environment variable that carries a worker's ticket.
pub(crate) const TICKET_VARIABLE: &str = "DUMMYMP_WORKER_TICKET";

/// Why a task fails when its worker never reached [`init`](crate::init).
pub(crate) const MISSING_INIT: &str = "the program did not call dummymp::init() first in main \
     (or enable_test_support! in tests), so its worker ran main instead of the task";

/// Not looked at yet.
const UNKNOWN: u8 = 0;
/// This process is no worker.
const NOT_A_WORKER: u8 = 1;
/// A worker whose program has not called `init` yet.
const AWAITING_INIT: u8 = 2;
/// A worker running its task (`init` was called).
const RUNNING_TASK: u8 = 3;
/// A worker that told its parent `init` was never called.
const REPORTED_MISSING_INIT: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Makes [`on_program_load`] run once, whoever comes first: our
/// constructor, or a constructor of the program that queues work before
/// ours ran (constructors run in no particular order).
static DETECTION: Once = Once::new();

/// The descriptors to the parent, moved away by the constructor.
static PARENT_LINK: Mutex<Option<ParentLink>> = Mutex::new(None);

/// A worker's two descriptors to its parent.
pub(crate) struct ParentLink {
    /// Requests from the parent (the worker's original standard input).
    pub input: OwnedFd,
    /// Messages to the parent (the worker's original standard output).
    pub output: OwnedFd,
}

/// This process's ticket for the workers it starts: 128 random bits, in
/// hex, drawn once.
pub(crate) fn ticket() -> &'static str {
    static TICKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TICKET.get_or_init(new_ticket)
}

/// A fresh ticket.
fn new_ticket() -> String {
    let mut bytes = [0u8; 16];
    if rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty()).is_err() {
        // No entropy source: still unique per process and moment, which is
        // all that guarding against accidents needs.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = (now ^ u128::from(std::process::id()) << 64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether this process was started with `flag` and a ticket as its first
/// two arguments, *and* either its standard input is a socket (how the
/// engine starts a worker on this machine) or the environment variable
/// [`TICKET_VARIABLE`] holds the same ticket (how it starts one through a
/// launcher that replaces standard input, and its watchdog).
fn started_with(flag: &str) -> bool {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_none_or(|first| first != flag) {
        return false;
    }
    let Some(ticket) = args.next().filter(|t| !t.is_empty()) else {
        return false;
    };
    stdin_is_socket()
        || std::env::var_os(TICKET_VARIABLE).is_some_and(|expected| expected == ticket)
}

/// Whether standard input is a socket.
fn stdin_is_socket() -> bool {
    rustix::fs::fstat(std::io::stdin()).is_ok_and(|stat| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Socket
    })
}

ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn detect_worker_before_main() {
        detect();
    }
}

/// Finds out (once) whether this process is a worker.
fn detect() -> u8 {
    DETECTION.call_once(on_program_load);
    STATE.load(Ordering::SeqCst)
}

/// Runs before `main`: arms the tripwires in a worker (and runs the
/// watchdog in a watchdog).
fn on_program_load() {
    if started_with(WATCHDOG_FLAG) {
        let grace = std::env::args().nth(3).unwrap_or_default();
        crate::engine::watchdog::run(&grace);
    }
    if !started_with(WORKER_FLAG) {
        STATE.store(NOT_A_WORKER, Ordering::SeqCst);
        return;
    }
    let Ok(link) = take_parent_link() else {
        // Nothing to protect with; `init` (if called) reports what it can.
        STATE.store(AWAITING_INIT, Ordering::SeqCst);
        return;
    };
    *PARENT_LINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
    STATE.store(AWAITING_INIT, Ordering::SeqCst);
    // SAFETY: `atexit` registers a plain `extern "C"` function that takes no
    // arguments; it is called once, at exit, on the exiting thread.
    unsafe {
        libc::atexit(report_missing_init_at_exit);
    }
}

/// Moves standard input and output to private descriptors (not inherited
/// by children) and puts `/dev/null` in their place.
fn take_parent_link() -> std::io::Result<ParentLink> {
    let input = rustix::io::fcntl_dupfd_cloexec(std::io::stdin(), 3)?;
    let output = rustix::io::fcntl_dupfd_cloexec(std::io::stdout(), 3)?;
    let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
    rustix::stdio::dup2_stdin(&null)?;
    rustix::stdio::dup2_stdout(&null)?;
    Ok(ParentLink { input, output })
}

/// Whether this process is a worker that has not reached `init` (and so
/// must not start any work of its own).
pub(crate) fn awaiting_init() -> bool {
    detect() == AWAITING_INIT
}

/// Called by [`init`](crate::init) in a worker: the descriptors the
/// constructor moved away (`None` if it could not), and the tripwires
/// disarmed.
pub(crate) fn claim_parent_link() -> Option<ParentLink> {
    detect();
    STATE.store(RUNNING_TASK, Ordering::SeqCst);
    PARENT_LINK.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// A copy of the program forked by the fork server becomes a worker: it
/// runs tasks, so it may queue work of its own.
pub(crate) fn mark_forked_worker() {
    detect();
    STATE.store(RUNNING_TASK, Ordering::SeqCst);
}

/// Whether `init` should turn this process into a worker (one that has
/// not started its task yet).
pub(crate) fn is_worker_invocation() -> bool {
    detect() == AWAITING_INIT
}

/// The first tripwire: a worker whose program did not call `init` tries to
/// queue or process work. It ends here, before it can start anything.
pub(crate) fn refuse_work_before_init() {
    if awaiting_init() {
        report_missing_init();
        std::process::exit(MISSING_INIT_EXIT_CODE);
    }
}

/// The exit code of a worker whose program did not call `init`.
const MISSING_INIT_EXIT_CODE: i32 = 3;

extern "C" fn report_missing_init_at_exit() {
    report_missing_init();
}

/// Tells the parent, once, that the program never called `init`.
fn report_missing_init() {
    if STATE
        .compare_exchange(
            AWAITING_INIT,
            REPORTED_MISSING_INIT,
            Ordering::SeqCst,
            Ordering::SeqCst,
        )
        .is_err()
    {
        return;
    }
    let guard = PARENT_LINK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(link) = guard.as_ref() else { return };
    let message = WorkerMessage::Finished(TaskResult::Failed(MISSING_INIT.to_string()));
    if let Ok(frame) = protocol::encode_frame(&message) {
        let mut written = 0;
        while written < frame.len() {
            match rustix::io::write(&link.output, &frame[written..]) {
                Ok(n) => written += n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => break,
            }
        }
    }
}
