//! Giving CPUs back while our tasks run: applying the scheduler's
//! [`RunningAdvice`] to the running tasks.
//!
//! When other users' load appears after our tasks started, the considerate
//! modes lower our tasks' priority (to [`YIELDING_NICENESS`]) and `Generous`
//! pauses (`SIGSTOP`) the most recently started tasks down to the CPUs left
//! free, continuing (`SIGCONT`) them, oldest first, when the load goes
//! away (unless the front end paused them too: see [`super::pausing`]). A
//! paused task's timeout does not run while it is paused. Tasks are
//! paused, reniced and continued through their
//! [`ProcessHandle`](crate::launch::ProcessHandle).

use std::time::Instant;

use crate::scheduler::running_advice::RunningAdvice;

use super::Engine;
use super::events::{Event, EventSink};
use super::pausing::{self, PauseCause};
use super::running::RunningTask;

/// The niceness our tasks get while the scheduler advises them to yield:
/// the lowest priority, so that they only use CPU time nobody else wants.
pub const YIELDING_NICENESS: i32 = 19;

/// What the engine remembers of the scheduler's advice.
#[derive(Debug, Default)]
pub(crate) struct YieldingState {
    /// Whether the scheduler is being asked what running tasks should do
    /// (it is asked once more after the last one ends).
    pub advising: bool,
    /// Whether tasks start at the yielding niceness now.
    pub renice_new: bool,
}

impl Engine {
    /// Asks the scheduler what the running tasks should do about other
    /// users' load, and does it.
    pub(super) fn yield_if_advised(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        if self.running.is_empty() && !self.yielding.advising {
            return;
        }
        let advice = self.scheduler.running_advice(self.running.len());
        self.yielding.advising = !self.running.is_empty();
        self.yielding.renice_new = advice.renice;
        apply(
            advice,
            &mut self.running,
            self.settings.niceness,
            Instant::now(),
            sink,
        );
    }
}

/// Applies `advice` to `running`.
fn apply(
    advice: RunningAdvice,
    running: &mut [RunningTask],
    normal_niceness: Option<i32>,
    now: Instant,
    sink: &mut (impl EventSink + ?Sized),
) {
    for task in running.iter_mut() {
        if advice.renice != task.reniced && task.ending.is_none() {
            let niceness = if advice.renice {
                YIELDING_NICENESS
            } else {
                normal_niceness.unwrap_or(0)
            };
            // Raising a priority back needs privileges: without them the
            // task stays at the lower one.
            if task.process.renice(niceness).is_ok() || advice.renice {
                task.reniced = advice.renice;
                if advice.renice {
                    sink.event(Event::Reniced { id: task.id });
                }
            }
        }
    }
    // Oldest first: the most recently started ones are paused first.
    let mut order: Vec<usize> = (0..running.len()).collect();
    order.sort_by_key(|&i| running[i].started);
    for (rank, index) in order.into_iter().enumerate() {
        let task = &mut running[index];
        let keep = rank < advice.keep_running || task.ending.is_some();
        match (keep, task.pauses.holds(PauseCause::Load)) {
            (false, false) => {
                pausing::pause(task, PauseCause::Load, now);
                sink.event(Event::Paused { id: task.id });
            }
            (true, true) => {
                pausing::unpause(task, PauseCause::Load, now);
                sink.event(Event::Resumed { id: task.id });
            }
            _ => {}
        }
    }
}
