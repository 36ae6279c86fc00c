//! The module-level settings that go with the original's API: the same
//! settings as [`DummyMp`](crate::DummyMp)'s, on the process-wide default
//! instance, each named `set_x`/`get_x` as in the original.

use std::time::Duration;

use super::global::default_instance;
use crate::launch::Launcher;
use crate::task::{OutputMode, TaskOptions};

/// Sets where task output lines go; see [`DummyMp::set_output_mode`](crate::DummyMp::set_output_mode).
///
/// ```
/// dummymp::set_output_mode(dummymp::OutputMode::Untagged);
/// assert_eq!(dummymp::get_output_mode(), dummymp::OutputMode::Untagged);
/// ```
pub fn set_output_mode(mode: OutputMode) {
    default_instance().set_output_mode(mode);
}

/// The output mode ([`OutputMode::Tagged`] unless set).
///
/// ```
/// assert_eq!(dummymp::get_output_mode(), dummymp::OutputMode::Tagged);
/// ```
pub fn get_output_mode() -> OutputMode {
    default_instance().output_mode()
}

/// Sets how long tasks get between `SIGTERM` and `SIGKILL` when they are
/// ended; see [`DummyMp::set_kill_grace`](crate::DummyMp::set_kill_grace).
///
/// ```
/// use std::time::Duration;
/// dummymp::set_kill_grace(Duration::from_millis(250));
/// assert_eq!(dummymp::get_kill_grace(), Duration::from_millis(250));
/// ```
pub fn set_kill_grace(grace: Duration) {
    default_instance().set_kill_grace(grace);
}

/// The kill grace period ([`DEFAULT_KILL_GRACE`](crate::DEFAULT_KILL_GRACE)
/// unless set).
///
/// ```
/// assert_eq!(dummymp::get_kill_grace(), dummymp::DEFAULT_KILL_GRACE);
/// ```
pub fn get_kill_grace() -> Duration {
    default_instance().kill_grace()
}

/// Runs tasks `increment` nicer than this process; see
/// [`DummyMp::set_nice`](crate::DummyMp::set_nice).
///
/// ```
/// dummymp::set_nice(Some(100));
/// assert_eq!(dummymp::get_nice(), Some(19));
/// ```
pub fn set_nice(increment: Option<i32>) {
    default_instance().set_nice(increment);
}

/// The niceness tasks start at (`None`: this process's own).
///
/// ```
/// assert_eq!(dummymp::get_nice(), None);
/// ```
pub fn get_nice() -> Option<i32> {
    default_instance().nice()
}

/// Starts tasks at least `delay` apart; see
/// [`DummyMp::set_start_delay`](crate::DummyMp::set_start_delay).
///
/// ```
/// use std::time::Duration;
/// dummymp::set_start_delay(Some(Duration::from_millis(10)));
/// assert_eq!(dummymp::get_start_delay(), Some(Duration::from_millis(10)));
/// ```
pub fn set_start_delay(delay: Option<Duration>) {
    default_instance().set_start_delay(delay);
}

/// The least time between two starts (`None` unless set).
///
/// ```
/// assert_eq!(dummymp::get_start_delay(), None);
/// ```
pub fn get_start_delay() -> Option<Duration> {
    default_instance().start_delay()
}

/// States how much memory each task needs, in bytes; see
/// [`DummyMp::set_memory_per_task`](crate::DummyMp::set_memory_per_task).
///
/// ```
/// dummymp::set_memory_per_task(Some(1 << 30));
/// assert_eq!(dummymp::get_memory_per_task(), Some(1 << 30));
/// ```
pub fn set_memory_per_task(bytes: Option<u64>) {
    default_instance().set_memory_per_task(bytes);
}

/// The memory each task is said to need (`None`: learned).
///
/// ```
/// assert_eq!(dummymp::get_memory_per_task(), None);
/// ```
pub fn get_memory_per_task() -> Option<u64> {
    default_instance().memory_per_task()
}

/// Sets the options of tasks queued without options of their own (a
/// timeout, retries); see
/// [`DummyMp::set_task_options`](crate::DummyMp::set_task_options).
///
/// ```
/// let options = dummymp::TaskOptions::new().retries(2);
/// dummymp::set_task_options(options.clone());
/// assert_eq!(dummymp::get_task_options(), options);
/// ```
pub fn set_task_options(options: TaskOptions) {
    default_instance().set_task_options(options);
}

/// The options of tasks queued without options of their own.
///
/// ```
/// assert_eq!(dummymp::get_task_options(), dummymp::TaskOptions::default());
/// ```
pub fn get_task_options() -> TaskOptions {
    default_instance().task_options().clone()
}

/// Runs task after task in each worker, or each task in a fresh one; see
/// [`DummyMp::set_reuse_workers`](crate::DummyMp::set_reuse_workers).
///
/// ```
/// dummymp::set_reuse_workers(true);
/// assert!(dummymp::get_reuse_workers());
/// ```
pub fn set_reuse_workers(reuse: bool) {
    default_instance().set_reuse_workers(reuse);
}

/// Whether workers are reused (`false` unless set).
///
/// ```
/// assert!(!dummymp::get_reuse_workers());
/// ```
pub fn get_reuse_workers() -> bool {
    default_instance().reuse_workers()
}

/// Sets where tasks start; see
/// [`DummyMp::set_launcher`](crate::DummyMp::set_launcher).
///
/// ```
/// dummymp::set_launcher(dummymp::Launcher::Local);
/// assert_eq!(dummymp::get_launcher(), dummymp::Launcher::Local);
/// ```
pub fn set_launcher(launcher: Launcher) {
    default_instance().set_launcher(launcher);
}

/// Where tasks start ([`Launcher::Local`] unless set).
///
/// ```
/// assert_eq!(dummymp::get_launcher(), dummymp::Launcher::Local);
/// ```
pub fn get_launcher() -> Launcher {
    default_instance().launcher().clone()
}
