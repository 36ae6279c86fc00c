//! The original's module-level API: the same functions on one process-wide
//! default [`DummyMp`], created on first use.
//!
//! Each function locks the default instance for the duration of the call.
//! Callbacks run while it is locked, so a callback must not call these
//! functions (it would wait for itself); use a [`DummyMp`] of your own when
//! callbacks need to drive the queue.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DummyMp, Error, Priority, Progress, TaskHandle};

static DEFAULT: LazyLock<Mutex<DummyMp>> = LazyLock::new(|| Mutex::new(DummyMp::new()));

fn default_instance() -> MutexGuard<'static, DummyMp> {
    DEFAULT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `function(args)` on the default instance; see [`DummyMp::run`].
///
/// ```
/// # dummymp::init();
/// fn add((a, b): (u32, u32)) -> u32 {
///     a + b
/// }
/// dummymp::set_priority_mode(dummymp::Priority::Nuclear);
/// dummymp::run(add, (2, 3))?;
/// dummymp::process_until_done()?;
/// assert_eq!(dummymp::get_returns::<u32>()[&0], 5);
/// dummymp::reset();
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn run<A, R>(function: fn(A) -> R, args: A) -> Result<TaskHandle<R>, Error>
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    default_instance().run(function, args)
}

/// Relays, reaps and starts without blocking; `true` when everything is
/// done. See [`DummyMp::process_process`].
pub fn process_process() -> Result<bool, Error> {
    default_instance().process_process()
}

/// Relays the messages that arrived. See [`DummyMp::process_queue`].
pub fn process_queue() -> Result<(), Error> {
    default_instance().process_queue()
}

/// Blocks until every queued task has ended. See
/// [`DummyMp::process_until_done`].
pub fn process_until_done() -> Result<(), Error> {
    default_instance().process_until_done()
}

/// The values returned so far by tasks returning `R`, by call index. See
/// [`DummyMp::returns`].
pub fn get_returns<R: Clone + 'static>() -> BTreeMap<usize, R> {
    default_instance().returns()
}

/// Caps the number of tasks running at once (0: no cap).
pub fn set_max_processes(max_processes: usize) {
    default_instance().set_max_processes(max_processes);
}

/// The process cap (0: none).
pub fn get_max_processes() -> usize {
    default_instance().max_processes()
}

/// Sets the priority mode.
pub fn set_priority_mode(priority: Priority) {
    default_instance().set_priority_mode(priority);
}

/// The priority mode.
pub fn get_priority_mode() -> Priority {
    default_instance().priority_mode()
}

/// CPUs available under the priority mode; may block for one sampling
/// interval. See [`DummyMp::cpu_avail`].
pub fn get_cpu_avail() -> usize {
    default_instance().cpu_avail()
}

/// CPUs on the machine. See [`crate::usable_cpus`] for those this process
/// may use.
pub fn get_total_cpus() -> usize {
    crate::total_cpus()
}

/// Calls `callback` with `(completed, running, total)` when a task starts.
pub fn set_start_callback(callback: impl FnMut(Progress) + Send + 'static) {
    default_instance().set_start_callback(callback);
}

/// Calls `callback` with `(completed, running, total)` when a task ends.
pub fn set_end_callback(callback: impl FnMut(Progress) + Send + 'static) {
    default_instance().set_end_callback(callback);
}

/// Kills every running task, keeping the returns already received. See
/// [`DummyMp::killall`].
pub fn killall() {
    default_instance().killall();
}

/// Kills every running task and returns to the default state. See
/// [`DummyMp::reset`].
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
