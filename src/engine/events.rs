//! What the engine tells its front end: tasks starting, writing, being
//! retried and ending.

use crate::task::Outcome;
use crate::task::TaskReport;
use crate::task::{Stream, TaskId};

/// Something that happened to a task, handed to the front end's
/// [`EventSink`] by [`Engine::process`](super::Engine::process).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A task started: its process did, or, for a task sent ahead to a
    /// reused worker, the task before it returned and the worker went on
    /// to it (see [`Engine::set_tasks_ahead`](super::Engine::set_tasks_ahead)).
    /// Its timeout runs from here.
    Started {
        /// The task.
        id: TaskId,
        /// Its process id (and process group id).
        pid: u32,
        /// Its slot (see [`StartInfo::slot`](super::StartInfo::slot)).
        slot: usize,
        /// Which attempt this is, from 1.
        attempt: u32,
    },
    /// Output of a task whose route is [`OutputRoute::Events`](super::OutputRoute::Events).
    Output {
        /// The task.
        id: TaskId,
        /// Which stream.
        stream: Stream,
        /// The bytes: whole lines from a worker, raw chunks from a command.
        data: &'a [u8],
    },
    /// A task failed and will run again.
    Retrying {
        /// The task.
        id: TaskId,
        /// How the attempt that just ended ended.
        outcome: &'a Outcome,
        /// The attempt that comes next, from 2.
        next_attempt: u32,
    },
    /// A task was paused (`SIGSTOP`) to leave its CPU to other users'
    /// processes (see [`Priority`](crate::Priority)'s yielding). Pauses the
    /// front end asks for ([`Engine::pause_all`](super::Engine::pause_all))
    /// are not told.
    Paused {
        /// The task.
        id: TaskId,
    },
    /// A task paused for other users' processes is no longer paused for
    /// them: it runs again, unless the front end paused every task
    /// ([`Engine::pause_all`](super::Engine::pause_all)) meanwhile, in
    /// which case it runs again at [`Engine::resume_all`](super::Engine::resume_all).
    Resumed {
        /// The task.
        id: TaskId,
    },
    /// A task now runs at the lowest priority, to leave CPU time to other
    /// users' processes.
    Reniced {
        /// The task.
        id: TaskId,
    },
    /// A task ended for good; the engine forgets it.
    Ended(Box<TaskReport>),
}

/// Receives the engine's [`Event`]s. Any `FnMut(Event)` closure is one.
///
/// ```
/// use dummymp::engine::{Event, EventSink};
/// let mut ended = 0;
/// let mut sink = |event: Event<'_>| {
///     if let Event::Ended(_) = event {
///         ended += 1;
///     }
/// };
/// # fn takes(_: &mut impl EventSink) {}
/// takes(&mut sink);
/// ```
pub trait EventSink {
    /// Handles one event.
    fn event(&mut self, event: Event<'_>);

    /// Whether the engine may start more tasks now. A front end that has
    /// just decided to stop (on an event it was handed) says no, so that
    /// nothing starts before it can [close](super::Engine::close) the
    /// engine. Yes unless overridden.
    fn accepts_starts(&self) -> bool {
        true
    }
}

impl<F: FnMut(Event<'_>)> EventSink for F {
    fn event(&mut self, event: Event<'_>) {
        self(event)
    }
}
