//! The original's module-level API: the same functions on one process-wide
//! default [`DummyMp`], created on first use.
//!
//! Each function locks the default instance for the duration of the call.
//! Callbacks run while it is locked, so a callback must not call these
//! functions (it would wait for itself); use a [`DummyMp`] of your own when
//! callbacks need to drive the queue.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use crate::callable::TaskFunction;
use crate::{DummyMp, Error, Outcome, Priority, Progress, TaskHandle, TaskId, TaskReport};

static DEFAULT: LazyLock<Mutex<DummyMp>> = LazyLock::new(|| Mutex::new(DummyMp::new()));

pub(super) fn default_instance() -> MutexGuard<'static, DummyMp> {
    DEFAULT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `function(args)` on the default instance; see [`DummyMp::run`]
/// (arguments: `()`, the argument, or a tuple of the arguments).
///
/// ```
/// # dummymp::init();
/// fn add(a: u32, b: u32) -> u32 {
///     a + b
/// }
/// dummymp::set_priority_mode(dummymp::Priority::Nuclear);
/// dummymp::run(add, (2, 3))?;
/// dummymp::process_until_done()?;
/// assert_eq!(dummymp::get_returns::<u32>()?[&0], 5);
/// dummymp::reset();
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::EncodeArguments`] when `args` cannot be serialised.
pub fn run<F, Signature>(function: F, args: F::Args) -> Result<TaskHandle<F::Output>, Error>
where
    F: TaskFunction<Signature>,
{
    default_instance().run(function, args)
}

/// Queues `function` for every item of `items` on the default instance
/// and returns the handles; see [`DummyMp::run_many`].
///
/// ```
/// # dummymp::init();
/// fn shout(word: String) -> String { word.to_uppercase() }
/// let words = ["a", "b"].map(String::from);
/// let tasks = dummymp::run_many(shout, words)?;
/// dummymp::process_until_done()?;
/// assert_eq!(dummymp::get_returns::<String>()?[&tasks[1].index()], "B");
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::EncodeArguments`] when an item cannot be serialised; nothing
/// is queued then.
pub fn run_many<F, Signature, I>(function: F, items: I) -> Result<Vec<TaskHandle<F::Output>>, Error>
where
    F: TaskFunction<Signature>,
    I: IntoIterator<Item = F::Args>,
{
    default_instance().run_many(function, items)
}

/// Runs `function` over every item of `items` on the default instance and
/// returns the values in order; see [`DummyMp::map`].
///
/// ```
/// # dummymp::init();
/// fn cube(x: i64) -> i64 { x * x * x }
/// assert_eq!(dummymp::map(cube, [-1, 2, 3])?, [-1, 8, 27]);
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TasksFailed`] when some tasks did not return, naming them;
/// [`Error::EncodeArguments`], [`Error::Os`]: see [`DummyMp::map`].
pub fn map<F, Signature, I>(function: F, items: I) -> Result<Vec<F::Output>, Error>
where
    F: TaskFunction<Signature>,
    I: IntoIterator<Item = F::Args>,
{
    default_instance().map(function, items)
}

/// Relays, reaps and starts without blocking; `true` when everything is
/// done. See [`DummyMp::process_process`].
///
/// ```
/// # dummymp::init();
/// fn seven() -> u8 { 7 }
/// dummymp::run(seven, ())?;
/// while !dummymp::process_process()? {
///     dummymp::process_queue()?;
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// assert_eq!(dummymp::get_returns::<u8>()?[&0], 7);
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Os`] when the system refuses what the scheduler needs.
pub fn process_process() -> Result<bool, Error> {
    default_instance().process_process()
}

/// Relays the messages that arrived (log records, output lines, results).
/// See [`DummyMp::process_queue`].
///
/// ```
/// # dummymp::init();
/// fn hello() { log::info!("hello from a task"); }
/// dummymp::run(hello, ())?;
/// dummymp::process_process()?; // starts it
/// dummymp::process_queue()?; // relays what it logged so far, never blocks
/// dummymp::process_until_done()?;
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// None today; see [`DummyMp::process_queue`].
pub fn process_queue() -> Result<(), Error> {
    default_instance().process_queue()
}

/// Blocks until every queued task has ended, sleeping until something
/// happens. See [`DummyMp::process_until_done`].
///
/// ```
/// # dummymp::init();
/// fn double(x: u32) -> u32 { 2 * x }
/// dummymp::run(double, 21)?;
/// dummymp::process_until_done()?;
/// assert_eq!(dummymp::get_returns::<u32>()?[&0], 42);
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Os`] when the system refuses to wait.
pub fn process_until_done() -> Result<(), Error> {
    default_instance().process_until_done()
}

/// The values returned so far by tasks returning `R`, by call index,
/// copied. See [`DummyMp::returns`].
///
/// The original's `get_returns()` gave one untyped dictionary; here the
/// type is named, and checked: asking for a type that none of the queued
/// functions returns is an error, not an empty map.
///
/// ```
/// # dummymp::init();
/// fn test(seconds: u64) -> Option<u64> { (seconds > 1).then_some(seconds) }
/// dummymp::run(test, 2)?;
/// dummymp::run(test, 1)?;
/// dummymp::process_until_done()?;
/// let returns = dummymp::get_returns::<Option<u64>>()?;
/// assert_eq!(format!("{returns:?}"), "{0: Some(2), 1: None}");
/// assert!(dummymp::get_returns::<u64>().is_err()); // the tasks return Option<u64>
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ReturnType`] when no queued function returns an `R` but some
/// return another type.
pub fn get_returns<R: Clone + 'static>() -> Result<BTreeMap<usize, R>, Error> {
    default_instance().returns()
}

/// Moves the values returned so far by tasks returning `R` out of the
/// default instance, by call index. See [`DummyMp::take_returns`].
///
/// ```
/// # dummymp::init();
/// fn letters(n: usize) -> String { "x".repeat(n) }
/// dummymp::run(letters, 3)?;
/// dummymp::process_until_done()?;
/// assert_eq!(dummymp::take_returns::<String>()?[&0], "xxx");
/// assert!(dummymp::get_returns::<String>()?.is_empty());
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ReturnType`], as for [`get_returns`].
pub fn take_returns<R: 'static>() -> Result<BTreeMap<usize, R>, Error> {
    default_instance().take_returns()
}

/// How the task with call index (or id) `id` ended, once it has: why
/// [`get_returns`] has no value for it. See [`DummyMp::outcome`].
///
/// ```
/// # dummymp::init();
/// fn check(x: u32) -> u32 { assert!(x > 0, "x must be positive"); x }
/// dummymp::run(check, 0)?;
/// dummymp::process_until_done()?;
/// assert!(dummymp::get_returns::<u32>()?.is_empty());
/// let Some(dummymp::Outcome::Panicked { message, .. }) = dummymp::get_outcome(0) else {
///     panic!("task 0 panics")
/// };
/// assert_eq!(message, "x must be positive");
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn get_outcome(id: impl Into<TaskId>) -> Option<Outcome> {
    default_instance().outcome(id).cloned()
}

/// A copy of the report of the task with call index (or id) `id`, once it
/// has ended: outcome, process id, exit status, runtime, attempts,
/// captured output. The copy does not carry the return value (read it with
/// [`get_returns`]). See [`DummyMp::report`].
///
/// ```
/// # dummymp::init();
/// fn quit(code: i32) { std::process::exit(code) }
/// dummymp::run(quit, 3)?;
/// dummymp::process_until_done()?;
/// let report = dummymp::get_report(0).unwrap();
/// assert_eq!(report.outcome, dummymp::Outcome::ExitedEarly { code: 3 });
/// assert!(report.pid.is_some());
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn get_report(id: impl Into<TaskId>) -> Option<TaskReport> {
    default_instance()
        .report(id)
        .map(TaskReport::copy_without_value)
}

/// Caps the number of tasks running at once (0: no cap). See
/// [`DummyMp::set_max_processes`].
///
/// ```
/// dummymp::set_max_processes(2);
/// assert_eq!(dummymp::get_max_processes(), 2);
/// ```
pub fn set_max_processes(max_processes: usize) {
    default_instance().set_max_processes(max_processes);
}

/// The process cap (0: none).
///
/// ```
/// assert_eq!(dummymp::get_max_processes(), 0);
/// ```
pub fn get_max_processes() -> usize {
    default_instance().max_processes()
}

/// Sets how many tasks may run at once on an otherwise idle machine (0:
/// one per usable CPU); more than the CPUs suits tasks that mostly wait.
/// See [`DummyMp::set_capacity`].
///
/// ```
/// dummymp::set_capacity(16);
/// assert_eq!(dummymp::get_capacity(), 16);
/// ```
pub fn set_capacity(capacity: usize) {
    default_instance().set_capacity(capacity);
}

/// The capacity (0: one task per usable CPU).
///
/// ```
/// assert_eq!(dummymp::get_capacity(), 0);
/// ```
pub fn get_capacity() -> usize {
    default_instance().capacity()
}

/// Sets the priority mode. See [`Priority`].
///
/// ```
/// dummymp::set_priority_mode(dummymp::Priority::Aggressive);
/// assert_eq!(dummymp::get_priority_mode(), dummymp::Priority::Aggressive);
/// ```
pub fn set_priority_mode(priority: Priority) {
    default_instance().set_priority_mode(priority);
}

/// The priority mode ([`Priority::Normal`] unless set).
///
/// ```
/// assert_eq!(dummymp::get_priority_mode(), dummymp::Priority::Normal);
/// ```
pub fn get_priority_mode() -> Priority {
    default_instance().priority_mode()
}

/// How many tasks may start under the priority mode (the process cap
/// aside); may block for one sampling interval. See
/// [`DummyMp::cpu_avail`].
///
/// ```
/// dummymp::set_priority_mode(dummymp::Priority::Nuclear);
/// assert_eq!(dummymp::get_cpu_avail(), dummymp::get_total_cpus());
/// ```
pub fn get_cpu_avail() -> usize {
    default_instance().cpu_avail()
}

/// CPUs this process may use: its CPU affinity mask, limited by any
/// cgroup CPU quota (under `taskset -c 0`, 1). The number to size your own
/// work by. Unlike the original's `getTotalCPUs`, this is not the machine's
/// count, which is [`get_machine_cpus`].
///
/// ```
/// let cpus = dummymp::get_total_cpus();
/// assert!(1 <= cpus && cpus <= dummymp::get_machine_cpus());
/// ```
pub fn get_total_cpus() -> usize {
    crate::usable_cpus()
}

/// CPUs online on the machine, whether this process may use them or not.
///
/// ```
/// assert!(dummymp::get_machine_cpus() >= dummymp::get_total_cpus());
/// ```
pub fn get_machine_cpus() -> usize {
    crate::total_cpus()
}

/// Calls `callback` with `(completed, running, total)` when a task starts.
/// See [`DummyMp::set_start_callback`].
///
/// ```
/// # dummymp::init();
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static STARTED: AtomicUsize = AtomicUsize::new(0);
/// dummymp::set_start_callback(|_| { STARTED.fetch_add(1, Ordering::Relaxed); });
/// fn one() -> u8 { 1 }
/// dummymp::run(one, ())?;
/// dummymp::process_until_done()?;
/// assert_eq!(STARTED.load(Ordering::Relaxed), 1);
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn set_start_callback(callback: impl FnMut(Progress) + Send + 'static) {
    default_instance().set_start_callback(callback);
}

/// Calls `callback` with `(completed, running, total)` when a task ends.
/// See [`DummyMp::set_end_callback`].
///
/// ```
/// # dummymp::init();
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static COMPLETED: AtomicUsize = AtomicUsize::new(0);
/// dummymp::set_end_callback(|p| COMPLETED.store(p.completed, Ordering::Relaxed));
/// fn one() -> u8 { 1 }
/// dummymp::run_many(one, [(), ()])?;
/// dummymp::process_until_done()?;
/// assert_eq!(COMPLETED.load(Ordering::Relaxed), 2);
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn set_end_callback(callback: impl FnMut(Progress) + Send + 'static) {
    default_instance().set_end_callback(callback);
}

/// Kills every running task, keeping the returns already received. See
/// [`DummyMp::killall`].
///
/// ```
/// # dummymp::init();
/// fn nap(seconds: u64) { std::thread::sleep(std::time::Duration::from_secs(seconds)) }
/// dummymp::run(nap, 60)?;
/// dummymp::process_process()?;
/// dummymp::killall();
/// assert_eq!(dummymp::get_outcome(0), Some(dummymp::Outcome::Killed));
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn killall() {
    default_instance().killall();
}

/// Kills every running task and returns to the default state: settings,
/// queue and returns. See [`DummyMp::reset`].
///
/// ```
/// dummymp::set_max_processes(3);
/// dummymp::reset();
/// assert_eq!(dummymp::get_max_processes(), 0);
/// ```
pub fn reset() {
    default_instance().reset();
}

/// The library's version.
///
/// ```
/// assert_eq!(dummymp::get_version(), env!("CARGO_PKG_VERSION"));
/// ```
pub fn get_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
