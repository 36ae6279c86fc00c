//! Pausing running tasks, for two causes: other users' load (the
//! scheduler's advice, applied by [`yielding`](super::yielding)) and the
//! front end ([`Engine::pause_all`], such as when the terminal stops the
//! program with Ctrl-Z). A task is stopped (`SIGSTOP`) when its first cause
//! comes and continued (`SIGCONT`) only once every cause is lifted; its
//! timeout does not run while it is stopped.
//!
//! Every stop and continue of a running task goes through [`pause`] and
//! [`unpause`], which act on it through its launch handle.

use std::time::Instant;

use super::Engine;
pub(crate) use super::pause_causes::PauseCause;
use super::running::RunningTask;

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
