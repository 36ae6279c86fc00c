//! The execution engine: the one place that starts, watches, relays, times
//! out, kills and reaps every kind of task.
//!
//! A task is a function call (run in a worker, a copy of this program) or
//! a [`Command`](crate::Command). Both are [submitted](Engine::submit) as a
//! [`TaskSpec`], admitted by the [`Scheduler`], started through the launch
//! seam ([`Launcher`]), watched by one event loop, relayed, timed out or
//! killed (the whole process group: `SIGTERM`, the kill grace period,
//! `SIGKILL`), swept (what the task left in its process group is killed)
//! and reaped in one place, and end with the same [`Outcome`] vocabulary.
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

pub(crate) mod ending;
mod events;
mod pausing;
mod pool;
mod running;
mod slots;
mod spec;
pub(crate) mod watchdog;
mod yielding;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rustix::io::Errno;
use rustix::net::SendFlags;

use crate::error::Error;
use crate::identity;
use crate::launch::{LaunchIo, LaunchSpec, Launched, Launcher};
use crate::outcome::{Outcome, ProcessExit};
use crate::platform::{self, ExitInfo};
use crate::protocol::{self, PROTOCOL_VERSION, RequestedCall, TaskRequest};
use crate::report::TaskReport;
use crate::scheduler::Scheduler;
use crate::task::TaskId;
use crate::worker::invocation::{WORKER_FLAG, ticket};

use ending::{EndReason, Sweeper};
use pool::{Pool, WorkerKind};
use running::{Reader, RunningTask};
use slots::SlotPool;
use spec::{CallTarget, Work};
use watchdog::Watchdog;

pub use crate::relay::write_all;
pub use events::{Event, EventSink};
pub use spec::{ForeignWorker, OutputRoute, StartInfo, TaskSpec};
pub use yielding::YIELDING_NICENESS;

/// How long the engine waits after `SIGTERM` before `SIGKILL` when it ends
/// tasks, unless changed with [`Engine::set_kill_grace`].
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(1);

/// An attempt of a task that ended, on its way to a report (or a retry).
struct EndedAttempt {
    id: TaskId,
    spec: TaskSpec,
    attempt: u32,
    pid: u32,
    outcome: Outcome,
    returned: Option<Vec<u8>>,
    exit: Option<ProcessExit>,
    peak_rss: Option<u64>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    started_wall: SystemTime,
    runtime: Duration,
}

/// What came of trying to start the task at the head of the queue.
enum Start {
    /// Its process runs.
    Started,
    /// It could not start and has ended (its report is out).
    Failed,
    /// The system refused for now; it went back to wait for one of ours
    /// to end.
    Refused,
    /// The queue was empty.
    NothingQueued,
}

/// A task waiting to start.
struct Queued {
    id: TaskId,
    spec: TaskSpec,
    attempt: u32,
}

/// Runs tasks: see the [module documentation](self).
pub struct Engine {
    scheduler: Scheduler,
    launcher: Launcher,
    kill_grace: Duration,
    niceness: Option<i32>,
    worker_program: Option<PathBuf>,
    queue: VecDeque<Queued>,
    running: Vec<RunningTask>,
    sweeper: Sweeper,
    /// Reports of tasks that ended outside of [`Engine::process`] (removed
    /// from the queue), handed out by the next call.
    ended_outside: Vec<TaskReport>,
    next_id: usize,
    slots: SlotPool,
    /// The system refused a new process while some of ours run: try again
    /// when one of them ends.
    spawn_blocked: bool,
    /// When a task last ended (a worker refused its setup before then may
    /// find room now).
    last_task_end: Option<Instant>,
    watchdog: WatchdogState,
    /// The last [`Engine::wait`] marked which tasks are ready.
    waited: bool,
    /// No task starts (while [`Engine::killall`] waits).
    holding: bool,
    /// The front end paused every task ([`Engine::pause_all`]): no task
    /// starts.
    paused: bool,
    /// Nothing starts and nothing is retried any more ([`Engine::close`]).
    closed: bool,
    /// Workers run task after task ([`Engine::set_reuse_workers`]).
    reuse_workers: bool,
    /// Workers waiting for their next task.
    pool: Pool,
    /// The least time between two starts ([`Engine::set_start_delay`]).
    start_delay: Option<Duration>,
    /// When the last task started.
    last_start: Option<Instant>,
    /// Whether the scheduler is being asked what running tasks should do
    /// (it is asked once more after the last one ends).
    advising: bool,
    /// Whether tasks start at the yielding niceness now.
    renice_new: bool,
    /// Counts what happened (bytes received, tasks started or ended).
    activity: u64,
    /// The channel to the fork server, opened on first use.
    fork: ForkState,
    /// The scheduler's capacity before a launcher that knows its own
    /// replaced it (see [`Engine::set_launcher`]).
    capacity_before_launcher: Option<Option<usize>>,
}

enum ForkState {
    NotOpened,
    Open(std::sync::Arc<crate::launch::fork_server::ForkChannel>),
    Unavailable,
}

enum WatchdogState {
    NotStarted,
    Running(Watchdog),
    Unavailable,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("scheduler", &self.scheduler)
            .field("launcher", &self.launcher)
            .field("queued", &self.queue.len())
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine that admits tasks with `scheduler` and starts them on this
    /// machine.
    pub fn new(scheduler: Scheduler) -> Engine {
        crate::worker::invocation::refuse_work_before_init();
        Engine {
            scheduler,
            launcher: Launcher::default(),
            kill_grace: DEFAULT_KILL_GRACE,
            niceness: None,
            worker_program: None,
            queue: VecDeque::new(),
            running: Vec::new(),
            sweeper: Sweeper::default(),
            ended_outside: Vec::new(),
            next_id: 0,
            slots: SlotPool::default(),
            spawn_blocked: false,
            last_task_end: None,
            watchdog: WatchdogState::NotStarted,
            waited: false,
            holding: false,
            paused: false,
            closed: false,
            reuse_workers: false,
            pool: Pool::default(),
            start_delay: None,
            last_start: None,
            advising: false,
            renice_new: false,
            activity: 0,
            fork: ForkState::NotOpened,
            capacity_before_launcher: None,
        }
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The scheduler, to change its settings.
    pub fn scheduler_mut(&mut self) -> &mut Scheduler {
        &mut self.scheduler
    }

    /// Where tasks are started from now on.
    ///
    /// A launcher that knows how many tasks fit where it starts them (a
    /// Slurm allocation) sets the scheduler's
    /// [capacity](Scheduler::set_capacity) to that; going back to a
    /// launcher that does not restores the capacity set before. The process
    /// cap still applies, and so does the priority mode, which measures the
    /// load of the machine this process runs on.
    pub fn set_launcher(&mut self, launcher: Launcher) {
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
        self.launcher = launcher;
    }

    /// The launcher.
    pub fn launcher(&self) -> &Launcher {
        &self.launcher
    }

    /// How long ended tasks get between `SIGTERM` and `SIGKILL`.
    pub fn set_kill_grace(&mut self, grace: Duration) {
        self.kill_grace = grace;
    }

    /// The kill grace period.
    pub fn kill_grace(&self) -> Duration {
        self.kill_grace
    }

    /// Starts tasks `increment` nicer than this process (`None`: as nice
    /// as this process). The result is clamped to -20..=19.
    pub fn set_nice(&mut self, increment: Option<i32>) {
        self.niceness = increment.map(|increment| {
            let ours = rustix::process::getpriority_process(None).unwrap_or(0);
            (ours + increment).clamp(-20, 19)
        });
    }

    /// Starts tasks at least `delay` apart (`None`: as fast as the
    /// scheduler allows), like GNU parallel's `--delay`.
    pub fn set_start_delay(&mut self, delay: Option<Duration>) {
        self.start_delay = delay.filter(|d| !d.is_zero());
    }

    /// The least time between two starts.
    pub fn start_delay(&self) -> Option<Duration> {
        self.start_delay
    }

    /// Whether workers run task after task (`true`) or each task gets a
    /// fresh worker (`false`, the default). See [`pool`](self#reused-workers)
    /// for what changes for the tasks. Turning it off ends the idle workers.
    pub fn set_reuse_workers(&mut self, reuse: bool) {
        self.reuse_workers = reuse;
        if !reuse {
            self.pool
                .retire_all(self.kill_grace, self.scheduler.own_processes());
        }
    }

    /// Whether workers are reused.
    pub fn reuse_workers(&self) -> bool {
        self.reuse_workers
    }

    /// Workers waiting for their next task (only when workers are reused).
    pub fn idle_workers(&self) -> usize {
        self.pool.len()
    }

    /// Starts workers from `program` (`None`: the running executable).
    pub fn set_worker_program(&mut self, program: Option<PathBuf>) {
        self.worker_program = program;
    }

    /// The program workers start from, when not the running executable.
    pub fn worker_program(&self) -> Option<&PathBuf> {
        self.worker_program.as_ref()
    }

    /// Queues a task; ids follow submission order from 0.
    pub fn submit(&mut self, spec: TaskSpec) -> TaskId {
        let id = TaskId(self.next_id);
        self.next_id += 1;
        self.queue.push_back(Queued {
            id,
            spec,
            attempt: 1,
        });
        id
    }

    /// Tasks waiting to start.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Tasks running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Process ids of the running tasks.
    pub fn running_pids(&self) -> Vec<u32> {
        self.running.iter().map(RunningTask::pid).collect()
    }

    /// Whether nothing is queued or running, no report waits to be handed
    /// out, and nothing a task left behind is still alive.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.running.is_empty()
            && self.ended_outside.is_empty()
            && self.sweeper.is_idle()
    }

    /// Relays what running tasks sent (output lines, log records), without
    /// blocking and without finishing or starting anything.
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
    pub fn activity(&self) -> u64 {
        self.activity
    }

    /// Does whatever can be done now without waiting, telling `sink` what
    /// happened: relays what tasks sent, finishes the tasks that ended
    /// (retrying those that failed and may run again), ends those past
    /// their timeout or grace period, and starts the queued tasks the
    /// scheduler allows.
    pub fn process(&mut self, sink: &mut (impl EventSink + ?Sized)) -> Result<(), Error> {
        for report in self.ended_outside.drain(..) {
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
        let mut index = 0;
        while index < self.running.len() {
            let task = &self.running[index];
            if task.worker_kind.is_some() && task.ending.is_none() && task.has_result() {
                self.finish_reused(index, sink);
            } else {
                index += 1;
            }
        }
        self.end_broken_streams();
        self.pool.forget_exited(self.scheduler.own_processes());
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
        self.check_deadlines(Instant::now());
        self.sweeper
            .check(self.scheduler.own_processes(), Instant::now());
        if !self.holding && !self.closed && !self.paused && sink.accepts_starts() {
            self.start_ready(sink);
        }
        self.yield_if_advised(sink);
        Ok(())
    }

    /// Starts ending the workers whose message stream broke: nothing more
    /// can come from them, and one that went on writing would block for
    /// ever on a pipe nobody reads. They end as [`Outcome::Failed`], saying
    /// how the stream broke.
    fn end_broken_streams(&mut self) {
        let now = Instant::now();
        for task in &mut self.running {
            if task.ending.is_none() && task.stream_broken() {
                task.ending = Some(ending::terminate(
                    &self.launcher,
                    &task.process,
                    EndReason::BrokenStream,
                    self.kill_grace,
                    now,
                ));
            }
        }
    }

    /// Sleeps until something happens to a task, the scheduler wakes up,
    /// one of `extra` becomes readable, the next deadline comes, or
    /// `limit`. Returns, for each of `extra`, whether it is readable. Call
    /// [`Engine::process`] next.
    pub fn wait(
        &mut self,
        limit: Option<Instant>,
        extra: &[BorrowedFd<'_>],
    ) -> Result<Vec<bool>, Error> {
        let deadline = [limit, self.next_deadline()].into_iter().flatten().min();
        let mut timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        // Exits the fork server reported that were taken off its channel
        // while starting workers (or looking for another worker's exit):
        // the channel no longer says so; without this, those tasks would
        // wait for the next event to be noticed.
        if let ForkState::Open(channel) = &self.fork
            && channel.take_stored()
        {
            for task in &mut self.running {
                if task.process.exit_stored() {
                    task.exit_ready = true;
                    timeout = Some(Duration::ZERO);
                }
            }
        }
        // What each polled descriptor belongs to.
        enum Owner {
            Output(usize),
            Exit(usize),
            ForkServer,
            Other,
            Extra(usize),
        }
        let mut fds = Vec::with_capacity(self.running.len() * 3 + extra.len() + 2);
        let mut owners = Vec::with_capacity(fds.capacity());
        for (index, task) in self.running.iter().enumerate() {
            for fd in task.output_fds() {
                fds.push(fd);
                owners.push(Owner::Output(index));
            }
            if let Some(fd) = task.process.exit_fd() {
                fds.push(fd);
                owners.push(Owner::Exit(index));
            }
        }
        for fd in self.sweeper.fds().chain(self.pool.fds()) {
            fds.push(fd);
            owners.push(Owner::Other);
        }
        if let ForkState::Open(channel) = &self.fork {
            fds.push(channel.fd());
            owners.push(Owner::ForkServer);
        }
        if ((!self.queue.is_empty() && !self.paused) || self.advising)
            && let Some(fd) = self.scheduler.wake_fd()
        {
            fds.push(fd);
            owners.push(Owner::Other);
        }
        for (index, fd) in extra.iter().enumerate() {
            fds.push(*fd);
            owners.push(Owner::Extra(index));
        }
        let mut extras_ready = vec![false; extra.len()];
        if fds.is_empty() && timeout.is_none() {
            return Ok(extras_ready);
        }
        let ready =
            platform::wait_readable(&fds, timeout).map_err(Error::os("waiting for tasks"))?;
        drop(fds);
        for (owner, ready) in owners.into_iter().zip(ready) {
            if !ready {
                continue;
            }
            match owner {
                Owner::Output(index) => self.running[index].io_ready = true,
                Owner::Exit(index) => self.running[index].exit_ready = true,
                // An exit of one of its workers: look at those.
                Owner::ForkServer => {
                    for task in &mut self.running {
                        if matches!(task.process.reaper, crate::launch::Reaper::ForkServer(_)) {
                            task.exit_ready = true;
                        }
                    }
                }
                Owner::Other => {}
                Owner::Extra(index) => extras_ready[index] = true,
            }
        }
        self.waited = true;
        Ok(extras_ready)
    }

    /// When [`Engine::wait`] must return even if nothing happens.
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.ended_outside.is_empty() {
            return Some(Instant::now());
        }
        let tasks = self.running.iter().filter_map(|task| match &task.ending {
            None => task.deadline.filter(|_| !task.pauses.is_paused()),
            Some(ending) => ending.kill_at,
        });
        let starting = !self.queue.is_empty() && !self.holding && !self.closed && !self.paused;
        let measurement = (starting || self.advising)
            .then(|| self.scheduler.next_deadline())
            .flatten();
        let delayed = starting
            .then(|| self.start_delay.zip(self.last_start))
            .flatten()
            .map(|(delay, last)| last + delay);
        tasks
            .chain(self.sweeper.next_deadline())
            .chain(measurement)
            .chain(delayed)
            .min()
    }

    /// Ends task `id`: removed from the queue if it has not started (it
    /// then ends at the next [`Engine::process`]), else `SIGTERM` to its
    /// process group and `SIGKILL` after the kill grace period. It ends as
    /// [`Outcome::Killed`]. Returns whether such a task was queued or
    /// running.
    pub fn kill(&mut self, id: TaskId) -> bool {
        if let Some(position) = self.queue.iter().position(|q| q.id == id) {
            if let Some(queued) = self.queue.remove(position) {
                self.ended_outside.push(TaskReport::without_process(
                    id,
                    queued.spec.name,
                    Outcome::Killed,
                    queued.attempt - 1,
                ));
            }
            return true;
        }
        let now = Instant::now();
        let (launcher, grace) = (&self.launcher, self.kill_grace);
        match self.running.iter_mut().find(|task| task.id == id) {
            Some(task) => {
                if task.ending.is_none() {
                    task.ending = Some(ending::terminate(
                        launcher,
                        &task.process,
                        EndReason::Killed,
                        grace,
                        now,
                    ));
                }
                true
            }
            None => false,
        }
    }

    /// Starts ending every running task (see [`Engine::kill`]); they end as
    /// [`Outcome::Killed`] (or [`Outcome::TimedOut`] if their timeout was
    /// already ending them). Queued tasks stay queued.
    pub fn end_all(&mut self) {
        let now = Instant::now();
        for task in &mut self.running {
            if task.ending.is_none() {
                task.ending = Some(ending::terminate(
                    &self.launcher,
                    &task.process,
                    EndReason::Killed,
                    self.kill_grace,
                    now,
                ));
            }
        }
    }

    /// Sends `SIGKILL` to every running task's process group now.
    pub fn kill_all_now(&mut self) {
        for task in &mut self.running {
            let ending = task.ending.get_or_insert(ending::Ending {
                reason: EndReason::Killed,
                kill_at: None,
            });
            ending::kill(&self.launcher, &task.process, ending);
        }
    }

    /// Removes every queued task without running or reporting it; returns
    /// their ids.
    pub fn drop_queued(&mut self) -> Vec<TaskId> {
        self.queue.drain(..).map(|q| q.id).collect()
    }

    /// Stops the run from going further: removes every queued task (their
    /// ids are returned; they are not reported), and from now on nothing
    /// starts and a failing task is not retried. Running tasks go on (end
    /// them with [`Engine::end_all`] if need be). Tasks submitted after
    /// this stay queued and never start.
    pub fn close(&mut self) -> Vec<TaskId> {
        self.closed = true;
        self.drop_queued()
    }

    /// Whether [`Engine::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Ends every running task and waits until each has ended and nothing
    /// it left is alive, handing their reports to `sink`. No task starts
    /// meanwhile; queued tasks stay queued.
    pub fn killall(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        self.holding = true;
        self.end_all();
        self.pool
            .retire_all(self.kill_grace, self.scheduler.own_processes());
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
        self.holding = false;
    }

    /// Finishes `self.running[index]`, a reused worker that sent its
    /// result: the task ends, the worker waits for the next one.
    fn finish_reused(&mut self, index: usize, sink: &mut (impl EventSink + ?Sized)) {
        self.activity += 1;
        let mut task = self.running.swap_remove(index);
        self.slots.release(task.slot);
        self.spawn_blocked = false;
        self.last_task_end = Some(Instant::now());
        let runtime = task.started.elapsed();
        let (outcome, returned) = task.outcome(None);
        let RunningTask {
            id,
            spec,
            attempt,
            process,
            started_wall,
            stdout,
            stderr,
            worker_kind,
            ..
        } = task;
        let pid = process.pid;
        if let Some(kind) = worker_kind {
            self.pool.put(kind, process);
        }
        self.report_or_retry(
            EndedAttempt {
                id,
                spec,
                attempt,
                pid,
                outcome,
                returned,
                exit: None,
                peak_rss: None,
                stdout,
                stderr,
                started_wall,
                runtime,
            },
            sink,
        );
    }

    /// Finishes `self.running[index]`, whose process exited with `exit`.
    fn finish(
        &mut self,
        index: usize,
        exit: Option<ProcessExit>,
        sink: &mut (impl EventSink + ?Sized),
    ) {
        self.activity += 1;
        let mut task = self.running.swap_remove(index);
        // Launcher-specific: what a launcher relays (srun's error stream)
        // is all passed on before the last read.
        task.process.settle();
        task.read_last(sink);
        if let (Some(entry), WatchdogState::Running(watchdog)) =
            (task.watchdog_entry.take(), &mut self.watchdog)
        {
            watchdog.unregister(entry);
        }
        let peak_rss = self.sweeper.sweep(
            &self.launcher,
            &task.process,
            self.scheduler.own_processes(),
            task.ending,
        );
        if let Some(peak) = peak_rss {
            let key = task.spec.memory_key().to_string();
            self.scheduler.record_peak_rss(&key, peak);
        }
        task.process.input = None;
        self.slots.release(task.slot);
        self.spawn_blocked = false;
        // Another task ended while this one set itself up (perhaps earlier
        // in this very pass): what refused it may have passed.
        let another_ended_since = self.last_task_end.is_some_and(|end| end >= task.started);
        self.last_task_end = Some(Instant::now());
        let runtime = task.started.elapsed();

        if let Some((error, errno)) = task.worker_not_started()
            && task.ending.is_none()
            && is_transient_errno(errno)
            && (!self.running.is_empty() || another_ended_since)
        {
            log::debug!(
                target: "dummymp::engine",
                "{} could not set itself up yet ({error}); retrying when a task ends",
                task.id
            );
            // With nothing else running no end will come to unblock it:
            // it is tried again at once (and is final if refused again
            // with nothing running).
            self.spawn_blocked = !self.running.is_empty();
            self.queue.push_front(Queued {
                id: task.id,
                spec: task.spec,
                attempt: task.attempt,
            });
            return;
        }

        let (outcome, returned) = task.outcome(exit);
        // Launcher-specific: Slurm says why a job step ended.
        let (outcome, exit) = task.process.explain(outcome, exit);
        self.report_or_retry(
            EndedAttempt {
                id: task.id,
                pid: task.process.pid,
                spec: task.spec,
                attempt: task.attempt,
                outcome,
                returned,
                exit,
                peak_rss,
                stdout: task.stdout,
                stderr: task.stderr,
                started_wall: task.started_wall,
                runtime,
            },
            sink,
        );
    }

    /// A task's attempt ended: runs it again if it failed and may, else
    /// reports it.
    fn report_or_retry(&mut self, ended: EndedAttempt, sink: &mut (impl EventSink + ?Sized)) {
        log::debug!(
            target: "dummymp::engine",
            "[PID {}] {} ({}) {}",
            ended.pid,
            ended.id,
            ended.spec.name,
            ended.outcome
        );
        if !ended.outcome.is_success()
            && ended.outcome != Outcome::Killed
            && ended.attempt <= ended.spec.options.retries
            && !self.holding
            && !self.closed
        {
            sink.event(Event::Retrying {
                id: ended.id,
                outcome: &ended.outcome,
                next_attempt: ended.attempt + 1,
            });
            self.queue.push_front(Queued {
                id: ended.id,
                spec: ended.spec,
                attempt: ended.attempt + 1,
            });
            return;
        }
        sink.event(Event::Ended(Box::new(TaskReport {
            id: ended.id,
            name: ended.spec.name,
            pid: Some(ended.pid),
            outcome: ended.outcome,
            exit: ended.exit,
            stdout: ended.stdout,
            stderr: ended.stderr,
            started_at: Some(ended.started_wall),
            runtime: ended.runtime,
            attempts: ended.attempt,
            peak_rss: ended.peak_rss,
            returned: ended.returned,
            value: None,
        })));
    }

    /// Asks the scheduler what the running tasks should do about other
    /// users' load, and does it (see [`yielding`]).
    fn yield_if_advised(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        if self.running.is_empty() && !self.advising {
            return;
        }
        let advice = self.scheduler.running_advice(self.running.len());
        self.advising = !self.running.is_empty();
        self.renice_new = advice.renice;
        yielding::apply(
            advice,
            &mut self.running,
            &self.launcher,
            self.niceness,
            Instant::now(),
            sink,
        );
    }

    fn check_deadlines(&mut self, now: Instant) {
        for task in &mut self.running {
            match &mut task.ending {
                None => {
                    if !task.pauses.is_paused()
                        && task.deadline.is_some_and(|deadline| now >= deadline)
                    {
                        task.ending = Some(ending::terminate(
                            &self.launcher,
                            &task.process,
                            EndReason::TimedOut,
                            self.kill_grace,
                            now,
                        ));
                    }
                }
                Some(ending) => {
                    if ending.kill_at.is_some_and(|at| now >= at) {
                        ending::kill(&self.launcher, &task.process, ending);
                    }
                }
            }
        }
    }

    /// Starts as many queued tasks as the scheduler allows.
    fn start_ready(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        // A task that could not start frees its slot at once, and no event
        // will come for it: ask the scheduler again until every slot it
        // grants holds a task (or the queue is empty).
        loop {
            let now = Instant::now();
            if let (Some(delay), Some(last)) = (self.start_delay, self.last_start)
                && now < last + delay
            {
                return;
            }
            let waiting = if self.spawn_blocked {
                0
            } else {
                self.queue.len()
            };
            let memory = match self.queue.front() {
                Some(head) if waiting > 0 => {
                    let estimate = head
                        .spec
                        .options
                        .memory
                        .or_else(|| self.scheduler.memory_estimate(head.spec.memory_key()));
                    if let Some(bytes) = estimate
                        && self.scheduler.memory_fit(bytes) == crate::MemoryFit::Never
                    {
                        self.never_fits(bytes, sink);
                        continue;
                    }
                    estimate
                }
                _ => None,
            };
            let mut slots =
                self.scheduler
                    .free_slots_with_memory(self.running.len(), waiting, memory);
            if self.start_delay.is_some() {
                slots = slots.min(1);
            }
            let mut ended_at_once = 0;
            for _ in 0..slots {
                if !sink.accepts_starts() || !self.launcher_has_room() {
                    return;
                }
                match self.start_next(sink) {
                    Start::Started => {
                        self.activity += 1;
                        self.last_start = Some(Instant::now());
                    }
                    Start::Failed => {
                        self.activity += 1;
                        ended_at_once += 1;
                    }
                    Start::Refused | Start::NothingQueued => return,
                }
            }
            if ended_at_once == 0 {
                return;
            }
        }
    }

    /// The task at the head of the queue needs `bytes` of memory, more than
    /// this machine can ever give it under the priority mode: it ends now
    /// rather than waiting for ever.
    fn never_fits(&mut self, bytes: u64, sink: &mut (impl EventSink + ?Sized)) {
        let Some(queued) = self.queue.pop_front() else {
            return;
        };
        let error = format!(
            "it needs {} of memory, more than this machine can ever give a task in {} mode",
            crate::scheduler::memory::Bytes(bytes),
            self.scheduler.priority(),
        );
        sink.event(Event::Ended(Box::new(TaskReport::without_process(
            queued.id,
            queued.spec.name,
            Outcome::FailedToStart { error, errno: None },
            queued.attempt,
        ))));
    }

    /// Launcher-specific: whether the launcher has the CPUs the task at the
    /// head of the queue needs (a Slurm allocation counts the CPUs its
    /// steps take, for tasks that need more than one).
    fn launcher_has_room(&self) -> bool {
        let Some(next) = self.queue.front() else {
            return true;
        };
        let in_use = self
            .running
            .iter()
            .map(|task| self.launcher.task_cpus(task.spec.options.cpus))
            .sum();
        self.launcher.has_room_for(in_use, next.spec.options.cpus)
    }

    /// Starts the task at the head of the queue.
    fn start_next(&mut self, sink: &mut (impl EventSink + ?Sized)) -> Start {
        let Some(mut queued) = self.queue.pop_front() else {
            return Start::NothingQueued;
        };
        let slot = self.slots.acquire();
        let start = StartInfo {
            id: queued.id,
            slot,
            attempt: queued.attempt,
        };
        let started = Instant::now();
        let started_wall = SystemTime::now();
        let mut worker_kind = None;
        let launched = self
            .launch_spec(&mut queued.spec, &start)
            .and_then(|(spec, request)| {
                if self.reuse_workers && spec.io == LaunchIo::Worker {
                    let kind = WorkerKind::of(&spec);
                    let reused = self.reuse_idle_worker(&kind, request.as_deref());
                    worker_kind = Some(kind);
                    if let Some(process) = reused {
                        return Ok(process);
                    }
                }
                self.launch(&spec, request.as_deref())
            });
        match launched {
            Ok(process) => {
                let pid = process.pid;
                self.scheduler.own_processes().add_group(pid);
                let is_call = queued.spec.is_call();
                let watchdog_entry = if is_call {
                    None
                } else {
                    self.watchdog().map(|w| w.register(pid))
                };
                log::debug!(
                    target: "dummymp::engine",
                    "[PID {pid}] started {} ({}), attempt {}",
                    queued.id,
                    queued.spec.name,
                    queued.attempt
                );
                let deadline = queued.spec.options.timeout.map(|t| started + t);
                self.running.push(RunningTask {
                    id: queued.id,
                    attempt: queued.attempt,
                    slot,
                    process,
                    started,
                    started_wall,
                    deadline,
                    ending: None,
                    reader: if is_call {
                        Reader::worker()
                    } else {
                        Reader::command()
                    },
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    io_ready: false,
                    exit_ready: false,
                    watchdog_entry,
                    received: 0,
                    reniced: self.renice_new,
                    pauses: Default::default(),
                    worker_kind,
                    spec: queued.spec,
                });
                sink.event(Event::Started {
                    id: start.id,
                    pid,
                    slot,
                    attempt: start.attempt,
                });
                Start::Started
            }
            Err(error) if is_transient(&error) && !self.running.is_empty() => {
                log::debug!(
                    target: "dummymp::engine",
                    "cannot start {} yet ({error}); retrying when a task ends",
                    queued.id
                );
                self.slots.release(slot);
                self.queue.push_front(queued);
                self.spawn_blocked = true;
                Start::Refused
            }
            Err(error) => {
                self.slots.release(slot);
                let mut report = TaskReport::without_process(
                    queued.id,
                    queued.spec.name,
                    Outcome::FailedToStart {
                        error: error.to_string(),
                        errno: error.raw_os_error(),
                    },
                    queued.attempt,
                );
                report.started_at = Some(started_wall);
                sink.event(Event::Ended(Box::new(report)));
                Start::Failed
            }
        }
    }

    /// The process to start for `spec`, and the request to send a worker.
    fn launch_spec(
        &self,
        spec: &mut TaskSpec,
        start: &StartInfo,
    ) -> io::Result<(LaunchSpec, Option<Vec<u8>>)> {
        let cpus = spec.options.cpus;
        let command = match &mut spec.work {
            Work::Call(call) => {
                let executable = identity::current();
                let forkable = matches!(call.target, CallTarget::Function { .. })
                    && self.worker_program.is_none();
                let (requested, program, argv0, mut args, env) = match &call.target {
                    CallTarget::Function { entry, function } => {
                        let (program, argv0) = match &self.worker_program {
                            Some(program) => (program.clone().into_os_string(), None),
                            None => (
                                platform::self_exe_for_spawn().into_os_string(),
                                Some(platform::self_exe_display_name().to_owned()),
                            ),
                        };
                        let requested = RequestedCall::Function {
                            entry: *entry,
                            function: *function,
                            seal: crate::callable::seal(executable, *entry, *function),
                        };
                        (requested, program, argv0, Vec::new(), Vec::new())
                    }
                    CallTarget::Foreign(worker) => (
                        RequestedCall::Payload,
                        worker.program.clone(),
                        None,
                        worker.args.clone(),
                        worker
                            .env
                            .iter()
                            .map(|(k, v)| (k.clone(), Some(v.clone())))
                            .collect(),
                    ),
                };
                let request = TaskRequest {
                    protocol: PROTOCOL_VERSION,
                    executable: executable.to_vec(),
                    task_id: start.id.0 as u64,
                    call: requested,
                    function_name: spec.name.to_string(),
                    log_level: log::max_level() as u8,
                    args: call.args.clone(),
                    keep_alive: self.reuse_workers,
                };
                let frame = protocol::encode_frame(&request).map_err(io::Error::other)?;
                // The worker's standard input is a socket: that and the
                // ticket make it a worker. (A launcher that replaces standard
                // input passes the ticket in the environment too.)
                args.extend([OsString::from(WORKER_FLAG), OsString::from(ticket())]);
                let spec = LaunchSpec {
                    program,
                    argv0,
                    args,
                    env,
                    env_clear: false,
                    current_dir: None,
                    io: LaunchIo::Worker,
                    niceness: self.start_niceness(),
                    forkable,
                    cpus,
                };
                return Ok((spec, Some(frame)));
            }
            Work::Command(command) => command.clone(),
            Work::Deferred(build) => build(start),
        };
        Ok((
            LaunchSpec {
                program: command.get_program().to_owned(),
                argv0: None,
                args: command.get_args().map(ToOwned::to_owned).collect(),
                env: command
                    .get_envs()
                    .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
                    .collect(),
                env_clear: command.get_env_clear(),
                current_dir: command.get_current_dir().map(ToOwned::to_owned),
                io: LaunchIo::Command,
                niceness: self.start_niceness(),
                forkable: false,
                cpus,
            },
            None,
        ))
    }

    /// The niceness tasks start at now.
    fn start_niceness(&self) -> Option<i32> {
        if self.renice_new {
            Some(YIELDING_NICENESS)
        } else {
            self.niceness
        }
    }

    /// Hands `request` to an idle worker of `kind`, if one is left that
    /// takes it.
    fn reuse_idle_worker(&mut self, kind: &WorkerKind, request: Option<&[u8]>) -> Option<Launched> {
        while let Some(process) = self.pool.take(kind) {
            let sent = match (request, &process.input) {
                (Some(request), Some(input)) => send_all(input, request).is_ok(),
                _ => false,
            };
            if sent {
                return Some(process);
            }
            // It died meanwhile: end it and try the next.
            self.launcher
                .signal(&process, rustix::process::Signal::KILL);
            let _ = process.peek_exit(true);
            self.sweeper.sweep(
                &self.launcher,
                &process,
                self.scheduler.own_processes(),
                None,
            );
        }
        None
    }

    /// Starts `spec` and sends a worker its request.
    fn launch(&mut self, spec: &LaunchSpec, request: Option<&[u8]>) -> io::Result<Launched> {
        let fork = if spec.forkable && spec.io == LaunchIo::Worker {
            self.fork_channel()
        } else {
            None
        };
        let launched = self.launcher.launch(spec, fork.as_ref())?;
        if let (Some(request), Some(input)) = (request, &launched.input)
            && let Err(e) = send_all(input, request)
        {
            self.launcher
                .signal(&launched, rustix::process::Signal::KILL);
            let _ = launched.peek_exit(true);
            let _ = launched.reap();
            return Err(e);
        }
        Ok(launched)
    }

    /// The channel to the fork server, opened on first use; `None` when
    /// this process has no fork server.
    fn fork_channel(&mut self) -> Option<std::sync::Arc<crate::launch::fork_server::ForkChannel>> {
        if let ForkState::NotOpened = self.fork {
            self.fork = match crate::launch::fork_server::ForkChannel::open() {
                Some(channel) => ForkState::Open(channel),
                None => ForkState::Unavailable,
            };
        }
        match &self.fork {
            ForkState::Open(channel) => Some(std::sync::Arc::clone(channel)),
            _ => None,
        }
    }

    /// The watchdog, started on first use; `None` if it cannot run.
    fn watchdog(&mut self) -> Option<&mut Watchdog> {
        if let WatchdogState::NotStarted = self.watchdog {
            self.watchdog = match Watchdog::start(self.kill_grace) {
                Ok(watchdog) => WatchdogState::Running(watchdog),
                Err(e) => {
                    log::warn!(
                        target: "dummymp::engine",
                        "cannot start the watchdog that ends commands if this program dies: {e}"
                    );
                    WatchdogState::Unavailable
                }
            };
        }
        match &mut self.watchdog {
            WatchdogState::Running(watchdog) => Some(watchdog),
            _ => None,
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

/// Sends all of `data` without ever raising `SIGPIPE`. A worker that died
/// before reading it is reported through its exit status, so a closed
/// socket is no error here.
fn send_all(socket: &std::os::fd::OwnedFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::net::send(socket, data, SendFlags::NOSIGNAL) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => continue,
            Err(Errno::PIPE | Errno::CONNRESET) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Errors after which starting a process may work once others have ended.
fn is_transient(error: &io::Error) -> bool {
    is_transient_errno(error.raw_os_error())
}

fn is_transient_errno(errno: Option<i32>) -> bool {
    matches!(
        errno.map(Errno::from_raw_os_error),
        Some(Errno::AGAIN | Errno::NOMEM | Errno::MFILE | Errno::NFILE)
    )
}
