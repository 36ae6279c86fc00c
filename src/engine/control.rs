//! Ending tasks on request: one task ([`Engine::kill`]), every running task
//! ([`Engine::end_all`], [`Engine::kill_all_now`], [`Engine::killall`]), and
//! the whole run ([`Engine::close`]).

use std::time::Instant;

use super::Engine;
use super::ending::{self, EndReason};
use super::events::EventSink;
use crate::task::TaskId;

/// Whether tasks may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Gate {
    /// They start as the scheduler allows.
    #[default]
    Open,
    /// None starts for now (while [`Engine::killall`] waits).
    Holding,
    /// Nothing starts and nothing is retried any more ([`Engine::close`]).
    Closed,
}

impl Gate {
    /// Whether tasks may start (and failed ones be retried).
    pub(crate) fn is_open(self) -> bool {
        self == Gate::Open
    }
}

impl Engine {
    /// Ends task `id`: removed from the queue if it has not started (it
    /// then ends at the next [`Engine::process`]), else asked to end
    /// (`SIGTERM`) and killed (`SIGKILL`) after the kill grace period. It
    /// ends as [`Outcome::Killed`](crate::Outcome::Killed). Returns whether
    /// such a task was queued or running.
    ///
    /// ```
    /// use dummymp::engine::{Engine, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler, TaskId};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// let id = engine.submit(TaskSpec::command(Command::new("true")));
    /// assert!(engine.kill(id));
    /// assert!(!engine.kill(TaskId::from(7)));
    /// ```
    pub fn kill(&mut self, id: TaskId) -> bool {
        if self.queue.kill(id) || self.kill_ahead(id) {
            return true;
        }
        let now = Instant::now();
        let grace = self.settings.kill_grace;
        match self.running.iter_mut().find(|task| task.id == id) {
            Some(task) => {
                if task.ending.is_none() {
                    task.ending = Some(ending::terminate(
                        &task.process,
                        EndReason::Killed,
                        grace,
                        now,
                    ));
                }
                self.recall_ahead();
                true
            }
            None => false,
        }
    }

    /// Starts ending every running task (see [`Engine::kill`]); they end as
    /// [`Outcome::Killed`](crate::Outcome::Killed) (or
    /// [`Outcome::TimedOut`](crate::Outcome::TimedOut) if their timeout was
    /// already ending them). Queued tasks stay queued, those sent ahead to
    /// a reused worker too: they go back to the queue.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.end_all(); // nothing runs: nothing to do
    /// assert_eq!(engine.running(), 0);
    /// ```
    pub fn end_all(&mut self) {
        let now = Instant::now();
        for task in &mut self.running {
            if task.ending.is_none() {
                task.ending = Some(ending::terminate(
                    &task.process,
                    EndReason::Killed,
                    self.settings.kill_grace,
                    now,
                ));
            }
        }
        self.recall_ahead();
    }

    /// Kills every running task now (`SIGKILL`, no grace period).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.kill_all_now();
    /// assert_eq!(engine.running(), 0);
    /// ```
    pub fn kill_all_now(&mut self) {
        for task in &mut self.running {
            let ending = task.ending.get_or_insert(ending::Ending {
                reason: EndReason::Killed,
                kill_at: None,
            });
            ending::kill(&task.process, ending);
        }
        self.recall_ahead();
    }

    /// Stops the run from going further: removes every queued task (their
    /// ids are returned; they are not reported), and from now on nothing
    /// starts and a failing task is not retried. (A reused worker that
    /// had tasks sent ahead to it ends once its current task is done: it
    /// may have begun the next by then.) Running tasks go on (end
    /// them with [`Engine::end_all`] if need be). Tasks submitted after
    /// this stay queued and never start.
    ///
    /// ```
    /// use dummymp::engine::{Engine, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler, TaskId};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::command(Command::new("true")));
    /// assert_eq!(engine.close(), vec![TaskId::from(0)]);
    /// assert!(engine.is_closed());
    /// ```
    pub fn close(&mut self) -> Vec<TaskId> {
        self.gate = Gate::Closed;
        let mut dropped = self.drop_ahead();
        dropped.extend(self.drop_queued());
        dropped.sort_unstable();
        dropped
    }

    /// Whether [`Engine::close`] was called.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert!(!engine.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.gate == Gate::Closed
    }

    /// Ends every running task and waits until each has ended and nothing
    /// it left is alive, handing their reports to `sink`. No task starts
    /// meanwhile; queued tasks stay queued.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::{Engine, Event, TaskSpec};
    /// use dummymp::{Command, Outcome, Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::command(Command::new("sleep").arg("60")));
    /// engine.process(&mut |_: Event<'_>| {})?;
    /// let mut outcomes = Vec::new();
    /// engine.killall(&mut |event: Event<'_>| {
    ///     if let Event::Ended(report) = event {
    ///         outcomes.push(report.outcome);
    ///     }
    /// });
    /// assert_eq!(outcomes, vec![Outcome::Killed]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn killall(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        let before = self.gate;
        if before == Gate::Open {
            self.gate = Gate::Holding;
        }
        self.end_all();
        self.pool.retire_all(
            self.settings.kill_grace,
            &mut self.sweeper,
            self.scheduler.own_processes(),
        );
        loop {
            let _ = self.process(sink);
            if self.running.is_empty() && self.sweeper.is_idle() {
                break;
            }
            if let Err(e) = self.wait(None, &[]) {
                log::debug!(target: "dummymp::engine", "waiting for killed tasks: {e}");
                self.kill_all_now();
                self.waited = false;
                std::thread::yield_now();
            }
        }
        if self.gate == Gate::Holding {
            self.gate = before;
        }
    }
}
