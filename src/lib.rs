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
//!     println!("{:?}", mp.returns::<Option<u64>>()); // {0: Some(2), 1: None}
//!     mp.reset();
//!     Ok(())
//! }
//! ```
//!
//! # How a task runs
//!
//! A task runs in a worker: this same program, started again. [`init`]
//! must therefore be the **first line of `main`**: in a worker it runs the
//! task and exits without returning, so whatever comes before it runs again
//! in every worker (keep it free of side effects). In `cargo test`, where
//! the test harness owns `main`, put [`enable_test_support!`] in the test
//! crate instead.
//!
//! The parent and the worker talk only over the worker's standard input and
//! output. The function travels as its address within the executable, the
//! argument and the return value as [`serde`] data (encoded with postcard)
//! when [`run`] is called, so later changes to the caller's values do not
//! reach a queued call. A worker checks that it runs the same executable
//! build as its parent before it calls anything. It dies as soon as its
//! parent does (its standard input closes), taking its own children along.
//!
//! Every task ends with an [`Outcome`]: its value, a panic (message and
//! location), an early exit, the signal that killed it, killed by
//! [`killall`], or a worker that could not start or refused. Each task runs
//! in a process group of its own: when it ends, processes it started and
//! left behind in that group are killed (start a daemon with `setsid` to
//! keep it).
//!
//! # Where things are
//!
//! | what | module |
//! |---|---|
//! | a task's worker is spawned | `spawn` |
//! | the worker runs the task, captures its output | `worker` |
//! | CPU load of other processes is measured | `load` (and `platform::linux` for `/proc`) |
//! | how many tasks may start | [`Scheduler`] (`scheduler`) |
//! | a log record or output line is relayed | `relay` |
//! | usable CPUs: affinity, cgroup quotas | `cpus` |
//! | the queue and its control | [`DummyMp`] (`instance`) |

#![warn(missing_docs)]

mod callable;
mod command;
mod cpus;
pub mod engine;
mod error;
mod identity;
mod launch;
mod lines;
mod load;
mod options;
mod outcome;
mod platform;
mod priority;
mod protocol;
mod queue;
mod relay;
mod report;
mod scheduler;
mod task;
mod worker;

pub use command::{Command, SHELL};
pub use cpus::{CpuInfo, CpuSet, total_cpus, usable_cpus};
pub use engine::DEFAULT_KILL_GRACE;
pub use error::Error;
pub use launch::Launcher;
pub use load::{
    ForeignProcess, LoadMeasurement, LoadRule, MeasurementKind, OwnProcesses, ProcessScan,
    measure_foreign_load, measure_foreign_load_over, measure_foreign_load_with,
};
pub use options::TaskOptions;
pub use outcome::{Outcome, ProcessExit, signal_name};
pub use priority::Priority;
pub use queue::DummyMp;
pub use queue::global::{
    get_cpu_avail, get_max_processes, get_priority_mode, get_returns, get_total_cpus, get_version,
    killall, process_process, process_queue, process_until_done, reset, run, set_end_callback,
    set_max_processes, set_priority_mode, set_start_callback,
};
pub use report::{Progress, TaskReport};
pub use scheduler::Scheduler;
pub use scheduler::decision::{Decision, SlotLimit};
pub use scheduler::memory::{MemoryFit, MemoryStatus};
pub use scheduler::yielding::{CALM_MEASUREMENTS, RunningAdvice};
pub use task::{OutputMode, Stream, TaskHandle, TaskId};

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
    if worker::is_worker_invocation() {
        worker::run_and_exit();
    }
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
            #[ctor(unsafe, anonymous)]
            fn __dummymp_test_support() {
                $crate::init();
            }
        }
    };
}

#[doc(hidden)]
pub mod __private {
    pub use ctor;
}

/// Entry points for the fuzz targets in `fuzz/` (not an API: hidden, and
/// free to change).
#[doc(hidden)]
pub mod __fuzz {
    /// Feeds `data` through both of the protocol's decoders, as hostile
    /// bytes from a worker or a parent would arrive: the parent's frame
    /// buffer (`protocol::FrameBuffer`) in pieces of a size
    /// the first byte picks, each frame decoded as a worker message, and
    /// the worker's blocking frame reader, its frame decoded as a task
    /// request. Stops at the first broken frame, as the engine does.
    /// Returns how many messages decoded. Never panics, and allocates no
    /// more than a few times `data.len()`, whatever the frames claim.
    pub fn decode_protocol_bytes(data: &[u8]) -> usize {
        use crate::protocol::{FrameBuffer, TaskRequest, WorkerMessage, read_frame};
        let Some((&selector, stream)) = data.split_first() else {
            return 0;
        };
        let piece = usize::from(selector % 64) + 1;
        let mut frames = FrameBuffer::default();
        let mut decoded = 0;
        'stream: for chunk in stream.chunks(piece) {
            let room = frames.spare(chunk.len());
            room[..chunk.len()].copy_from_slice(chunk);
            frames.filled(chunk.len(), chunk.len());
            loop {
                match frames.next_frame() {
                    Ok(Some(frame)) => match postcard::from_bytes::<WorkerMessage>(frame) {
                        Ok(_) => decoded += 1,
                        Err(_) => break 'stream,
                    },
                    Ok(None) => break,
                    Err(_) => break 'stream,
                }
            }
        }
        let mut reader = stream;
        if let Ok(frame) = read_frame(&mut reader)
            && postcard::from_bytes::<TaskRequest>(&frame).is_ok()
        {
            decoded += 1;
        }
        decoded
    }

    /// A well-formed stream for [`decode_protocol_bytes`] (its selector
    /// byte first): one message of each kind a worker sends, then a task
    /// request. Seeds for the fuzzers.
    pub fn sample_protocol_bytes() -> Vec<u8> {
        use crate::protocol::{LogRecord, TaskResult, WorkerMessage, encode_frame};
        let messages = [
            WorkerMessage::Output {
                stream: crate::task::Stream::Stdout,
                data: b"a line\n".to_vec(),
            },
            WorkerMessage::Log(LogRecord {
                level: 3,
                target: "t".into(),
                module_path: Some("m".into()),
                file: Some("f.rs".into()),
                line: Some(1),
                message: "hello".into(),
            }),
            WorkerMessage::Finished(TaskResult::Returned(vec![1, 2, 3])),
            WorkerMessage::Finished(TaskResult::Panicked {
                message: "boom".into(),
                location: None,
            }),
            WorkerMessage::Finished(TaskResult::NotStarted {
                error: "EAGAIN".into(),
                errno: Some(11),
            }),
        ];
        let mut stream = vec![7u8];
        for message in &messages {
            stream.extend(encode_frame(message).unwrap_or_default());
        }
        stream
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
