//! Ending tasks: why and when.
//!
//! A task we end (a timeout, a kill, a stop) is asked to end now
//! ([`ProcessHandle::terminate`]: `SIGTERM`) and killed once the kill grace
//! period is over ([`ProcessHandle::kill`]: `SIGKILL`). What it leaves
//! behind is the launcher's to sweep (see `launch::leftovers`).

use std::time::{Duration, Instant};

use crate::launch::ProcessHandle;
use crate::task::Outcome;

/// Why we end a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// It ran past its timeout.
    TimedOut,
    /// It was asked to end (kill, killall, a stop).
    Killed,
    /// Its worker's message stream broke: no result can come, and a worker
    /// that went on writing would block on the pipe nobody reads.
    BrokenStream,
}

impl EndReason {
    /// The outcome of a task we ended for this reason.
    pub(crate) fn outcome(self) -> Outcome {
        match self {
            EndReason::TimedOut => Outcome::TimedOut,
            EndReason::Killed => Outcome::Killed,
            EndReason::BrokenStream => Outcome::Failed {
                reason: "the worker's message stream broke".to_string(),
            },
        }
    }
}

/// A task being ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending {
    pub reason: EndReason,
    /// When `SIGKILL` follows, unless it was sent already.
    pub kill_at: Option<Instant>,
}

/// Starts ending a task: asked to end now, killed after `grace`.
pub(crate) fn terminate(
    process: &ProcessHandle,
    reason: EndReason,
    grace: Duration,
    now: Instant,
) -> Ending {
    process.terminate();
    Ending {
        reason,
        kill_at: Some(now + grace),
    }
}

/// Kills a task now.
pub(crate) fn kill(process: &ProcessHandle, ending: &mut Ending) {
    process.kill();
    ending.kill_at = None;
}

impl Ending {
    /// Whether we sent `SIGKILL` already.
    pub(crate) fn killed(&self) -> bool {
        self.kill_at.is_none()
    }
}
