//! How a task ended: the [`Outcome`] a caller matches on, and the raw
//! [`ProcessExit`] of its process.

use std::fmt;

/// How a task ended, named after what happened.
///
/// Function tasks end as [`Returned`](Outcome::Returned) when all went well;
/// command tasks as [`Exited`](Outcome::Exited) with their exit code. A
/// function task whose worker exits without returning (through
/// `std::process::exit`, even with code 0) ends as
/// [`ExitedEarly`](Outcome::ExitedEarly): a failure.
///
/// ```
/// use dummymp::Outcome;
/// let outcome = Outcome::Signaled { signal: 9 };
/// assert!(!outcome.is_success());
/// assert_eq!(outcome.to_string(), "was killed by signal 9 (SIGKILL)");
/// assert!(Outcome::Exited { code: 0 }.is_success());
/// assert!(!Outcome::ExitedEarly { code: 0 }.is_success());
/// ```
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
    /// A foreign task (a Python function, say) raised an exception.
    Raised {
        /// The exception's type, such as `ValueError`.
        exception: String,
        /// Its message.
        message: String,
        /// Its traceback.
        traceback: String,
    },
    /// A command's process exited with this code: its normal end (success
    /// when 0).
    Exited {
        /// Its exit code.
        code: i32,
    },
    /// A function task's worker exited with this code (for instance
    /// through `std::process::exit`) before the function returned: no
    /// value, so a failure whatever the code, retried like any other.
    ExitedEarly {
        /// The worker's exit code.
        code: i32,
    },
    /// A signal killed the process (a crash, `abort`, the out-of-memory
    /// killer, somebody's `kill`) before it ended by itself.
    Signaled {
        /// The signal number.
        signal: i32,
    },
    /// The kernel's out-of-memory killer most likely ended it: `SIGKILL`
    /// that dummymp did not send ended its process (its [`ProcessExit`]
    /// is signal 9), or a process it waited for (it exited with code 137,
    /// as a shell does), while the kernel counted an out-of-memory kill
    /// (in this program's memory cgroup, or on the machine where no cgroup
    /// counts them) that no other task was blamed for. The memory its kind
    /// needs is then learned as all there is, so the next ones (a retry
    /// too) wait until none of ours runs; they are never refused.
    ///
    /// ```
    /// use dummymp::Outcome;
    /// let outcome = Outcome::OutOfMemory { limit: Some(300 << 20) };
    /// assert_eq!(
    ///     outcome.to_string(),
    ///     "was killed by SIGKILL, most likely by the kernel's out-of-memory \
    ///      killer when memory ran out (the limit is 300 MiB)"
    /// );
    /// ```
    OutOfMemory {
        /// All the memory there was to use, in bytes (the smallest memory
        /// cgroup limit, or the machine's memory), when known.
        limit: Option<u64>,
    },
    /// It ran past its timeout and was ended (`SIGTERM` to its process
    /// group, `SIGKILL` after the kill grace period).
    TimedOut,
    /// It was ended on request: `killall`, `kill`, `reset`, dropping the
    /// instance, or a front end stopping the run.
    Killed,
    /// The process could not be started (or the task could never be: it
    /// needs more memory than the machine has).
    FailedToStart {
        /// What the operating system (or the scheduler) said.
        error: String,
        /// The OS error number, when there is one.
        errno: Option<i32>,
    },
    /// The machine it ran on was lost: with the Slurm launcher, Slurm
    /// declared the task's node failed before the task's end reached us
    /// (its process is gone with the node, and how it would have ended is
    /// unknown; its report has no [`ProcessExit`]). Like any failure it is
    /// retried when the task has retries left; Slurm then starts it on a
    /// node that is up. Slurm takes its `SlurmdTimeout` (300 s by default)
    /// and up to a ping interval more to declare a node that stopped
    /// answering failed; see `docs/slurm.md`.
    ///
    /// ```
    /// use dummymp::Outcome;
    /// let outcome = Outcome::NodeLost { node: "node2".into() };
    /// assert!(!outcome.is_success());
    /// assert_eq!(outcome.to_string(), "was lost with its node node2 (Slurm: node failure)");
    /// ```
    NodeLost {
        /// The node, as Slurm names it.
        node: String,
    },
    /// The worker could not run the function or deliver its value: it runs
    /// a different executable than its parent, the program did not call
    /// [`init`](crate::init), the argument or return value could not be
    /// (de)serialised, or its message stream broke.
    Failed {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// Whether the task did what it was asked: a function returned its
    /// value, or a command exited with code 0.
    ///
    /// ```
    /// use dummymp::Outcome;
    /// assert!(Outcome::Returned.is_success());
    /// assert!(Outcome::Exited { code: 0 }.is_success());
    /// assert!(!Outcome::Exited { code: 1 }.is_success());
    /// // A function that exits instead of returning gives no value.
    /// assert!(!Outcome::ExitedEarly { code: 0 }.is_success());
    /// assert!(!Outcome::TimedOut.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Returned | Outcome::Exited { code: 0 })
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
            Outcome::Raised {
                exception, message, ..
            } => write!(f, "raised {exception}: {message}"),
            Outcome::Exited { code } => write!(f, "exited with code {code}"),
            Outcome::ExitedEarly { code } => {
                write!(f, "exited with code {code} before the function returned")
            }
            Outcome::Signaled { signal } => match signal_name(*signal) {
                Some(name) => write!(f, "was killed by signal {signal} ({name})"),
                None => write!(f, "was killed by signal {signal}"),
            },
            Outcome::OutOfMemory { limit } => {
                f.write_str(
                    "was killed by SIGKILL, most likely by the kernel's out-of-memory \
                     killer when memory ran out",
                )?;
                match limit {
                    Some(limit) => write!(
                        f,
                        " (the limit is {})",
                        crate::scheduler::memory::Bytes(*limit)
                    ),
                    None => Ok(()),
                }
            }
            Outcome::TimedOut => f.write_str("ran past its timeout and was ended"),
            Outcome::Killed => f.write_str("was killed on request"),
            Outcome::FailedToStart { error, .. } => write!(f, "could not be started: {error}"),
            Outcome::NodeLost { node } => {
                write!(f, "was lost with its node {node} (Slurm: node failure)")
            }
            Outcome::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// How a task's process itself ended, as the kernel reported it, whatever
/// that means for the task (see [`Outcome`]).
///
/// ```
/// use dummymp::ProcessExit;
/// assert_eq!(ProcessExit::Code(3).to_string(), "exit code 3");
/// assert_eq!(ProcessExit::Signal(15).to_string(), "signal 15 (SIGTERM)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessExit {
    /// It called `exit` with this code.
    Code(i32),
    /// This signal ended it.
    Signal(i32),
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessExit::Code(code) => write!(f, "exit code {code}"),
            ProcessExit::Signal(signal) => match signal_name(*signal) {
                Some(name) => write!(f, "signal {signal} ({name})"),
                None => write!(f, "signal {signal}"),
            },
        }
    }
}

/// The conventional name of a signal number (`SIGKILL` for 9).
///
/// ```
/// assert_eq!(dummymp::signal_name(9), Some("SIGKILL"));
/// assert_eq!(dummymp::signal_name(6), Some("SIGABRT"));
/// assert_eq!(dummymp::signal_name(1000), None);
/// ```
pub fn signal_name(signal: i32) -> Option<&'static str> {
    crate::platform::signal_name(signal)
}
