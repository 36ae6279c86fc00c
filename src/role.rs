//! The role of this process, decided once, before `main` runs: the
//! program itself (a parent), a worker started to run its tasks, a worker
//! forked by the fork server, or the engine's watchdog. [`init`](crate::init)
//! acts on it: a worker runs its task and exits, a parent starts its fork
//! server. Lower layers do not look the role up: what they need is handed
//! to them from here.
//!
//! A constructor of this crate looks at the command line before `main`
//! runs (see [`invocation`](crate::invocation) for what makes a worker). In
//! a worker it moves the two descriptors that talk to the parent out of the
//! way (whatever `main` prints before `init` cannot corrupt the messages)
//! and arms two tripwires for a program that never calls `init`:
//!
//! * the first engine the program creates (every queueing or processing
//!   call creates one) ends the process at once, so that a worker can
//!   never start workers of its own and multiply;
//! * at exit, the parent is told that the program did not call `init`.
//!
//! Either way the parent reports the task as failed with [`MISSING_INIT`].

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, Once};

use rustix::fs::{Mode, OFlags};

use crate::invocation::{WATCHDOG_FLAG, WORKER_FLAG, started_with};
use crate::protocol::{self, TaskResult, WorkerMessage};
use crate::worker::ParentLink;

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

ctor::declarative::ctor! {
    // SAFETY: runs before `main`, when the Rust runtime may not be set up
    // for everything: it only reads the command line (which std captures
    // before constructors run on Linux), calls `fstat`/`fcntl`/`dup2`/`open`
    // and stores into statics that need no initialisation; it spawns no
    // thread and touches no other constructor's state.
    #[ctor(unsafe)]
    fn detect_worker_before_main() {
        in_constructor("detecting the process's role", || {
            detect();
        });
    }
}

/// Runs `work` in a constructor (before `main`): a panic cannot unwind out
/// of one (it would abort the process with "panic in a function that
/// cannot unwind"), so it is reported on standard error and the process
/// exits with code 101, as a panicking `main` would.
pub(crate) fn in_constructor(what: &str, work: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("dummymp: a panic before main, while {what}; exiting\n").as_bytes(),
        );
        std::process::exit(101);
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
        crate::launch::watchdog_main(&grace);
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

/// Whether this process is a worker that has not reached `init`: `init`
/// turns it into a worker, and until then it must not start any work of
/// its own.
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

/// What [`init`](crate::init) does in this process: a worker serves the
/// tasks it was started for and exits; the program starts its fork server.
pub(crate) fn on_init() {
    if awaiting_init() {
        let link = claim_parent_link();
        std::process::exit(crate::worker::serve(link, None));
    }
    crate::launch::fork_server::start(forked_worker_main);
}

/// What a copy forked by the fork server runs, once its standard
/// descriptors are the links to its parent.
fn forked_worker_main() -> i32 {
    mark_forked_worker();
    crate::worker::serve(None, None)
}
