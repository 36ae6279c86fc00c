//! [`DummyMp`]: the library's front end over the [engine](crate::engine):
//! a queue of tasks, the settings that apply to them, and what they
//! returned.
//!
//! | what | file |
//! |---|---|
//! | queueing, processing, killing | `mod.rs` |
//! | queueing many calls at once, `map` | `many.rs` |
//! | settings (capacity, cap, priority, output, callbacks, launcher) | `settings.rs` |
//! | reading returns, outcomes and reports | `results.rs` |
//! | turning engine events into reports and callbacks | `record.rs` |
//! | the original's module-level functions | `global.rs` |

pub(crate) mod global;
pub(crate) mod global_settings;
mod many;
mod record;
mod results;
mod settings;

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::callable::{TaskFunction, short_type_name};
use crate::command::Command;
use crate::encoded::Encoded;
use crate::engine::{Engine, OutputRoute, TaskSpec};
use crate::error::Error;
use crate::priority::Priority;
use crate::scheduler::Scheduler;
use crate::task::TaskOptions;
use crate::task::{OutputMode, TaskHandle, TaskId};
use crate::task::{Progress, TaskReport};

use record::Recorder;

type Callback = Box<dyn FnMut(Progress) + Send>;
type Decoder = fn(Encoded) -> Result<Box<dyn Any + Send>, postcard::Error>;

/// A queue of tasks, each run in a child process of its own: function
/// calls (in a copy of this program) and [`Command`]s.
///
/// - **Queue**: [`run`](DummyMp::run), [`run_many`](DummyMp::run_many),
///   [`run_command`](DummyMp::run_command) (and their `_with` forms, which
///   take [`TaskOptions`]); or queue and run at once with
///   [`map`](DummyMp::map).
/// - **Process**: block with
///   [`process_until_done`](DummyMp::process_until_done), or pump the
///   queue yourself with [`process_process`](DummyMp::process_process) and
///   [`wait`](DummyMp::wait).
/// - **Read back**: [`returns`](DummyMp::returns) and
///   [`take_returns`](DummyMp::take_returns) by call index,
///   [`value`](DummyMp::value) by handle, [`outcome`](DummyMp::outcome) and
///   [`report`](DummyMp::report) for how each task ended.
/// - **Control**: [`set_capacity`](DummyMp::set_capacity),
///   [`set_max_processes`](DummyMp::set_max_processes),
///   [`set_priority_mode`](DummyMp::set_priority_mode), callbacks, output
///   mode; [`kill`](DummyMp::kill), [`killall`](DummyMp::killall),
///   [`pause_all`](DummyMp::pause_all), [`resume_all`](DummyMp::resume_all),
///   [`reset`](DummyMp::reset).
///
/// Several instances are independent queues (each with its own settings),
/// though they share the machine: each counts the other's workers as its
/// own, not as foreign load. Dropping an instance kills the tasks it still
/// runs.
///
/// The program must call [`crate::init`] first thing in `main` (or use
/// [`enable_test_support!`](crate::enable_test_support) in tests).
///
/// ```
/// # dummymp::init();
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_priority_mode(dummymp::Priority::Nuclear);
/// for x in 1..=3 {
///     mp.run(square, x)?;
/// }
/// mp.process_until_done()?;
/// let returns = mp.returns::<u64>()?;
/// assert_eq!(returns.into_iter().collect::<Vec<_>>(), [(0, 1), (1, 4), (2, 9)]);
/// # Ok::<(), dummymp::Error>(())
/// ```
pub struct DummyMp {
    engine: Engine,
    output_mode: OutputMode,
    /// The options of tasks queued without options of their own.
    task_options: TaskOptions,
    on_start: Option<Callback>,
    on_end: Option<Callback>,
    tasks: Vec<TaskEntry>,
    completed: usize,
    running: usize,
}

/// What the front end keeps about one task.
pub(crate) struct TaskEntry {
    name: Cow<'static, str>,
    /// A function task's return type; `None` for a command.
    returns: Option<ReturnType>,
    report: Option<TaskReport>,
}

/// The type a function task returns, and how to decode it.
#[derive(Clone, Copy)]
pub(crate) struct ReturnType {
    decode: Decoder,
    id: TypeId,
    name: &'static str,
}

impl ReturnType {
    fn of<R: DeserializeOwned + Send + 'static>() -> ReturnType {
        ReturnType {
            decode: decode_value::<R>,
            id: TypeId::of::<R>(),
            name: short_type_name(std::any::type_name::<R>()),
        }
    }
}

impl Default for DummyMp {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DummyMp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DummyMp")
            .field("priority", &self.priority_mode())
            .field("max_processes", &self.max_processes())
            .field("output_mode", &self.output_mode)
            .field("progress", &self.progress())
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

impl DummyMp {
    /// An empty queue with the default settings: [`Priority::Normal`], no
    /// process cap, [`OutputMode::Tagged`], no callbacks, tasks started on
    /// this machine.
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.priority_mode(), dummymp::Priority::Normal);
    /// assert_eq!(mp.max_processes(), 0);
    /// ```
    pub fn new() -> DummyMp {
        DummyMp {
            engine: Engine::new(Scheduler::new(Priority::default(), 0)),
            output_mode: OutputMode::default(),
            task_options: TaskOptions::default(),
            on_start: None,
            on_end: None,
            tasks: Vec::new(),
            completed: 0,
            running: 0,
        }
    }

    /// Queues `function(args)` to run in a child process and returns its
    /// handle; ids follow call order from 0. Nothing runs until the queue
    /// is processed ([`process_until_done`](DummyMp::process_until_done),
    /// [`process_process`](DummyMp::process_process)).
    ///
    /// `function` is a function item or a closure that captures nothing,
    /// of up to eight parameters (see [`TaskFunction`]); `args` is its
    /// argument, `()` when it has none, or a tuple of its arguments when
    /// it has several. Arguments and return value are owned serde types.
    ///
    /// **What the task sees.** `args` is serialised now: the call runs with
    /// the values they had when it was queued. The task is a new process,
    /// started when the scheduler lets it start: it sees this process's
    /// environment variables, working directory and files as they are *at
    /// that moment*, not as they were at `run`. (The original forked at
    /// start too, and a queue is often filled before the state it needs is
    /// ready.) Pass what must be fixed at queue time as an argument.
    ///
    /// ```
    /// # dummymp::init();
    /// fn add(a: u32, b: u32) -> u32 {
    ///     a + b
    /// }
    /// let mut mp = dummymp::DummyMp::new();
    /// let sum = mp.run(add, (2, 3))?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.value(sum), Some(&5));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::EncodeArguments`] when `args` cannot be serialised; nothing
    /// is queued then.
    pub fn run<F, Signature>(
        &mut self,
        function: F,
        args: F::Args,
    ) -> Result<TaskHandle<F::Output>, Error>
    where
        F: TaskFunction<Signature>,
    {
        self.run_with(self.task_options.clone(), function, args)
    }

    /// [`run`](DummyMp::run) with per-task options: a timeout, retries,
    /// CPUs, memory.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let mut mp = dummymp::DummyMp::new();
    /// let options = dummymp::TaskOptions::new().timeout(Duration::from_millis(200));
    /// let late = mp.run_with(options, nap, 60_000)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(late), Some(&dummymp::Outcome::TimedOut));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::EncodeArguments`] when `args` cannot be serialised.
    pub fn run_with<F, Signature>(
        &mut self,
        options: TaskOptions,
        function: F,
        args: F::Args,
    ) -> Result<TaskHandle<F::Output>, Error>
    where
        F: TaskFunction<Signature>,
    {
        let spec = TaskSpec::call(function, args)?.with_options(options);
        Ok(self.submit_call::<F::Output>(spec))
    }

    /// Queues a command to run as a task; it ends as
    /// [`Outcome::Exited`](crate::Outcome::Exited) with its exit code (or
    /// another outcome if it did not get to exit by itself).
    ///
    /// ```
    /// # dummymp::init();
    /// let mut mp = dummymp::DummyMp::new();
    /// let id = mp.run_command(dummymp::Command::shell("exit 4"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(id), Some(&dummymp::Outcome::Exited { code: 4 }));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for validation.
    pub fn run_command(&mut self, command: Command) -> Result<TaskId, Error> {
        self.run_command_with(self.task_options.clone(), command)
    }

    /// [`run_command`](DummyMp::run_command) with per-task options.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// use dummymp::{Command, Outcome, TaskOptions};
    /// let mut mp = dummymp::DummyMp::new();
    /// let options = TaskOptions::new().timeout(Duration::from_millis(100));
    /// let id = mp.run_command_with(options, Command::new("sleep").arg("60"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(id), Some(&Outcome::TimedOut));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for validation.
    pub fn run_command_with(
        &mut self,
        options: TaskOptions,
        command: Command,
    ) -> Result<TaskId, Error> {
        Ok(self.submit(TaskSpec::command(command).with_options(options), None))
    }

    /// Queues a task described for the [engine](crate::engine) directly,
    /// such as a [foreign call](crate::engine::TaskSpec::foreign), with this
    /// queue's output mode. Its encoded return value (if any) stays in its
    /// report: read it with [`TaskReport::returned_bytes`].
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::TaskSpec;
    /// let mut mp = dummymp::DummyMp::new();
    /// let id = mp.run_spec(TaskSpec::command(dummymp::Command::new("true")));
    /// mp.process_until_done()?;
    /// assert!(mp.outcome(id).unwrap().is_success());
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn run_spec(&mut self, spec: TaskSpec) -> TaskId {
        self.submit(spec, None)
    }

    /// Queues a function call returning an `R`.
    fn submit_call<R>(&mut self, spec: TaskSpec) -> TaskHandle<R>
    where
        R: DeserializeOwned + Send + 'static,
    {
        TaskHandle::new(self.submit(spec, Some(ReturnType::of::<R>())))
    }

    fn submit(&mut self, spec: TaskSpec, returns: Option<ReturnType>) -> TaskId {
        let mut spec = spec.with_output(OutputRoute::Relay(self.output_mode));
        // The recorder decodes a big value piece by piece.
        spec.decoded_from_pieces = returns.is_some();
        self.tasks.push(TaskEntry {
            name: Cow::Owned(spec.name().to_string()),
            returns,
            report: None,
        });
        let id = self.engine.submit(spec);
        debug_assert_eq!(id.index(), self.tasks.len() - 1);
        id
    }

    /// Does whatever can be done now without waiting: relays the messages
    /// that arrived, finishes the tasks that ended, and starts the queued
    /// ones the scheduler allows. Returns `true` when nothing is queued or
    /// running any more.
    ///
    /// ```
    /// # dummymp::init();
    /// fn one() -> u8 { 1 }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(one, ())?;
    /// while !mp.process_process()? {
    ///     // ... other work ...
    ///     mp.wait(Some(std::time::Duration::from_millis(10)))?;
    /// }
    /// assert_eq!(mp.returns::<u8>()?[&0], 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn process_process(&mut self) -> Result<bool, Error> {
        let (engine, mut recorder) = self.parts();
        engine.process(&mut recorder)?;
        Ok(engine.is_idle())
    }

    /// Relays the messages that arrived from running tasks (log records,
    /// output lines, results), without blocking. Finishing and starting
    /// tasks is [`process_process`](DummyMp::process_process)'s job.
    ///
    /// The original's pumping loop, which relays log records promptly
    /// while doing other work:
    ///
    /// ```
    /// # dummymp::init();
    /// fn chatty(n: u32) -> u32 {
    ///     log::info!("task {n} says hello");
    ///     n
    /// }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(chatty, 1)?;
    /// while !mp.process_process()? {
    ///     mp.process_queue()?; // log records and output lines reach us now
    ///     mp.wait(Some(std::time::Duration::from_millis(10)))?;
    /// }
    /// assert_eq!(mp.returns::<u32>()?[&0], 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps the original's signature open for
    /// front ends that may fail.
    pub fn process_queue(&mut self) -> Result<(), Error> {
        let (engine, mut recorder) = self.parts();
        engine.relay(&mut recorder);
        Ok(())
    }

    /// Processes the queue until every task has ended (and nothing a task
    /// left behind lives), sleeping in between until something happens (a
    /// message, a task's end, a timeout, the next load measurement), so
    /// that waiting costs no CPU.
    ///
    /// In [`Priority::Generous`] this waits for CPUs to become free rather
    /// than returning with tasks still queued.
    ///
    /// ```
    /// # dummymp::init();
    /// fn double(x: i32) -> i32 { 2 * x }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(double, 21)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.progress().completed, 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn process_until_done(&mut self) -> Result<(), Error> {
        while !self.process_process()? {
            self.engine.wait(None, &[])?;
        }
        Ok(())
    }

    /// Waits until something happens (or `timeout` passes), then processes
    /// the queue like [`process_process`](DummyMp::process_process).
    /// Returns `true` when nothing is queued or running any more.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run_command(dummymp::Command::new("sleep").arg("0.2"))?;
    /// let mut turns = 0;
    /// while !mp.wait(Some(Duration::from_millis(50)))? {
    ///     turns += 1; // something to do between turns: a progress bar...
    /// }
    /// assert_eq!(mp.progress().completed, 1);
    /// # let _ = turns;
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Os`] when the system refuses to wait.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, Error> {
        let before = self.engine.activity();
        if self.process_process()? {
            return Ok(true);
        }
        // Something happened already (a message relayed, a task ended): the
        // caller should look at it before anything more is waited for.
        if self.engine.activity() != before {
            return Ok(false);
        }
        self.engine.wait(timeout.map(|t| Instant::now() + t), &[])?;
        self.process_process()
    }

    /// Ends task `id`: it is taken off the queue if it has not started,
    /// else its process group gets `SIGTERM`, then `SIGKILL` after the kill
    /// grace period. It ends as [`Outcome::Killed`](crate::Outcome::Killed)
    /// once the queue is processed. Returns whether it was queued or
    /// running.
    ///
    /// ```
    /// # dummymp::init();
    /// let mut mp = dummymp::DummyMp::new();
    /// let id = mp.run_command(dummymp::Command::new("sleep").arg("60"))?;
    /// mp.process_process()?;
    /// assert!(mp.kill(id));
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(id), Some(&dummymp::Outcome::Killed));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn kill(&mut self, id: impl Into<TaskId>) -> bool {
        self.engine.kill(id.into())
    }

    /// Ends every running task and what it started: `SIGTERM` to each
    /// task's process group, up to the kill grace period for them to exit,
    /// then `SIGKILL`. Waits until they are reaped. Values already received
    /// are kept; the others end as [`Outcome::Killed`](crate::Outcome::Killed).
    /// Queued tasks stay queued.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::{Command, Outcome};
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_max_processes(1);
    /// let running = mp.run_command(Command::new("sleep").arg("60"))?;
    /// let queued = mp.run_command(Command::new("true"))?;
    /// mp.process_process()?; // starts the first one only
    /// mp.killall();
    /// assert_eq!(mp.outcome(running), Some(&Outcome::Killed));
    /// mp.process_until_done()?; // the queued one still runs
    /// assert_eq!(mp.outcome(queued), Some(&Outcome::Exited { code: 0 }));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn killall(&mut self) {
        let (engine, mut recorder) = self.parts();
        engine.killall(&mut recorder);
    }

    /// Pauses every running task: its whole process group is stopped
    /// (`SIGSTOP`) until [`resume_all`](DummyMp::resume_all), no queued
    /// task starts meanwhile, and a paused task's timeout does not run.
    ///
    /// Your tasks run in process groups of their own, so Ctrl-Z in a
    /// terminal stops your program but not them: call this before your
    /// program stops, and [`resume_all`](DummyMp::resume_all) once it is
    /// continued (see [Ctrl-Z](crate#ctrl-z) for the wiring). The library
    /// installs no signal handler of its own.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// use dummymp::{Command, Outcome, TaskOptions};
    /// let mut mp = dummymp::DummyMp::new();
    /// let options = TaskOptions::new().timeout(Duration::from_secs(30));
    /// let task = mp.run_command_with(options, Command::new("sleep").arg("0.1"))?;
    /// mp.process_process()?;
    /// mp.pause_all(); // the task is stopped, and its timeout too
    /// assert!(mp.is_paused());
    /// mp.resume_all();
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(task), Some(&Outcome::Exited { code: 0 }));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn pause_all(&mut self) {
        self.engine.pause_all();
    }

    /// Continues the tasks [`pause_all`](DummyMp::pause_all) paused, and
    /// lets queued tasks start again. A task that is also paused for other
    /// users' load (in [`Priority::Generous`]) stays paused until that
    /// load goes.
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.pause_all();
    /// mp.resume_all();
    /// assert!(!mp.is_paused());
    /// ```
    pub fn resume_all(&mut self) {
        self.engine.resume_all();
    }

    /// Whether [`pause_all`](DummyMp::pause_all) paused the tasks (and no
    /// [`resume_all`](DummyMp::resume_all) followed).
    ///
    /// ```
    /// assert!(!dummymp::DummyMp::new().is_paused());
    /// ```
    pub fn is_paused(&self) -> bool {
        self.engine.is_paused()
    }

    /// Kills every running task ([`killall`](DummyMp::killall)), drops the
    /// queue and every report and return, and puts every setting back to
    /// its default: a fresh start. Call indices start from 0 again.
    ///
    /// ```
    /// # dummymp::init();
    /// fn double(x: u32) -> u32 { 2 * x }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_max_processes(1);
    /// mp.run(double, 1)?;
    /// mp.process_until_done()?;
    /// mp.reset();
    /// assert_eq!(mp.max_processes(), 0);
    /// assert!(mp.returns::<u32>()?.is_empty());
    /// assert_eq!(mp.run(double, 2)?.index(), 0);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn reset(&mut self) {
        self.killall();
        *self = DummyMp::new();
    }

    /// The engine, and the recorder that turns its events into reports
    /// and callbacks.
    fn parts(&mut self) -> (&mut Engine, Recorder<'_>) {
        (
            &mut self.engine,
            Recorder {
                tasks: &mut self.tasks,
                completed: &mut self.completed,
                running: &mut self.running,
                on_start: &mut self.on_start,
                on_end: &mut self.on_end,
            },
        )
    }
}

fn decode_value<R>(encoded: Encoded) -> Result<Box<dyn Any + Send>, postcard::Error>
where
    R: DeserializeOwned + Send + 'static,
{
    Ok(Box::new(encoded.decode::<R>()?))
}
