//! What is known about a task once it has ended ([`TaskReport`]), and the
//! counts handed to progress callbacks ([`Progress`]).

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::encoded::Encoded;
use crate::task::TaskId;
use crate::task::{Outcome, ProcessExit};

/// Everything known about a task that has ended.
///
/// ```
/// # dummymp::init();
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_output_mode(dummymp::OutputMode::Captured);
/// let id = mp.run_command(dummymp::Command::shell("echo hello; exit 3"))?;
/// mp.process_until_done()?;
/// let report = mp.report(id).unwrap();
/// assert_eq!(report.outcome, dummymp::Outcome::Exited { code: 3 });
/// assert_eq!(report.stdout, b"hello\n");
/// assert_eq!(report.attempts, 1);
/// # Ok::<(), dummymp::Error>(())
/// ```
pub struct TaskReport {
    /// The task's id.
    pub id: TaskId,
    /// What it ran: the function's signature, or the command line.
    pub name: Cow<'static, str>,
    /// The process id of its last attempt, if one was started.
    pub pid: Option<u32>,
    /// How it ended (its last attempt, when it was retried).
    pub outcome: Outcome,
    /// How its process ended, as the kernel reported it, if it was started
    /// and its status was not lost.
    pub exit: Option<ProcessExit>,
    /// Its standard output, when its output was captured.
    pub stdout: Vec<u8>,
    /// Its standard error, when its output was captured.
    pub stderr: Vec<u8>,
    /// When its last attempt started, by the wall clock.
    pub started_at: Option<SystemTime>,
    /// From the start of its last attempt to the moment it ended.
    pub runtime: Duration,
    /// How many times it was started (more than 1 when it was retried).
    pub attempts: u32,
    /// The largest resident set size its process (and the children it
    /// waited for) reached, in bytes, when known.
    pub peak_rss: Option<u64>,
    /// The encoded return value of a function task, until the front end
    /// decodes it into `value`; in pieces only for a front end that decodes
    /// it from them (see `TaskSpec::decoded_from_pieces`).
    pub(crate) returned: Option<Encoded>,
    /// The decoded return value.
    pub(crate) value: Option<Box<dyn Any + Send>>,
}

impl TaskReport {
    /// A report for a task that ended without a process (never started, or
    /// removed from the queue).
    pub(crate) fn without_process(
        id: TaskId,
        name: Cow<'static, str>,
        outcome: Outcome,
        attempts: u32,
    ) -> TaskReport {
        TaskReport {
            id,
            name,
            pid: None,
            outcome,
            exit: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            started_at: None,
            runtime: Duration::ZERO,
            attempts,
            peak_rss: None,
            returned: None,
            value: None,
        }
    }

    /// A copy of everything but the return value (encoded or decoded).
    pub(crate) fn copy_without_value(&self) -> TaskReport {
        TaskReport {
            id: self.id,
            name: self.name.clone(),
            pid: self.pid,
            outcome: self.outcome.clone(),
            exit: self.exit,
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            started_at: self.started_at,
            runtime: self.runtime,
            attempts: self.attempts,
            peak_rss: self.peak_rss,
            returned: None,
            value: None,
        }
    }

    /// The encoded return value of a function task (postcard), as the
    /// worker sent it; `None` unless the function returned. Front ends
    /// built on the [engine](crate::engine) decode it themselves;
    /// [`DummyMp`](crate::DummyMp) has already decoded it into the value
    /// that [`DummyMp::value`](crate::DummyMp::value) gives, so its
    /// reports hold no bytes.
    ///
    /// ```
    /// # dummymp::init();
    /// fn two() -> u8 { 2 }
    /// let mut mp = dummymp::DummyMp::new();
    /// let task = mp.run(two, ())?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(task).unwrap().returned_bytes(), None);
    /// assert_eq!(mp.value(task), Some(&2));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn returned_bytes(&self) -> Option<&[u8]> {
        match &self.returned {
            Some(Encoded::Whole(bytes)) => Some(bytes),
            // Only DummyMp gets pieces, and decodes them.
            Some(Encoded::Pieces(_)) | None => None,
        }
    }

    /// Takes the encoded return value out of the report (see
    /// [`returned_bytes`](TaskReport::returned_bytes)).
    ///
    /// ```
    /// use dummymp::engine::{Engine, Event, EventSink, TaskSpec};
    /// # dummymp::init();
    /// fn two() -> u8 { 2 }
    /// struct Keep(Vec<u8>);
    /// impl EventSink for Keep {
    ///     fn event(&mut self, event: Event<'_>) {
    ///         if let Event::Ended(mut report) = event {
    ///             self.0 = report.take_returned_bytes().unwrap_or_default();
    ///         }
    ///     }
    /// }
    /// let mut engine = Engine::new(dummymp::Scheduler::new(dummymp::Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::call(two, ())?);
    /// let mut sink = Keep(Vec::new());
    /// loop {
    ///     engine.process(&mut sink)?;
    ///     if engine.is_idle() {
    ///         break;
    ///     }
    ///     engine.wait(None, &[])?;
    /// }
    /// assert_eq!(sink.0, [2]); // postcard's encoding of 2u8
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn take_returned_bytes(&mut self) -> Option<Vec<u8>> {
        self.returned.take().map(Encoded::into_vec)
    }
}

impl fmt::Debug for TaskReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskReport")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("outcome", &self.outcome)
            .field("exit", &self.exit)
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &String::from_utf8_lossy(&self.stderr))
            .field("runtime", &self.runtime)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Counts handed to the start and end callbacks, as in the original:
/// `(completed, running, total)`.
///
/// ```
/// let progress = dummymp::Progress { completed: 1, running: 2, total: 5 };
/// assert_eq!(progress.total - progress.completed - progress.running, 2); // still queued
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Tasks that have ended, whatever their outcome.
    pub completed: usize,
    /// Tasks running now.
    pub running: usize,
    /// Tasks queued since the last reset, in every state.
    pub total: usize,
}
