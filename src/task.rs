//! What the caller gets back about tasks: ids, typed handles, outcomes,
//! reports and progress counts.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A task's call index: 0 for the first call to `run` (since the last
/// `reset`), 1 for the next, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) usize);

impl TaskId {
    /// The call index.
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.0)
    }
}

/// The id of a queued task together with the type of value it returns, for
/// reading that value back with [`DummyMp::value`](crate::DummyMp::value).
pub struct TaskHandle<R> {
    id: TaskId,
    returns: PhantomData<fn() -> R>,
}

impl<R> TaskHandle<R> {
    pub(crate) fn new(id: TaskId) -> Self {
        TaskHandle {
            id,
            returns: PhantomData,
        }
    }

    /// The task's id.
    pub fn id(self) -> TaskId {
        self.id
    }

    /// The task's call index.
    pub fn index(self) -> usize {
        self.id.0
    }
}

impl<R> Clone for TaskHandle<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for TaskHandle<R> {}

impl<R> PartialEq for TaskHandle<R> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<R> Eq for TaskHandle<R> {}

impl<R> fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskHandle")
            .field(&self.id.0)
            .field(&std::any::type_name::<R>())
            .finish()
    }
}

impl<R> From<TaskHandle<R>> for TaskId {
    fn from(handle: TaskHandle<R>) -> TaskId {
        handle.id
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The function returned; its value is available.
    Returned,
    /// The function panicked.
    Panicked {
        /// The panic message.
        message: String,
        /// `file:line:column` of the panic, when known.
        location: Option<String>,
    },
    /// The worker exited (for instance through `std::process::exit`) before
    /// the function returned.
    Exited {
        /// Its exit code.
        code: i32,
    },
    /// A signal killed the worker before the function returned (a crash,
    /// `abort`, the out-of-memory killer, somebody's `kill`).
    Signaled {
        /// The signal number.
        signal: i32,
    },
    /// [`killall`](crate::DummyMp::killall), [`reset`](crate::DummyMp::reset)
    /// or dropping the instance ended it.
    Killed,
    /// The worker process could not be started.
    FailedToStart {
        /// What the operating system said.
        error: String,
        /// The OS error number, when there is one.
        errno: Option<i32>,
    },
    /// The worker could not run the function or deliver its value: it runs
    /// a different executable than its parent, or the argument or return
    /// value could not be (de)serialised.
    Failed {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// Whether the function returned a value.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Returned)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Returned => f.write_str("returned"),
            Outcome::Panicked {
                message,
                location: Some(location),
            } => write!(f, "panicked at {location}: {message}"),
            Outcome::Panicked {
                message,
                location: None,
            } => write!(f, "panicked: {message}"),
            Outcome::Exited { code } => write!(f, "exited with code {code} before returning"),
            Outcome::Signaled { signal } => match signal_name(*signal) {
                Some(name) => write!(f, "was killed by signal {signal} ({name})"),
                None => write!(f, "was killed by signal {signal}"),
            },
            Outcome::Killed => f.write_str("was killed by killall"),
            Outcome::FailedToStart { error, .. } => write!(f, "could not be started: {error}"),
            Outcome::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// The conventional name of a signal number (`SIGKILL` for 9).
///
/// ```
/// assert_eq!(dummymp::signal_name(9), Some("SIGKILL"));
/// assert_eq!(dummymp::signal_name(6), Some("SIGABRT"));
/// ```
pub fn signal_name(signal: i32) -> Option<&'static str> {
    use rustix::process::Signal;
    let known = [
        (Signal::HUP, "SIGHUP"),
        (Signal::INT, "SIGINT"),
        (Signal::QUIT, "SIGQUIT"),
        (Signal::ILL, "SIGILL"),
        (Signal::TRAP, "SIGTRAP"),
        (Signal::ABORT, "SIGABRT"),
        (Signal::BUS, "SIGBUS"),
        (Signal::FPE, "SIGFPE"),
        (Signal::KILL, "SIGKILL"),
        (Signal::USR1, "SIGUSR1"),
        (Signal::SEGV, "SIGSEGV"),
        (Signal::USR2, "SIGUSR2"),
        (Signal::PIPE, "SIGPIPE"),
        (Signal::ALARM, "SIGALRM"),
        (Signal::TERM, "SIGTERM"),
        (Signal::XCPU, "SIGXCPU"),
        (Signal::XFSZ, "SIGXFSZ"),
        (Signal::SYS, "SIGSYS"),
    ];
    known
        .iter()
        .find(|(s, _)| s.as_raw() == signal)
        .map(|(_, name)| *name)
}

/// Everything known about a task that has ended.
pub struct TaskReport {
    /// The task's id.
    pub id: TaskId,
    /// The function it called.
    pub function: &'static str,
    /// The worker's process id, if one was started.
    pub pid: Option<u32>,
    /// How it ended.
    pub outcome: Outcome,
    /// Its standard output, when the output mode is
    /// [`OutputMode::Captured`].
    pub stdout: Vec<u8>,
    /// Its standard error, when the output mode is
    /// [`OutputMode::Captured`].
    pub stderr: Vec<u8>,
    /// From the worker's start to the moment it was reaped.
    pub runtime: Duration,
    pub(crate) value: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for TaskReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskReport")
            .field("id", &self.id)
            .field("function", &self.function)
            .field("pid", &self.pid)
            .field("outcome", &self.outcome)
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &String::from_utf8_lossy(&self.stderr))
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

/// Counts handed to the start and end callbacks, as in the original:
/// `(completed, running, total)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Tasks that have ended, whatever their outcome.
    pub completed: usize,
    /// Tasks running now.
    pub running: usize,
    /// Tasks queued since the last reset, in every state.
    pub total: usize,
}

/// What happens to the lines a task writes to its standard output and
/// standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Written to the parent's stdout and stderr as whole lines, each
    /// prefixed with `[PID n] ` (the default).
    #[default]
    Tagged,
    /// Written to the parent's stdout and stderr as whole lines, unchanged.
    Untagged,
    /// Kept in the task's [`TaskReport`] (`stdout` and `stderr`).
    Captured,
}
