//! Pausing running tasks, for two causes: other users' load (the
//! scheduler's advice, applied by [`yielding`](super::yielding)) and the
//! front end ([`Engine::pause_all`], such as when the terminal stops the
//! program with Ctrl-Z). A task is stopped (`SIGSTOP`) when its first cause
//! comes and continued (`SIGCONT`) only once every cause is lifted; its
//! timeout does not run while it is stopped.
//!
//! Every stop and continue of a running task goes through [`pause`] and
//! [`unpause`], which act on it through its launch handle.

use std::time::{Duration, Instant};

use super::Engine;
use super::running::RunningTask;

/// Why a running task is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseCause {
    /// Other users' processes need its CPU.
    Load,
    /// The front end paused every task ([`Engine::pause_all`]).
    FrontEnd,
}

/// The causes a running task is paused for, and since when it is stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pauses {
    load: bool,
    front_end: bool,
    since: Option<Instant>,
}

impl Pauses {
    /// Whether the task is stopped (for any cause).
    pub(crate) fn is_paused(&self) -> bool {
        self.since.is_some()
    }

    /// Whether the task is paused for `cause`.
    pub(crate) fn holds(&self, cause: PauseCause) -> bool {
        match cause {
            PauseCause::Load => self.load,
            PauseCause::FrontEnd => self.front_end,
        }
    }

    fn cause_mut(&mut self, cause: PauseCause) -> &mut bool {
        match cause {
            PauseCause::Load => &mut self.load,
            PauseCause::FrontEnd => &mut self.front_end,
        }
    }

    /// Adds `cause` at `now`; true when the task has to be stopped now (it
    /// was running).
    fn add(&mut self, cause: PauseCause, now: Instant) -> bool {
        *self.cause_mut(cause) = true;
        if self.since.is_some() {
            return false;
        }
        self.since = Some(now);
        true
    }

    /// Lifts `cause` at `now`; when no cause is left, the task has to be
    /// continued now: returns how long it was stopped.
    fn lift(&mut self, cause: PauseCause, now: Instant) -> Option<Duration> {
        *self.cause_mut(cause) = false;
        if self.load || self.front_end {
            return None;
        }
        let since = self.since.take()?;
        Some(now.saturating_duration_since(since))
    }
}

/// Pauses `task` for `cause`; stops its processes unless they are stopped
/// already.
pub(crate) fn pause(task: &mut RunningTask, cause: PauseCause, now: Instant) {
    if task.pauses.add(cause, now) {
        task.process.pause();
    }
}

/// Lifts `cause` from `task`; once no cause is left, continues its
/// processes, and its timeout moves by the time they were stopped.
pub(crate) fn unpause(task: &mut RunningTask, cause: PauseCause, now: Instant) {
    if let Some(stopped) = task.pauses.lift(cause, now) {
        task.process.resume();
        if let Some(deadline) = &mut task.deadline {
            *deadline += stopped;
        }
    }
}

impl Engine {
    /// Pauses every running task: its whole process group is stopped
    /// (`SIGSTOP`) until [`Engine::resume_all`]. Until then no queued task
    /// starts, and the timeouts of the paused tasks do not run. A front end
    /// calls it when it is stopped itself (the `dummymp` tool does when the
    /// terminal stops it with Ctrl-Z: its tasks run in process groups of
    /// their own, which the terminal does not stop). Tasks can still be
    /// ended meanwhile ([`Engine::kill`], [`Engine::end_all`]).
    ///
    /// This pause is separate from the one for other users' load (see
    /// [`Event::Paused`](super::Event::Paused)): a task paused for both
    /// runs again only once both are over.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::{Engine, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler};
    ///
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::command(Command::new("sleep").arg("60")));
    /// engine.process(&mut |_: dummymp::engine::Event<'_>| {})?;
    /// engine.pause_all();
    /// assert!(engine.is_paused());
    /// // ... the front end is stopped, and continued ...
    /// engine.resume_all();
    /// engine.killall(&mut |_: dummymp::engine::Event<'_>| {});
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn pause_all(&mut self) {
        self.paused = true;
        let now = Instant::now();
        for task in &mut self.running {
            if task.ending.is_none() {
                pause(task, PauseCause::FrontEnd, now);
            }
        }
    }

    /// Continues what [`Engine::pause_all`] paused, and lets queued tasks
    /// start again. A task that is also paused for other users' load stays
    /// paused until that pause is over.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.pause_all();
    /// engine.resume_all();
    /// assert!(!engine.is_paused());
    /// ```
    pub fn resume_all(&mut self) {
        self.paused = false;
        let now = Instant::now();
        for task in &mut self.running {
            if task.pauses.holds(PauseCause::FrontEnd) {
                unpause(task, PauseCause::FrontEnd, now);
            }
        }
    }

    /// Whether [`Engine::pause_all`] paused the tasks (and no
    /// [`Engine::resume_all`] followed).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert!(!engine.is_paused());
    /// ```
    pub fn is_paused(&self) -> bool {
        self.paused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_paused_for_both_causes_runs_again_when_both_are_lifted() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut pauses = Pauses::default();
        assert!(pauses.add(PauseCause::Load, at(1)), "stopped");
        assert!(!pauses.add(PauseCause::FrontEnd, at(2)), "stopped already");
        assert!(pauses.holds(PauseCause::Load) && pauses.holds(PauseCause::FrontEnd));
        assert_eq!(pauses.lift(PauseCause::Load, at(3)), None, "still held");
        assert!(pauses.is_paused());
        assert_eq!(
            pauses.lift(PauseCause::FrontEnd, at(5)),
            Some(Duration::from_secs(4)),
            "continued: stopped from the first pause to the last lift"
        );
        assert!(!pauses.is_paused());
        // The other way round.
        assert!(pauses.add(PauseCause::FrontEnd, at(6)));
        assert!(!pauses.add(PauseCause::Load, at(7)));
        assert_eq!(pauses.lift(PauseCause::FrontEnd, at(8)), None);
        assert_eq!(
            pauses.lift(PauseCause::Load, at(9)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn lifting_a_cause_that_does_not_hold_changes_nothing() {
        let t0 = Instant::now();
        let mut pauses = Pauses::default();
        assert_eq!(pauses.lift(PauseCause::FrontEnd, t0), None);
        assert!(pauses.add(PauseCause::Load, t0));
        assert_eq!(pauses.lift(PauseCause::FrontEnd, t0), None);
        assert!(pauses.is_paused());
    }
}
