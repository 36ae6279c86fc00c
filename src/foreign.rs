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

use crate::protocol::TaskResult;

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
    let mut run = |task: u64, name: &str, payload: &[u8]| match handler(&ForeignCall {
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
    };
    let link = crate::role::claim_parent_link();
    std::process::exit(crate::worker::serve(link, Some(&mut run)))
}
