//! Giving CPUs back while our tasks run: applying the scheduler's
//! [`RunningAdvice`] to the running tasks.
//!
//! When other users' load appears after our tasks started, the considerate
//! modes lower our tasks' priority (to [`YIELDING_NICENESS`]) and `Generous`
//! pauses (`SIGSTOP`) the most recently started tasks down to the CPUs left
//! free, continuing (`SIGCONT`) them, oldest first, when the load goes
//! away (unless the front end paused them too: see [`super::pausing`]).
//! A paused task's timeout does not run while it is paused. The whole
//! process group of a task is paused, reniced and continued.

use std::time::Instant;

use crate::launch::Launcher;
use crate::platform;
use crate::scheduler::yielding::RunningAdvice;

use super::events::{Event, EventSink};
use super::pausing::{self, PauseCause};
use super::running::RunningTask;

/// The niceness our tasks get while the scheduler advises them to yield:
/// the lowest priority, so that they only use CPU time nobody else wants.
pub const YIELDING_NICENESS: i32 = 19;

/// Applies `advice` to `running`.
pub(crate) fn apply(
    advice: RunningAdvice,
    running: &mut [RunningTask],
    launcher: &Launcher,
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
            if platform::renice_group(task.process.pid, niceness).is_ok() || advice.renice {
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
                pausing::pause(launcher, task, PauseCause::Load, now);
                sink.event(Event::Paused { id: task.id });
            }
            (true, true) => {
                pausing::unpause(launcher, task, PauseCause::Load, now);
                sink.event(Event::Resumed { id: task.id });
            }
            _ => {}
        }
    }
}
