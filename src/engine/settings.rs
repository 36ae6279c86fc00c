//! How the engine runs tasks, as a value ([`EngineSettings`]), and the
//! engine's setters: where tasks start, how long they get to end, how nice
//! they run, how far apart they start, whether workers are reused.

use std::path::PathBuf;
use std::time::Duration;

use super::{DEFAULT_KILL_GRACE, Engine};
use crate::launch::Launcher;

/// How an [`Engine`] runs its tasks, apart from the scheduler's
/// admission rules. Read it with [`Engine::settings`].
///
/// ```
/// use dummymp::engine::{EngineSettings, DEFAULT_KILL_GRACE};
/// let settings = EngineSettings::default();
/// assert_eq!(settings.kill_grace, DEFAULT_KILL_GRACE);
/// assert_eq!(settings.start_delay, None);
/// assert!(!settings.reuse_workers);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineSettings {
    /// How long ended tasks get between `SIGTERM` and `SIGKILL`.
    pub kill_grace: Duration,
    /// The niceness tasks start at (`None`: this process's own).
    pub niceness: Option<i32>,
    /// The least time between two starts (`None`: as fast as the
    /// scheduler allows).
    pub start_delay: Option<Duration>,
    /// Whether workers run task after task.
    pub reuse_workers: bool,
    /// How many queued tasks a reused worker may be sent ahead of the one
    /// it runs: `None` (the default) decides by how long its tasks take,
    /// `Some(0)` sends none ahead, `Some(n)` up to `n` whatever the tasks
    /// take. See [`Engine::set_tasks_ahead`].
    pub tasks_ahead: Option<usize>,
    /// The program workers start from, when not the running executable.
    pub worker_program: Option<PathBuf>,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            kill_grace: DEFAULT_KILL_GRACE,
            niceness: None,
            start_delay: None,
            reuse_workers: false,
            tasks_ahead: None,
            worker_program: None,
        }
    }
}

impl Engine {
    /// How the engine runs its tasks.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_nice(Some(5));
    /// assert!(engine.settings().niceness.is_some());
    /// ```
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Where tasks are started from now on.
    ///
    /// A launcher that knows how many tasks fit where it starts them (a
    /// Slurm allocation) sets the scheduler's
    /// [capacity](crate::Scheduler::set_capacity) to that; going back to a
    /// launcher that does not restores the capacity set before. The process
    /// cap still applies, and so does the priority mode, which measures the
    /// load of the machine this process runs on.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Launcher, Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_launcher(Launcher::Local);
    /// assert_eq!(engine.launcher(), &Launcher::Local);
    /// ```
    pub fn set_launcher(&mut self, launcher: Launcher) {
        if let Launcher::Slurm(options) = &launcher
            && let Some(job) = options.job_id()
        {
            // On the node the batch script runs on, the job's steps are
            // our tasks, though not our descendants.
            self.scheduler.own_processes().add_slurm_job(job);
        }
        match launcher.capacity() {
            Some(capacity) => {
                let before = self.scheduler.capacity();
                self.capacity_before_launcher.get_or_insert(before);
                self.scheduler.set_capacity(Some(capacity));
            }
            None => {
                if let Some(before) = self.capacity_before_launcher.take() {
                    self.scheduler.set_capacity(before);
                }
            }
        }
        self.launch.set_launcher(launcher);
    }

    /// The launcher.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Launcher, Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.launcher(), &Launcher::Local);
    /// ```
    pub fn launcher(&self) -> &Launcher {
        self.launch.launcher()
    }

    /// How long ended tasks get between `SIGTERM` and `SIGKILL`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_kill_grace(Duration::from_millis(200));
    /// assert_eq!(engine.kill_grace(), Duration::from_millis(200));
    /// ```
    pub fn set_kill_grace(&mut self, grace: Duration) {
        self.settings.kill_grace = grace;
        self.launch.set_kill_grace(grace);
    }

    /// The kill grace period.
    ///
    /// ```
    /// use dummymp::engine::{Engine, DEFAULT_KILL_GRACE};
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.kill_grace(), DEFAULT_KILL_GRACE);
    /// ```
    pub fn kill_grace(&self) -> Duration {
        self.settings.kill_grace
    }

    /// Starts tasks `increment` nicer than this process (`None`: as nice
    /// as this process). The result is clamped to -20..=19.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_nice(Some(100));
    /// assert_eq!(engine.settings().niceness, Some(19));
    /// ```
    pub fn set_nice(&mut self, increment: Option<i32>) {
        self.settings.niceness = increment.map(|increment| {
            let ours = crate::platform::own_niceness();
            (ours + increment).clamp(-20, 19)
        });
    }

    /// Starts tasks at least `delay` apart (`None`: as fast as the
    /// scheduler allows), like GNU parallel's `--delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_start_delay(Some(Duration::from_millis(50)));
    /// assert_eq!(engine.start_delay(), Some(Duration::from_millis(50)));
    /// engine.set_start_delay(Some(Duration::ZERO));
    /// assert_eq!(engine.start_delay(), None);
    /// ```
    pub fn set_start_delay(&mut self, delay: Option<Duration>) {
        self.settings.start_delay = delay.filter(|d| !d.is_zero());
    }

    /// The least time between two starts.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.start_delay(), None);
    /// ```
    pub fn start_delay(&self) -> Option<Duration> {
        self.settings.start_delay
    }

    /// Whether workers run task after task (`true`) or each task gets a
    /// fresh worker (`false`, the default). See
    /// [`DummyMp::set_reuse_workers`](crate::DummyMp::set_reuse_workers)
    /// for what changes for the tasks. Turning it off ends the idle
    /// workers.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_reuse_workers(true);
    /// assert!(engine.reuse_workers());
    /// ```
    pub fn set_reuse_workers(&mut self, reuse: bool) {
        self.settings.reuse_workers = reuse;
        if !reuse {
            self.pool.retire_all(
                self.settings.kill_grace,
                &mut self.sweeper,
                self.scheduler.own_processes(),
            );
        }
    }

    /// Whether workers are reused.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert!(!engine.reuse_workers());
    /// ```
    pub fn reuse_workers(&self) -> bool {
        self.settings.reuse_workers
    }

    /// How many queued tasks a reused worker may hold ahead of the one it
    /// runs, so that it goes on to the next without waiting for this
    /// process (which then reads their results, and sends more, in
    /// batches): what makes many tiny tasks cheap.
    ///
    /// - `None`, the default: decided per worker by how long its last task
    ///   took, up to [`MOST_AHEAD`](super::MOST_AHEAD) and about
    ///   [`AHEAD_SPAN`](super::AHEAD_SPAN) of work, and
    ///   none when its tasks take [`SHORT_TASK`](super::SHORT_TASK) or more (they lose little
    ///   to the round trip).
    /// - `Some(0)`: none; each task is sent when its worker is free.
    /// - `Some(n)`: up to `n`, whatever the tasks take (work queued behind
    ///   a long task waits for it, even while other workers are free).
    ///
    /// A task sent ahead still counts as queued: it starts
    /// ([`Event::Started`](super::Event::Started), and its timeout begins)
    /// when the result of the task before it arrives. If its worker ends
    /// first (a crash, a timeout, a kill, [`Engine::killall`]), it goes
    /// back to the queue, neither failed nor retried. Only function calls
    /// with small arguments go ahead (up to about 2 KiB of request each).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.tasks_ahead(), None);
    /// engine.set_tasks_ahead(Some(0));
    /// assert_eq!(engine.settings().tasks_ahead, Some(0));
    /// ```
    pub fn set_tasks_ahead(&mut self, ahead: Option<usize>) {
        self.settings.tasks_ahead = ahead;
    }

    /// How many tasks a reused worker may hold ahead (see
    /// [`Engine::set_tasks_ahead`]).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.tasks_ahead(), None);
    /// ```
    pub fn tasks_ahead(&self) -> Option<usize> {
        self.settings.tasks_ahead
    }

    /// Workers waiting for their next task (only when workers are reused).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.idle_workers(), 0);
    /// ```
    pub fn idle_workers(&self) -> usize {
        self.pool.len()
    }

    /// Starts workers from `program` (`None`: the running executable).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.set_worker_program(Some("/usr/local/bin/my-program".into()));
    /// assert!(engine.worker_program().is_some());
    /// ```
    pub fn set_worker_program(&mut self, program: Option<PathBuf>) {
        self.settings.worker_program = program;
    }

    /// The program workers start from, when not the running executable.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.worker_program(), None);
    /// ```
    pub fn worker_program(&self) -> Option<&PathBuf> {
        self.settings.worker_program.as_ref()
    }
}
