//! Workers written in another language: the Python package's worker
//! process serves its calls through [`serve`], with the same protocol,
//! output capture, log relay and parent watch as a Rust worker.
//!
//! A foreign task is queued in the parent with
//! [`TaskSpec::foreign`](crate::engine::TaskSpec::foreign): it names the
//! worker program to start and carries an opaque payload (the Python
//! package sends the pickled function and arguments). In the worker, the
//! binding calls [`serve`] first thing, before anything can print, and
//! hands it the function that turns a payload into a [`ForeignResult`].
//! Log records the binding emits through the `log` facade reach the
//! parent's logger like a Rust task's.
//!
//! A foreign worker may also be a copy of the parent itself, made when its
//! task starts ([`ForeignWorker::forked`](crate::engine::ForeignWorker::forked)):
//! the front end says how its process is copied with a [`ForkHost`], and
//! the copy serves its task through [`serve_forked`].

use crate::protocol::TaskResult;
pub use crate::task::{ForkHost, ForkedLink};

/// One call a foreign worker is asked to run.
#[derive(Debug, Clone, Copy)]
pub struct ForeignCall<'a> {
    /// The task's id in the parent.
    pub task: u64,
    /// The name the parent gave the task.
    pub name: &'a str,
    /// The payload the parent queued.
    pub payload: &'a [u8],
}

/// How a foreign call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignResult {
    /// It returned this (encoded) value.
    Returned(Vec<u8>),
    /// It raised an exception.
    Raised {
        /// The exception's type, such as `ValueError`.
        exception: String,
        /// Its message.
        message: String,
        /// Its traceback, as the language prints it.
        traceback: String,
    },
    /// It could not be run (the payload could not be decoded, say).
    Failed(String),
}

/// Turns this process into a worker that serves its parent's calls with
/// `handler`, and exits when the parent closes the link (or after the one
/// call a fresh worker is started for). Call it before anything can write
/// to standard output: from then on standard output and error are captured
/// and relayed, and standard input is `/dev/null`.
///
/// ```no_run
/// use dummymp::foreign::{ForeignCall, ForeignResult, serve};
/// // The worker program's first line: each payload comes back reversed.
/// serve(|call: &ForeignCall<'_>| {
///     let mut bytes = call.payload.to_vec();
///     bytes.reverse();
///     ForeignResult::Returned(bytes)
/// })
/// ```
pub fn serve(mut handler: impl FnMut(&ForeignCall<'_>) -> ForeignResult) -> ! {
    let link = crate::role::claim_parent_link();
    std::process::exit(crate::worker::serve(
        link,
        Some(&mut task_result(&mut handler)),
    ))
}

/// In a copy of the parent made for a task (see [`ForkHost::serve`]):
/// serves the parent's calls over `link` with `handler`, as [`serve`]
/// does, and returns the exit code the copy ends with (after the one call
/// it was made for, or once the parent closes the link of a reused
/// worker). From the first call on, standard output and error are captured
/// and relayed, standard input is `/dev/null`, and the `log` records of
/// this process go to the parent (see [`forward_log`]). Rust's own
/// `std::io::stdout()` and `stderr()` are not touched (their buffers hold
/// the parent's output, and a thread of the parent may have held their
/// locks at the fork): a task that prints through them flushes them
/// itself.
///
/// ```
/// # dummymp::init();
/// use std::sync::Arc;
/// use dummymp::engine::ForeignWorker;
/// use dummymp::foreign::{self, ForeignResult, ForkHost, ForkedLink};
/// struct Echo;
/// impl ForkHost for Echo {
///     fn prepare(&self) {}
///     fn resume(&self) {}
///     fn serve(&self, link: ForkedLink) -> i32 {
///         foreign::serve_forked(link, |call| ForeignResult::Returned(call.payload.to_vec()))
///     }
/// }
/// use dummymp::engine::TaskSpec;
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_priority_mode(dummymp::Priority::Nuclear);
/// let task = mp.run_spec(TaskSpec::foreign(ForeignWorker::forked(Arc::new(Echo)), vec![7], "echo"));
/// mp.process_until_done()?;
/// assert_eq!(mp.report(task).unwrap().returned_bytes(), Some(&[7u8][..]));
/// # Ok::<(), dummymp::Error>(())
/// ```
pub fn serve_forked(
    link: ForkedLink,
    mut handler: impl FnMut(&ForeignCall<'_>) -> ForeignResult,
) -> i32 {
    let link = crate::worker::ParentLink {
        input: link.input,
        output: link.output,
    };
    crate::worker::serve_copy(link, &mut task_result(&mut handler))
}

/// Sends `record` to the parent when this process is a worker serving
/// calls (the parent logs it prefixed `[PID n] `), and says whether this
/// process is one. A front end whose own `log` logger was installed before the
/// process became a worker (the copy of a parent that logs somewhere
/// else) sends its records through here.
///
/// ```
/// let record = log::Record::builder().args(format_args!("hello")).build();
/// assert!(!dummymp::foreign::forward_log(&record), "not a worker");
/// ```
pub fn forward_log(record: &log::Record<'_>) -> bool {
    crate::worker::forward_log(record)
}

/// `handler`, answering with the protocol's results.
fn task_result(
    handler: &mut impl FnMut(&ForeignCall<'_>) -> ForeignResult,
) -> impl FnMut(u64, &str, &[u8]) -> TaskResult + '_ {
    move |task: u64, name: &str, payload: &[u8]| match handler(&ForeignCall {
        task,
        name,
        payload,
    }) {
        ForeignResult::Returned(bytes) => TaskResult::Returned(bytes),
        ForeignResult::Raised {
            exception,
            message,
            traceback,
        } => TaskResult::Raised {
            exception,
            message,
            traceback,
        },
        ForeignResult::Failed(reason) => TaskResult::Failed(reason),
    }
}
