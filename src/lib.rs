//! Run functions in parallel child processes, considerately.
//!
//! dummymp queues calls to plain functions and runs each in a process of
//! its own, so that a crash, a panic or a kill touches one task only. It
//! starts only as many as the machine can take *without trampling the other
//! people on it*: before starting more work it measures the CPU load of
//! every foreign process (see [`Priority`]). Log records a task emits through
//! the [`log`] facade reach your logger tagged `[PID n]`, its output lines
//! reach your stdout and stderr whole, and what it returns comes back typed,
//! by call order.
//!
//! It is the Rust successor of the Python DummyMP library, whose API it
//! keeps: [`run`], [`process_until_done`], [`get_returns`],
//! [`set_max_processes`], [`set_priority_mode`], [`killall`], [`reset`] and
//! the rest work on a process-wide default queue; [`DummyMp`] is the same
//! queue as a value, for programs that want several.
//!
//! # Quick start
//!
//! ```standalone_crate
//! fn test(seconds: u64) -> Option<u64> {
//!     log::info!("Hi there from logging!");
//!     std::thread::sleep(std::time::Duration::from_millis(10 * seconds));
//!     (seconds > 1).then_some(seconds)
//! }
//!
//! fn main() -> Result<(), dummymp::Error> {
//!     dummymp::init(); // first line of main: a worker runs its task here
//!     let mut mp = dummymp::DummyMp::new();
//!     mp.set_max_processes(2);
//!     mp.set_priority_mode(dummymp::Priority::Nuclear);
//!     let first = mp.run(test, 2)?; // queued; ids follow call order from 0
//!     mp.run(test, 1)?;
//!     mp.process_until_done()?;
//!     assert_eq!(mp.value(first), Some(&Some(2)));
//!     println!("{:?}", mp.returns::<Option<u64>>()?); // {0: Some(2), 1: None}
//!     mp.reset();
//!     Ok(())
//! }
//! ```
//!
//! Or, for one function over many inputs, in order:
//!
//! ```
//! # dummymp::init();
//! fn square(x: u64) -> u64 { x * x }
//! let squares = dummymp::DummyMp::new().map(square, 1..=4)?;
//! assert_eq!(squares, [1, 4, 9, 16]);
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # How a task runs
//!
//! A task runs in a worker: this same program, started again. [`init`]
//! must therefore be the **first line of `main`**: in a worker it runs the
//! task and exits without returning, so whatever comes before it runs again
//! in every worker (keep it free of side effects). In `cargo test`, where
//! the test harness owns `main`, put [`enable_test_support!`] in the test
//! crate instead. A program that forgets `init` does not multiply: its
//! workers are recognised before `main` runs, end as soon as they would
//! queue work, and their tasks fail with a message that names the fix.
//!
//! The parent and the worker talk only over the worker's standard input and
//! output. The function travels as its address within the executable, the
//! arguments and the return value as [`serde`] data (encoded with postcard).
//! A worker checks that it runs the same executable build as its parent
//! before it calls anything. It dies as soon as its parent does (its
//! standard input closes), taking its own children along.
//!
//! To make fresh workers cheap, [`init`] also forks, while the program is
//! still single-threaded, a small *fork server* (a copy of the program as
//! it is at that moment); fresh workers are forked from it instead of
//! executed, and get the program's environment variables, working
//! directory and resource limits as they are when the task starts. `DUMMYMP_FORK_SERVER=0`
//! turns it off.
//!
//! Every task ends with an [`Outcome`]: its value, a panic (message and
//! location), an early exit, the signal that killed it, killed by
//! [`killall`], or a worker that could not start or refused. Each task runs
//! in a process group of its own: when it ends, processes it started and
//! left behind in that group are killed (start a daemon with `setsid` to
//! keep it).
//!
//! # Functions and arguments
//!
//! A task is a function item, or a closure that captures nothing, of up to
//! eight parameters ([`TaskFunction`]). [`run`](DummyMp::run) takes its
//! arguments as one value: `()` for none, the argument itself for one, a
//! tuple for several. Closures need their parameter types written out.
//!
//! ```
//! # dummymp::init();
//! fn hello() -> String { "hello".into() }
//! fn repeat(word: String, times: usize) -> String { word.repeat(times) }
//!
//! let mut mp = dummymp::DummyMp::new();
//! let a = mp.run(hello, ())?;
//! let b = mp.run(repeat, ("ab".to_string(), 3))?;
//! let c = mp.run(|x: i32, y: i32| x * y, (6, 7))?;
//! mp.process_until_done()?;
//! assert_eq!(mp.value(a).unwrap(), "hello");
//! assert_eq!(mp.value(b).unwrap(), "ababab");
//! assert_eq!(mp.value(c), Some(&42));
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! Arguments and return values are **owned** serde types: the worker is
//! another process and gets its own copy. A function taking `&[T]` or
//! `&str` does not compile (the compiler says that it "cannot run as a
//! dummymp task", or for `&str` that an "implementation of `Deserialize` is
//! not general enough"); take `Vec<T>` or `String`. Your own types
//! derive serde's traits through the re-export, [`dummymp::serde`](serde),
//! with no serde dependency of your own:
//!
//! ```
//! # dummymp::init();
//! #[derive(dummymp::serde::Serialize, dummymp::serde::Deserialize)]
//! #[serde(crate = "dummymp::serde")]
//! struct Point { x: f64, y: f64 }
//!
//! fn norm(p: Point) -> f64 { (p.x * p.x + p.y * p.y).sqrt() }
//! assert_eq!(dummymp::DummyMp::new().map(norm, [Point { x: 3.0, y: 4.0 }])?, [5.0]);
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # What a task sees
//!
//! The arguments are serialised when [`run`](DummyMp::run) is called, so
//! later changes to the caller's values do not reach a queued call. The
//! task's process is started when the scheduler lets it start, and sees
//! this process's environment variables and working directory *as they
//! are then*, as the original's forked children did. Pass what must be
//! fixed at queue time as an argument.
//!
//! # Many tasks at once
//!
//! [`run_many`](DummyMp::run_many) queues one function over every item of
//! an iterator and returns the handles; [`map`](DummyMp::map) also runs
//! them and returns the values in the items' order, scheduled like any
//! other task. When some tasks fail, `map` returns
//! [`Error::TasksFailed`], which names each failed item, its task id and
//! its [`Outcome`]; the values of the others stay in the queue:
//!
//! ```
//! # dummymp::init();
//! fn parse(text: String) -> i64 { text.parse().expect("a number") }
//! let mut mp = dummymp::DummyMp::new();
//! let inputs = ["1", "x", "3"].map(String::from);
//! match mp.map(parse, inputs) {
//!     Ok(values) => println!("{values:?}"),
//!     Err(dummymp::Error::TasksFailed { failed, .. }) => {
//!         assert_eq!(failed[0].item, 1);
//!         println!("{}", failed[0]); // item 1 (task 1) panicked at ...: a number: ...
//!         let rest = mp.take_returns::<i64>()?; // {0: 1, 2: 3}
//!         assert_eq!(rest.into_values().collect::<Vec<_>>(), [1, 3]);
//!     }
//!     Err(other) => return Err(other),
//! }
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # Reading results
//!
//! - [`returns::<R>()`](DummyMp::returns): the values of the tasks that
//!   returned an `R`, by call index, copied; asking for a type no queued
//!   function returns is [`Error::ReturnType`], not an empty map.
//!   [`take_returns`](DummyMp::take_returns) moves them out instead.
//! - [`value(handle)`](DummyMp::value) and
//!   [`take_value(handle)`](DummyMp::take_value): one task's value, typed
//!   by its [`TaskHandle`].
//! - [`outcome(id)`](DummyMp::outcome) and [`report(id)`](DummyMp::report):
//!   how a task ended, and everything else known about it ([`TaskReport`]:
//!   pid, exit status, runtime, attempts, captured output). `id` is a
//!   handle, a [`TaskId`] or the plain call index that `returns` uses as
//!   key.
//!
//! ```
//! # dummymp::init();
//! fn check(x: u32) -> u32 { assert!(x < 10, "too big"); x }
//! let mut mp = dummymp::DummyMp::new();
//! mp.run_many(check, [1, 20])?;
//! mp.process_until_done()?;
//! let returns = mp.returns::<u32>()?;
//! assert_eq!(returns.get(&0), Some(&1));
//! assert_eq!(returns.get(&1), None); // why? ask by the same index:
//! assert!(matches!(mp.outcome(1), Some(dummymp::Outcome::Panicked { .. })));
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # Commands as tasks
//!
//! A [`Command`] (a program and its arguments, or a shell line) runs as a
//! task too, scheduled, timed out and killed like a function task, and
//! ends as [`Outcome::Exited`] with its exit code. See
//! [`run_command`](DummyMp::run_command).
//!
//! ```
//! # dummymp::init();
//! use dummymp::{Command, Outcome, OutputMode};
//! let mut mp = dummymp::DummyMp::new();
//! mp.set_output_mode(OutputMode::Captured);
//! let id = mp.run_command(Command::shell("echo $((6 * 7))"))?;
//! mp.process_until_done()?;
//! assert_eq!(mp.outcome(id), Some(&Outcome::Exited { code: 0 }));
//! assert_eq!(mp.report(id).unwrap().stdout, b"42\n");
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # Timeouts, retries and killing
//!
//! [`TaskOptions`] give a task a timeout (its process group gets
//! `SIGTERM`, then `SIGKILL` after the [kill grace
//! period](DummyMp::set_kill_grace)) and retries, through
//! [`run_with`](DummyMp::run_with), [`map_with`](DummyMp::map_with) and
//! [`run_command_with`](DummyMp::run_command_with).
//! [`kill`](DummyMp::kill) ends one task, [`killall`](DummyMp::killall)
//! every running one, and dropping a [`DummyMp`] kills what it runs.
//!
//! ```
//! # dummymp::init();
//! use std::time::Duration;
//! fn nap(seconds: u64) { std::thread::sleep(Duration::from_secs(seconds)) }
//! let mut mp = dummymp::DummyMp::new();
//! let options = dummymp::TaskOptions::new().timeout(Duration::from_millis(100));
//! let task = mp.run_with(options, nap, 60)?;
//! mp.process_until_done()?;
//! assert_eq!(mp.outcome(task), Some(&dummymp::Outcome::TimedOut));
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # Ctrl-Z
//!
//! Each task runs in a process group of its own, so Ctrl-Z in a terminal
//! (`SIGTSTP`) stops your program but not its tasks, which go on running
//! (and their timeouts with them). The library installs no signal handler
//! in your program: it offers [`pause_all`](DummyMp::pause_all) and
//! [`resume_all`](DummyMp::resume_all) (a paused task's timeout does not
//! run), and you wire them, for example with the `signal-hook` crate. Your
//! program then stops at the next turn of its loop after Ctrl-Z, with its
//! tasks, and all go on at `fg`. (The `dummymp` command-line tool does this
//! by itself.)
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//! use signal_hook::consts::SIGTSTP;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! dummymp::init();
//! let ctrl_z = Arc::new(AtomicBool::new(false));
//! signal_hook::flag::register(SIGTSTP, Arc::clone(&ctrl_z))?;
//! let mut mp = dummymp::DummyMp::new();
//! mp.run_command(dummymp::Command::new("sleep").arg("0.1"))?;
//! while !mp.wait(Some(Duration::from_millis(100)))? {
//!     if ctrl_z.swap(false, Ordering::Relaxed) {
//!         mp.pause_all();
//!         // Stop as Ctrl-Z would have stopped us; go on here at `fg`.
//!         signal_hook::low_level::emulate_default_handler(SIGTSTP)?;
//!         mp.resume_all();
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # How many run at once
//!
//! - The **capacity** is how many tasks may run on an otherwise idle
//!   machine: one per usable CPU unless [set](DummyMp::set_capacity)
//!   higher, for tasks that mostly wait (the command-line tool's `-j`).
//! - The **priority mode** ([`Priority`]) subtracts the CPUs that other
//!   people's processes keep busy from it (every mode but `Nuclear`).
//! - The **process cap** ([`set_max_processes`](DummyMp::set_max_processes))
//!   limits the result in every mode; it never adds tasks.
//!
//! *Usable* CPUs honour CPU affinity (`taskset`, Slurm, cpusets) and cgroup
//! quotas: [`total_cpus`](DummyMp::total_cpus) and [`get_total_cpus`] count
//! them (1 under `taskset -c 0`), and
//! [`machine_cpus`](DummyMp::machine_cpus) counts the machine's.
//!
//! ```
//! # dummymp::init();
//! fn wait_for_network(ms: u64) { std::thread::sleep(std::time::Duration::from_millis(ms)) }
//! let mut mp = dummymp::DummyMp::new();
//! mp.set_capacity(16); // 16 at once, even on 2 CPUs, less what others use
//! mp.map(wait_for_network, [50; 16])?;
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # Output and logs
//!
//! Log records a task emits through the [`log`] facade reach the parent's
//! logger with their level, target and location, prefixed `[PID n] `. Its
//! standard output and error reach the parent's as whole lines, tagged,
//! untagged or captured into its report ([`OutputMode`]).
//!
//! # Reused workers
//!
//! By default each task gets a fresh process: the strongest isolation.
//! For many short tasks, [`set_reuse_workers(true)`](DummyMp::set_reuse_workers)
//! keeps workers alive to run task after task, which removes the process
//! start from every task but the first of each worker (the Python `Pool`
//! habit). Returns, outcomes, output and log records stay attributed to the
//! right task; a task that crashes or times out ends its worker only, and
//! the next task gets a fresh one. What changes: the tasks of one worker
//! share its process (its global state, threads and children), and idle
//! workers live until [`killall`](DummyMp::killall),
//! [`reset`](DummyMp::reset) or drop.
//!
//! ```
//! # dummymp::init();
//! fn square(x: u64) -> u64 { x * x }
//! let mut mp = dummymp::DummyMp::new();
//! mp.set_reuse_workers(true);
//! assert_eq!(mp.map(square, 0..100u64)?.iter().sum::<u64>(), 328_350);
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # A good neighbour while tasks run
//!
//! The considerate modes do not only decide at start time. When other
//! users' load appears while tasks run, `Normal` and `Generous` lower the
//! tasks' priority, and `Generous` pauses (`SIGSTOP`) the most recently
//! started ones down to the CPUs left free and continues them when the load
//! goes away; a paused task's timeout does not run. A task starts only when
//! the memory it needs ([`TaskOptions::memory`], else what finished tasks of
//! the same function or command used at their peak) is available beyond the
//! mode's reserve; a task that could never fit fails to start at once. See
//! [`Priority`] for the numbers.
//!
//! # On a Slurm cluster
//!
//! With [`Launcher::Slurm`] (see [`SlurmOptions`]), every task is a job
//! step of the allocation the program runs in (`srun --exact --ntasks=1
//! ...`), on whichever node has room, and talks to the parent over `srun`'s
//! standard streams exactly as a local worker does; the allocation decides
//! how many run at once. Nothing else changes:
//!
//! ```no_run
//! # fn work(x: u32) -> u32 { x }
//! let mut mp = dummymp::DummyMp::new();
//! mp.set_launcher(dummymp::Launcher::slurm()?);
//! mp.run(work, 7)?;
//! mp.process_until_done()?;
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! `docs/slurm.md` has a batch script to start from and what happens on
//! the nodes.
//!
//! # Other languages, other front ends
//!
//! The [`engine`] that runs every task is public: [`engine::Engine`] takes
//! [`engine::TaskSpec`]s and hands out [`engine::Event`]s, which is how the
//! `dummymp` command-line tool is built. A worker written in another
//! language (the Python package's) serves calls through [`foreign::serve`]
//! with the same protocol, capture, log relay and parent watch; its tasks
//! are queued with [`engine::TaskSpec::foreign`] and
//! [`DummyMp::run_spec`], and an exception it raises ends its task as
//! [`Outcome::Raised`].
//!
//! # The original's module-level API
//!
//! The Python original's functions work on a process-wide default
//! [`DummyMp`]: [`run`], [`run_many`], [`map`], [`process_process`],
//! [`process_queue`], [`process_until_done`], [`get_returns`],
//! [`take_returns`], [`get_outcome`], [`get_report`],
//! [`set_max_processes`], [`get_max_processes`], [`set_capacity`],
//! [`get_capacity`], [`set_priority_mode`], [`get_priority_mode`],
//! [`get_cpu_avail`], [`get_total_cpus`], [`get_machine_cpus`],
//! [`set_start_callback`], [`set_end_callback`], [`killall`], [`reset`],
//! [`get_version`].
//!
//! ```
//! # dummymp::init();
//! fn test(seconds: u64) -> Option<u64> { (seconds > 1).then_some(seconds) }
//! dummymp::set_max_processes(2);
//! dummymp::run(test, 2)?;
//! dummymp::run(test, 1)?;
//! dummymp::process_until_done()?;
//! assert_eq!(format!("{:?}", dummymp::get_returns::<Option<u64>>()?), "{0: Some(2), 1: None}");
//! # Ok::<(), dummymp::Error>(())
//! ```
//!
//! # Testing
//!
//! In `cargo test` the harness owns `main`: put
//! [`enable_test_support!()`](enable_test_support) at the top of each
//! integration-test crate that queues tasks.
//!
//! A test of how a program reacts to other users' load (waits, lowers its
//! tasks' priority, pauses and continues them) makes that load itself:
//! start the program with the environment variable `DUMMYMP_LOAD_SOURCE`
//! naming a file that lists foreign processes, one `PID NAME PERCENT` line
//! each (`5000001 loop 100`; an empty file is a quiet machine). Every load
//! measurement of that process, the scheduler's and
//! [`measure_foreign_load`]'s, then reads the file instead of the machine,
//! with the mode's threshold and counting rules applied as to measured
//! processes; replace the file (write another, rename it over) to change
//! the load. Whatever else the test machine runs then changes nothing.
//! `docs/testing.md` has examples for a test, the command-line tool and the
//! Python package.
//!
//! # Where things are
//!
//! | what | module |
//! |---|---|
//! | the queue and its control ([`DummyMp`]), the module-level API and its settings | `queue` (`settings.rs`, `global.rs`, `global_settings.rs`) |
//! | what a task is: spec, options, ids and handles, outcome, report | `task` |
//! | which functions can be tasks, how they travel to a worker | `callable` |
//! | the one loop that starts, watches, times out, kills and reaps tasks | [`engine`] (`mod.rs`; a file per step: `admission.rs`, `starting.rs`, `waiting.rs`, `deadlines.rs`, `finishing.rs`, ...) |
//! | where a task is spawned, and every action on its process | `launch` (`local/spawn.rs`; the handle in `handle.rs`; Slurm in `slurm/`; the fork server in `fork_server/`) |
//! | what a process is (parent, worker, watchdog), decided before `main` | `role` |
//! | the worker runs the task, captures its output | `worker` |
//! | CPU load of other processes is measured | `load` (and `platform::linux` for `/proc`) |
//! | how many tasks may start | [`Scheduler`] (`scheduler`) |
//! | running tasks give CPUs back (renice, pause) | `scheduler/running_advice.rs` (the advice), `engine/yielding.rs` (acting on it) |
//! | a log record or output line is relayed | `relay` |
//! | usable CPUs: affinity, cgroup quotas | `cpus` |
//! | every system call outside the launch seam and the worker | `platform` |

#![warn(missing_docs)]

mod callable;
mod command;
mod cpu_set;
mod cpus;
mod encoded;
pub mod engine;
mod error;
pub mod foreign;
mod identity;
mod invocation;
mod launch;
mod lines;
mod load;
mod platform;
mod priority;
mod protocol;
mod queue;
mod relay;
mod role;
mod scheduler;
mod task;
mod worker;

pub use callable::TaskFunction;
pub use command::{Command, SHELL};
pub use cpus::{CpuInfo, CpuSet, total_cpus, usable_cpus};
pub use encoded::MESSAGE_LIMIT;
pub use engine::DEFAULT_KILL_GRACE;
pub use error::{Error, TaskFailure};
pub use launch::{Launcher, SlurmOptions};
pub use load::{
    ForeignProcess, LoadMeasurement, LoadRule, MeasurementKind, OwnProcesses, ProcessScan,
    measure_foreign_load, measure_foreign_load_over, measure_foreign_load_with,
};
pub use priority::{CustomPriority, Priority};
pub use queue::DummyMp;
pub use queue::global::{
    get_capacity, get_cpu_avail, get_machine_cpus, get_max_processes, get_outcome,
    get_priority_mode, get_report, get_returns, get_total_cpus, get_version, killall, map,
    process_process, process_queue, process_until_done, reset, run, run_many, set_capacity,
    set_end_callback, set_max_processes, set_priority_mode, set_start_callback, take_returns,
};
pub use queue::global_settings::{
    get_kill_grace, get_launcher, get_memory_per_task, get_nice, get_output_mode,
    get_reuse_workers, get_start_delay, get_task_options, set_kill_grace, set_launcher,
    set_memory_per_task, set_nice, set_output_mode, set_reuse_workers, set_start_delay,
    set_task_options,
};
pub use scheduler::Scheduler;
pub use scheduler::decision::{Decision, SlotLimit};
pub use scheduler::memory::{MemoryFit, MemoryStatus};
pub use scheduler::running_advice::{CALM_MEASUREMENTS, RunningAdvice};
pub use task::{
    Outcome, OutputMode, ProcessExit, Progress, Stream, TaskHandle, TaskId, TaskOptions,
    TaskReport, signal_name,
};

/// The serde crate, re-exported so that you need no dependency of your own
/// to derive the traits for argument and return types. Tell the derive
/// where it is with `#[serde(crate = "dummymp::serde")]`:
///
/// ```
/// # dummymp::init();
/// use dummymp::serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// #[serde(crate = "dummymp::serde")]
/// struct Job {
///     name: String,
///     size: u32,
/// }
///
/// fn work(job: Job) -> String {
///     format!("{} x{}", job.name, job.size)
/// }
///
/// let mut mp = dummymp::DummyMp::new();
/// let task = mp.run(work, Job { name: "render".into(), size: 3 })?;
/// mp.process_until_done()?;
/// assert_eq!(mp.value(task).map(String::as_str), Some("render x3"));
/// # Ok::<(), dummymp::Error>(())
/// ```
pub use serde;

/// Turns this process into a worker when it was started as one: runs the
/// task it was started for and exits, never returning. In any other process
/// it returns at once.
///
/// Call it as the **first line of `main`**: everything before it runs again
/// in every worker.
///
/// A program that forgets it cannot multiply: a constructor of this crate
/// recognises a worker before `main` runs, and such a worker ends as soon
/// as its `main` queues or processes work (and at the latest when it
/// exits), before it can start workers of its own. Its task then fails with
/// an [`Outcome::Failed`] whose reason says that the program did not call
/// `dummymp::init()` first in `main` (or `enable_test_support!` in tests).
///
/// ```no_run
/// fn main() {
///     dummymp::init();
///     // ... the program, which may queue tasks ...
/// }
/// ```
#[allow(clippy::needless_doctest_main)]
pub fn init() {
    role::on_init();
}

/// Makes dummymp usable from `cargo test` (and `cargo nextest`), where the
/// test harness owns `main` and nothing can call [`init`] first.
///
/// Put it once at the top level of each integration-test crate (or of the
/// crate whose unit tests queue tasks). It registers a constructor that runs
/// before the harness's `main` and calls [`init`], so that a test binary
/// started as a worker runs its task instead of the tests.
///
/// ```ignore
/// // tests/my_tests.rs
/// dummymp::enable_test_support!();
///
/// fn double(x: u32) -> u32 {
///     x * 2
/// }
///
/// #[test]
/// fn doubles_in_a_child_process() {
///     let mut mp = dummymp::DummyMp::new();
///     let task = mp.run(double, 21).unwrap();
///     mp.process_until_done().unwrap();
///     assert_eq!(mp.value(task), Some(&42));
/// }
/// ```
#[macro_export]
macro_rules! enable_test_support {
    () => {
        $crate::__private::ctor::declarative::ctor! {
            // SAFETY: runs before the test harness's `main`. `init` only
            // looks at the command line and descriptors (std captures the
            // arguments before constructors run on Linux) and, in a worker,
            // runs the task and exits; in the test binary itself it forks
            // the fork server while the process is still single-threaded.
            #[ctor(unsafe, anonymous)]
            fn __dummymp_test_support() {
                $crate::__private::init_in_constructor();
            }
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use ctor;

    /// What [`enable_test_support!`](crate::enable_test_support) runs in its
    /// constructor: [`init`](crate::init), with a panic reported and the
    /// process ended (code 101) instead of an abort.
    ///
    /// ```
    /// // What the macro's constructor runs (in a program that is no
    /// // worker, it starts the fork server, once).
    /// dummymp::__private::init_in_constructor();
    /// ```
    pub fn init_in_constructor() {
        crate::role::in_constructor("running dummymp::init()", crate::init);
    }
}

/// Entry points for the fuzz targets in `fuzz/` (not an API: hidden, and
/// free to change).
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;
/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The library guide's examples (`docs/library.md`), compiled and run as doc
/// tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
struct LibraryGuideDoctests;

/// The Slurm page's example (`docs/slurm.md`), compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../docs/slurm.md")]
struct SlurmGuideDoctests;
