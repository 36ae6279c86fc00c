//! What a task is, in one place: how a caller names it (ids and typed
//! handles), what it runs ([`TaskSpec`]) with which options
//! ([`TaskOptions`]), what it chooses about its output, how it ended
//! ([`Outcome`]) and the report of all that ([`TaskReport`]).

mod fork_host;
mod options;
mod outcome;
mod report;
mod spec;

pub(crate) use fork_host::ForkHostRef;
pub use fork_host::{ForkHost, ForkedLink};
pub use options::TaskOptions;
pub use outcome::{Outcome, ProcessExit, signal_name};
pub use report::{Progress, TaskReport};
pub(crate) use spec::{CallTarget, Work};
pub use spec::{ForeignWorker, OutputRoute, StartInfo, TaskSpec};

use std::fmt;
use std::marker::PhantomData;

/// A task's call index: 0 for the first task queued (since the last
/// `reset`), 1 for the next, and so on.
///
/// A plain `usize` index converts into it, so the keys of
/// [`returns`](crate::DummyMp::returns) work wherever an id is asked for.
///
/// ```
/// use dummymp::TaskId;
/// let id: TaskId = 3.into();
/// assert_eq!(id.index(), 3);
/// assert_eq!(id.to_string(), "task 3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) usize);

impl TaskId {
    /// The call index.
    ///
    /// ```
    /// assert_eq!(dummymp::TaskId::from(7).index(), 7);
    /// ```
    pub fn index(self) -> usize {
        self.0
    }
}

impl From<usize> for TaskId {
    fn from(index: usize) -> TaskId {
        TaskId(index)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.0)
    }
}

/// The id of a queued task together with the type of value it returns, for
/// reading that value back with [`DummyMp::value`](crate::DummyMp::value)
/// (or moving it out with [`take_value`](crate::DummyMp::take_value)).
/// It is `Copy`, and converts into a [`TaskId`] wherever one is asked for.
///
/// ```
/// # dummymp::init();
/// fn double(x: u32) -> u32 { 2 * x }
/// let mut mp = dummymp::DummyMp::new();
/// let handle: dummymp::TaskHandle<u32> = mp.run(double, 21)?;
/// mp.process_until_done()?;
/// assert_eq!(mp.value(handle), Some(&42)); // typed: a &u32
/// assert_eq!(mp.outcome(handle), Some(&dummymp::Outcome::Returned));
/// # Ok::<(), dummymp::Error>(())
/// ```
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
    ///
    /// ```
    /// # dummymp::init();
    /// fn one() -> u8 { 1 }
    /// let mut mp = dummymp::DummyMp::new();
    /// let handle = mp.run(one, ())?;
    /// assert_eq!(handle.id(), dummymp::TaskId::from(0));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn id(self) -> TaskId {
        self.id
    }

    /// The task's call index: its key in
    /// [`returns`](crate::DummyMp::returns).
    ///
    /// ```
    /// # dummymp::init();
    /// fn one() -> u8 { 1 }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(one, ())?;
    /// let second = mp.run(one, ())?;
    /// assert_eq!(second.index(), 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
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

/// What happens to the lines a task writes to its standard output and
/// standard error (set with
/// [`DummyMp::set_output_mode`](crate::DummyMp::set_output_mode); it
/// applies to the tasks queued after). Lines reach the parent whole: two
/// tasks' output never mixes within a line.
///
/// ```
/// # dummymp::init();
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_output_mode(dummymp::OutputMode::Captured);
/// let id = mp.run_command(dummymp::Command::new("echo").arg("kept"))?;
/// mp.process_until_done()?;
/// assert_eq!(mp.report(id).unwrap().stdout, b"kept\n");
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Written to the parent's stdout and stderr as whole lines, each
    /// prefixed with `[PID n] ` (the default).
    #[default]
    Tagged,
    /// Written to the parent's stdout and stderr as whole lines, unchanged.
    Untagged,
    /// Kept in the task's [`TaskReport`](crate::TaskReport) (`stdout` and
    /// `stderr`).
    Captured,
}

/// One of a task's two output streams, as named by
/// [`Event::Output`](crate::engine::Event::Output).
///
/// ```
/// assert_ne!(dummymp::Stream::Stdout, dummymp::Stream::Stderr);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Stream {
    /// Its standard output.
    Stdout,
    /// Its standard error.
    Stderr,
}
