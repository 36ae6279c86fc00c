//! The execution engine: the one place that starts, watches, relays, times
//! out, kills and reaps every kind of task.
//!
//! A task is a function call (run in a worker, a copy of this program) or
//! a [`Command`](crate::Command). Both are [submitted](Engine::submit) as a
//! [`TaskSpec`], admitted by the [`Scheduler`], started through the launch
//! seam ([`Launcher`]), watched by one event loop, relayed, timed out or
//! killed (the whole process group: `SIGTERM`, the kill grace period,
//! `SIGKILL`), swept (what the task left in its process group is killed)
//! and reaped in one place, and end with the same [`Outcome`](crate::Outcome) vocabulary.
//! What happens is told to the front end as [`Event`]s.
//!
//! The library's [`DummyMp`](crate::DummyMp) and the `dummymp` command-line
//! tool are two front ends over it. Use it directly to build another:
//!
//! ```
//! # dummymp::init();
//! use dummymp::engine::{Engine, Event, OutputRoute, TaskSpec};
//! use dummymp::{Command, Outcome, Priority, Scheduler};
//!
//! let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 2));
//! for word in ["one", "two", "three"] {
//!     engine.submit(TaskSpec::command(Command::new("echo").arg(word)).with_output(OutputRoute::Events));
//! }
//! let mut printed = Vec::new();
//! let mut ended = 0;
//! while !engine.is_idle() {
//!     engine.process(&mut |event: Event<'_>| match event {
//!         Event::Output { data, .. } => printed.extend_from_slice(data),
//!         Event::Ended(report) => {
//!             assert_eq!(report.outcome, Outcome::Exited { code: 0 });
//!             ended += 1;
//!         }
//!         _ => {}
//!     })?;
//!     if !engine.is_idle() {
//!         engine.wait(None, &[])?;
//!     }
//! }
//! assert_eq!(ended, 3);
//! assert_eq!(printed.len(), "one\ntwo\nthree\n".len());
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! Waiting is event-driven: [`Engine::wait`] sleeps in one `poll(2)` over
//! every task's output and pidfd, the leftovers being swept, the
//! scheduler's wake-up descriptor and whatever descriptors the front end
//! adds, until one is ready or the next deadline (a timeout, the end of a
//! grace period, a load measurement) comes. Nothing polls on a timer.

//!
//! Where things are: [`settings`](EngineSettings) (how tasks run),
//! `queue` (tasks waiting), `admission` (how many start now), `starting`
//! and `request` (starting one: its process and a worker's request),
//! `pool` (reused workers), `ahead` (tasks sent to a reused worker before
//! it is free), `running` (reading a running task), `waiting`
//! (the one `poll`), `deadlines` (timeouts, grace periods), `yielding`
//! (acting on the scheduler's advice), `control` (kill, killall, close),
//! `ending` and `finishing` (how an attempt ends, retries, reports),
//! `pausing` (stopping and continuing running tasks, for load or the front
//! end), `memory` (what memory says about starting and ending a task),
//! `transient` (which refusals of the system may pass). Every action on a
//! task's process goes through the handle the launch seam returned
//! when it started.

mod admission;
mod ahead;
mod control;
mod deadlines;
mod ending;
mod events;
mod finishing;
mod memory;
mod pause_causes;
mod pausing;
mod pool;
mod queue;
mod request;
mod running;
mod settings;
mod slots;
mod starting;
mod transient;
mod waiting;
mod yielding;

use std::io;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::launch::{Launch, Launcher, Sweeper};
use crate::platform::ExitInfo;
use crate::scheduler::Scheduler;
use crate::task::ProcessExit;

use admission::StartState;
use control::Gate;
use pool::Pool;
use queue::TaskQueue;
use running::RunningTask;
use slots::SlotPool;
use yielding::YieldingState;

pub use crate::relay::write_all;
pub use crate::task::{ForeignWorker, OutputRoute, StartInfo, TaskSpec};
pub use ahead::{AHEAD_SPAN, MOST_AHEAD, SHORT_TASK};
pub use events::{Event, EventSink};
pub use settings::EngineSettings;
pub use yielding::YIELDING_NICENESS;

/// How long the engine waits after `SIGTERM` before `SIGKILL` when it ends
/// tasks, unless changed with [`Engine::set_kill_grace`].
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(1);

/// Runs tasks: see the [module documentation](self).
pub struct Engine {
    settings: EngineSettings,
    scheduler: Scheduler,
    /// Starts processes where the launcher says.
    launch: Launch,
    queue: TaskQueue,
    running: Vec<RunningTask>,
    /// Follows what ended tasks left until it is gone.
    sweeper: Sweeper,
    slots: SlotPool,
    /// Workers waiting for their next task.
    pool: Pool,
    starts: StartState,
    gate: Gate,
    /// The front end paused every task ([`Engine::pause_all`]): no task
    /// starts.
    paused: bool,
    yielding: YieldingState,
    /// The last [`Engine::wait`] marked which tasks are ready.
    waited: bool,
    /// Counts what happened (bytes received, tasks started or ended).
    activity: u64,
    /// The scheduler's capacity before a launcher that knows its own
    /// replaced it (see [`Engine::set_launcher`]).
    capacity_before_launcher: Option<Option<usize>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .field("scheduler", &self.scheduler)
            .field("launcher", self.launch.launcher())
            .field("queued", &self.queue.len())
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine that admits tasks with `scheduler` and starts them on this
    /// machine.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Normal, 4));
    /// assert!(engine.is_idle());
    /// ```
    pub fn new(scheduler: Scheduler) -> Engine {
        crate::role::refuse_work_before_init();
        let settings = EngineSettings::default();
        Engine {
            launch: Launch::new(Launcher::default(), settings.kill_grace),
            settings,
            scheduler,
            queue: TaskQueue::default(),
            running: Vec::new(),
            sweeper: Sweeper::default(),
            slots: SlotPool::default(),
            pool: Pool::default(),
            starts: StartState::default(),
            gate: Gate::default(),
            paused: false,
            yielding: YieldingState::default(),
            waited: false,
            activity: 0,
            capacity_before_launcher: None,
        }
    }

    /// The scheduler.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Generous, 0));
    /// assert_eq!(engine.scheduler().priority(), Priority::Generous);
    /// ```
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The scheduler, to change its settings.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Normal, 0));
    /// engine.scheduler_mut().set_max_processes(3);
    /// assert_eq!(engine.scheduler().max_processes(), 3);
    /// ```
    pub fn scheduler_mut(&mut self) -> &mut Scheduler {
        &mut self.scheduler
    }

    /// Tasks running.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.running(), 0);
    /// ```
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Process ids of the running tasks.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert!(engine.running_pids().is_empty());
    /// ```
    pub fn running_pids(&self) -> Vec<u32> {
        self.running.iter().map(RunningTask::pid).collect()
    }

    /// Whether nothing is queued or running, no report waits to be handed
    /// out, and nothing a task left behind is still alive.
    ///
    /// ```
    /// use dummymp::engine::{Engine, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert!(engine.is_idle());
    /// engine.submit(TaskSpec::command(Command::new("true")));
    /// assert!(!engine.is_idle());
    /// ```
    pub fn is_idle(&self) -> bool {
        self.queue.is_idle() && self.running.is_empty() && self.sweeper.is_idle()
    }

    /// Relays what running tasks sent (output lines, log records), without
    /// blocking and without finishing or starting anything.
    ///
    /// ```
    /// use dummymp::engine::{Engine, Event};
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.relay(&mut |_: Event<'_>| {});
    /// ```
    pub fn relay(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        for task in &mut self.running {
            let before = task.received;
            task.read(sink);
            self.activity += task.received - before;
        }
    }

    /// A count that grows whenever something happens: bytes arrive from a
    /// task, a task starts or ends. A front end that processed and saw it
    /// grow knows not to wait before it has looked at the result (what a
    /// task sent may already be relayed).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.activity(), 0);
    /// ```
    pub fn activity(&self) -> u64 {
        self.activity
    }

    /// Does whatever can be done now without waiting, telling `sink` what
    /// happened: relays what tasks sent, finishes the tasks that ended
    /// (retrying those that failed and may run again), ends those past
    /// their timeout or grace period, and starts the queued tasks the
    /// scheduler allows.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::{Engine, Event, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::command(Command::new("true")));
    /// let mut started = 0;
    /// engine.process(&mut |event: Event<'_>| {
    ///     if let Event::Started { .. } = event {
    ///         started += 1;
    ///     }
    /// })?;
    /// assert_eq!(started, 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn process(&mut self, sink: &mut (impl EventSink + ?Sized)) -> Result<(), Error> {
        for report in self.queue.ended_outside.drain(..) {
            self.activity += 1;
            sink.event(Event::Ended(Box::new(report)));
        }
        let everything = !std::mem::take(&mut self.waited);
        for task in &mut self.running {
            if everything || task.io_ready {
                let before = task.received;
                task.read(sink);
                self.activity += task.received - before;
            }
        }
        self.finish_results(sink);
        self.end_broken_streams();
        if everything || self.pool.exit_seen {
            self.pool
                .forget_exited(&mut self.sweeper, self.scheduler.own_processes());
        }
        self.finish_exited(everything, sink);
        self.check_deadlines(Instant::now());
        self.recall_ahead();
        self.sweeper
            .check(self.scheduler.own_processes(), Instant::now());
        if self.gate.is_open() && !self.paused && sink.accepts_starts() {
            self.start_ready(sink);
            self.send_ahead();
        }
        self.yield_if_advised(sink);
        Ok(())
    }

    /// Finishes the tasks whose reused worker sent their result; for a
    /// worker that goes on to a task sent ahead to it, what it sent after
    /// that result (read in the same go) is read next.
    fn finish_results(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        let mut index = 0;
        while index < self.running.len() {
            let task = &self.running[index];
            if task.worker_kind.is_some() && task.ending.is_none() && task.has_task_result() {
                if self.finish_reused(index, sink) {
                    self.running[index].read_received(sink);
                }
            } else {
                index += 1;
            }
        }
    }

    /// Finishes the running tasks whose process exited (all that the last
    /// wait marked, or every one when `everything`).
    fn finish_exited(&mut self, everything: bool, sink: &mut (impl EventSink + ?Sized)) {
        let mut index = 0;
        while index < self.running.len() {
            let task = &mut self.running[index];
            let look = everything || task.exit_ready;
            task.io_ready = false;
            task.exit_ready = false;
            if !look {
                index += 1;
                continue;
            }
            match task.process.peek_exit(false) {
                Ok(Some(exit)) => self.finish(index, Some(exit.into()), sink),
                Ok(None) => index += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => index += 1,
                // ECHILD: somebody else reaped it (SIGCHLD ignored, or a
                // `waitpid(-1)` elsewhere in the program).
                Err(_) => self.finish(index, None, sink),
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.running.is_empty() || !self.sweeper.is_idle() || self.pool.len() > 0 {
            self.killall(&mut |_: Event<'_>| {});
        }
    }
}

impl From<ExitInfo> for ProcessExit {
    fn from(exit: ExitInfo) -> ProcessExit {
        match exit {
            ExitInfo::Exited(code) => ProcessExit::Code(code),
            ExitInfo::Signaled(signal) => ProcessExit::Signal(signal),
        }
    }
}
