//! A task whose process runs: reading what it sends (protocol messages
//! from a worker, output from a command), routing its output, and telling
//! how it ended.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use crate::encoded::{Encoded, Pieces};
use crate::launch::ProcessHandle;
use crate::lines::LineBuffer;
use crate::platform;
use crate::protocol::{Frame, FrameBuffer, TaskResult, WorkerMessage, returned_value};
use crate::relay::{self, Captured};
use crate::task::{Outcome, ProcessExit};
use crate::task::{OutputMode, Stream, TaskId};

use super::ending::{EndReason, Ending};
use super::events::{Event, EventSink};
use super::queue::Queued;
use crate::task::{OutputRoute, TaskSpec};

/// How much is read from one descriptor before other events get a turn.
const READ_BUDGET: usize = 1 << 20;

/// The size of one read.
const CHUNK: usize = 64 * 1024;

/// A running task.
pub(crate) struct RunningTask {
    pub id: TaskId,
    pub spec: TaskSpec,
    pub attempt: u32,
    pub slot: usize,
    pub process: ProcessHandle,
    pub started: Instant,
    pub started_wall: SystemTime,
    /// When it runs past its timeout.
    pub deadline: Option<Instant>,
    /// Set once we are ending it.
    pub ending: Option<Ending>,
    pub reader: Reader,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Set by the last wait: its descriptors have something to read.
    pub io_ready: bool,
    /// Set by the last wait: its process has exited.
    pub exit_ready: bool,
    /// Bytes received from it so far.
    pub received: u64,
    /// Whether it runs at the yielding niceness.
    pub reniced: bool,
    /// Why it is paused, if it is, and since when.
    pub pauses: super::pause_causes::Pauses,
    /// The kind of its worker, when the worker is reused after the task.
    pub worker_kind: Option<super::pool::WorkerKind>,
    /// Tasks sent to this worker ahead, to run after this one (see
    /// `ahead`), in order.
    pub ahead: VecDeque<Queued>,
    /// How long the worker's last task took, from its start as we saw it
    /// to its result (`None` before one of its tasks that did not include
    /// starting the worker has ended).
    pub pace: Option<Duration>,
    /// Set when a task sent to it ahead was killed: the worker ends as
    /// soon as the tasks before that one have.
    pub retire: bool,
    /// Whether this task started its worker (so that its runtime includes
    /// the worker's start).
    pub fresh: bool,
}

/// The part of a [`RunningTask`] that belongs to the task rather than to
/// its worker: what is left to report once the worker went on to the next
/// task (see [`RunningTask::begin_next`]).
pub(crate) struct EndedTask {
    pub id: TaskId,
    pub spec: TaskSpec,
    pub attempt: u32,
    pub started_wall: SystemTime,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// How a worker's message stream broke.
#[derive(Debug)]
pub(crate) struct StreamBreak {
    /// What was wrong, for the task's outcome.
    pub reason: String,
    /// Whether it broke at its end (the worker closed it): otherwise we
    /// stopped reading while the worker may still write.
    pub at_end: bool,
}

/// What a task sends us, and how far it has been read.
pub(crate) enum Reader {
    /// A worker's message stream.
    Worker {
        frames: FrameBuffer,
        open: bool,
        /// The result, with a returned value as it arrived.
        result: Option<TaskResult<Encoded>>,
        stream_error: Option<StreamBreak>,
    },
    /// A command's standard output and error.
    Command {
        stdout_open: bool,
        stderr_open: bool,
        lines: [LineBuffer; 2],
    },
}

impl Reader {
    /// What was received of a worker's stream and not read yet.
    pub(crate) fn into_frames(self) -> FrameBuffer {
        match self {
            Reader::Worker { frames, .. } => frames,
            Reader::Command { .. } => FrameBuffer::default(),
        }
    }

    /// A worker's message stream, from what was already received of it.
    pub(crate) fn worker(frames: FrameBuffer) -> Reader {
        Reader::Worker {
            frames,
            open: true,
            result: None,
            stream_error: None,
        }
    }

    pub(crate) fn command() -> Reader {
        Reader::Command {
            stdout_open: true,
            stderr_open: true,
            lines: [LineBuffer::default(), LineBuffer::default()],
        }
    }
}

/// Where output goes, borrowed from a running task for one read.
struct OutputSink<'a, S: EventSink + ?Sized> {
    id: TaskId,
    pid: u32,
    route: OutputRoute,
    stdout: &'a mut Vec<u8>,
    stderr: &'a mut Vec<u8>,
    events: &'a mut S,
}

impl<S: EventSink + ?Sized> OutputSink<'_, S> {
    /// Passes on whole lines (or a last piece) of `stream`.
    fn lines(&mut self, stream: Stream, data: &[u8]) {
        match self.route {
            OutputRoute::Events => self.events.event(Event::Output {
                id: self.id,
                stream,
                data,
            }),
            OutputRoute::Relay(mode) => relay::relay_output(
                self.pid,
                stream,
                data,
                mode,
                Captured {
                    stdout: &mut *self.stdout,
                    stderr: &mut *self.stderr,
                },
            ),
        }
    }
}

impl RunningTask {
    /// The process id (and process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.process.pid
    }

    /// The descriptors worth polling for output.
    pub(crate) fn output_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        let (out, err) = match &self.reader {
            Reader::Worker { open, .. } => (*open, false),
            Reader::Command {
                stdout_open,
                stderr_open,
                ..
            } => (*stdout_open, *stderr_open),
        };
        let stdout = out.then(|| self.process.stdout.as_fd());
        let stderr = self
            .process
            .stderr
            .as_ref()
            .filter(|_| err)
            .map(|fd| fd.as_fd());
        stdout.into_iter().chain(stderr)
    }

    /// Reads what has arrived, without blocking, and passes it on. A
    /// reused worker's messages are read up to the task's result and no
    /// further: what follows belongs to the next task it runs (see
    /// [`RunningTask::begin_next`]).
    pub(crate) fn read(&mut self, events: &mut (impl EventSink + ?Sized)) {
        self.read_with(events, self.worker_kind.is_some(), true);
    }

    /// Reads what was received from a reused worker and not read yet, up
    /// to the task's result, without reading the pipe again (what is left
    /// in it makes the next wait return at once).
    pub(crate) fn read_received(&mut self, events: &mut (impl EventSink + ?Sized)) {
        self.read_with(events, true, false);
    }

    /// [`RunningTask::read`], stopping after a worker's result when
    /// `stop_at_result`, and reading the pipe only when `from_pipe`. What
    /// a reused worker sends after the result is not this task's: output
    /// after it is dropped, log records relayed.
    fn read_with(
        &mut self,
        events: &mut (impl EventSink + ?Sized),
        stop_at_result: bool,
        from_pipe: bool,
    ) {
        let reused = self.worker_kind.is_some();
        let mut sink = OutputSink {
            id: self.id,
            pid: self.process.pid,
            route: self.spec.output,
            stdout: &mut self.stdout,
            stderr: &mut self.stderr,
            events,
        };
        match &mut self.reader {
            Reader::Worker {
                frames,
                open,
                result,
                stream_error,
            } => {
                // A broken stream is read no further: what follows the
                // break cannot be trusted.
                if stream_error.is_some() {
                    return;
                }
                if let Err(error) = read_messages(
                    &self.process.stdout,
                    frames,
                    open,
                    &mut self.received,
                    (stop_at_result, from_pipe),
                    |m| match m {
                        Incoming::Message(WorkerMessage::Log(record)) => {
                            relay::relay_log(sink.pid, &record)
                        }
                        Incoming::Message(WorkerMessage::Output { stream, data }) => {
                            if !(reused && result.is_some()) {
                                sink.lines(stream, &data)
                            }
                        }
                        Incoming::Message(WorkerMessage::Finished(r)) => {
                            result.get_or_insert(r.map_returned(Encoded::Whole));
                        }
                        Incoming::Returned(pieces) => {
                            result.get_or_insert(TaskResult::Returned(Encoded::Pieces(pieces)));
                        }
                    },
                ) {
                    stream_error.get_or_insert(error);
                }
            }
            Reader::Command {
                stdout_open,
                stderr_open,
                lines,
            } => {
                let [out_lines, err_lines] = lines;
                if *stdout_open {
                    *stdout_open = read_output(
                        &self.process.stdout,
                        Stream::Stdout,
                        out_lines,
                        &mut sink,
                        &mut self.received,
                    );
                }
                if let Some(stderr) = &self.process.stderr
                    && *stderr_open
                {
                    *stderr_open = read_output(
                        stderr,
                        Stream::Stderr,
                        err_lines,
                        &mut sink,
                        &mut self.received,
                    );
                }
            }
        }
    }

    /// After the process exited: reads what is left (without waiting for
    /// processes it left behind to close the pipes) and passes on a last
    /// unfinished line.
    pub(crate) fn read_last(&mut self, events: &mut (impl EventSink + ?Sized)) {
        self.read_with(events, false, true);
        if let Reader::Command {
            stdout_open,
            stderr_open,
            lines,
        } = &mut self.reader
        {
            *stdout_open = false;
            *stderr_open = false;
            let mut sink = OutputSink {
                id: self.id,
                pid: self.process.pid,
                route: self.spec.output,
                stdout: &mut self.stdout,
                stderr: &mut self.stderr,
                events,
            };
            for (stream, buffer) in [Stream::Stdout, Stream::Stderr].into_iter().zip(lines) {
                buffer.flush(|data| sink.lines(stream, &data));
            }
        }
        if let Reader::Worker { open, .. } = &mut self.reader {
            *open = false;
        }
    }

    /// How the task ended, from what it sent, how its process exited and
    /// whether we ended it; and the encoded value a function returned.
    pub(crate) fn outcome(&mut self, exit: Option<ProcessExit>) -> (Outcome, Option<Encoded>) {
        let ended_by_us = self.ending.as_ref().map(|e| e.reason);
        match &mut self.reader {
            Reader::Worker {
                result,
                stream_error,
                ..
            } => match result.take() {
                Some(TaskResult::Returned(bytes)) => (Outcome::Returned, Some(bytes)),
                Some(TaskResult::Panicked { message, location }) => {
                    (Outcome::Panicked { message, location }, None)
                }
                Some(TaskResult::Failed(reason)) => (Outcome::Failed { reason }, None),
                Some(TaskResult::NotStarted { error, errno }) => {
                    (Outcome::FailedToStart { error, errno }, None)
                }
                Some(TaskResult::Raised {
                    exception,
                    message,
                    traceback,
                }) => (
                    Outcome::Raised {
                        exception,
                        message,
                        traceback,
                    },
                    None,
                ),
                None => match (ended_by_us, exit, stream_error.take()) {
                    (Some(EndReason::BrokenStream), _, Some(broken)) => (
                        Outcome::Failed {
                            reason: broken.reason,
                        },
                        None,
                    ),
                    (Some(reason), _, _) => (reason.outcome(), None),
                    (None, Some(ProcessExit::Signal(signal)), _) => {
                        (Outcome::Signaled { signal }, None)
                    }
                    (None, Some(ProcessExit::Code(_)), Some(broken)) => (
                        Outcome::Failed {
                            reason: broken.reason,
                        },
                        None,
                    ),
                    // However it exited, the function did not return.
                    (None, Some(ProcessExit::Code(code)), None) => {
                        (Outcome::ExitedEarly { code }, None)
                    }
                    (None, None, _) => (status_lost(), None),
                },
            },
            Reader::Command { .. } => match (ended_by_us, exit) {
                (Some(reason), _) => (reason.outcome(), None),
                (None, Some(ProcessExit::Code(code))) => (Outcome::Exited { code }, None),
                (None, Some(ProcessExit::Signal(signal))) => (Outcome::Signaled { signal }, None),
                (None, None) => (status_lost(), None),
            },
        }
    }

    /// Whether we stopped reading a worker's message stream (it broke)
    /// while the worker may still write to it: the task cannot report
    /// anything more, and has to be ended.
    pub(crate) fn stream_broken(&self) -> bool {
        matches!(
            self.reader,
            Reader::Worker {
                result: None,
                stream_error: Some(StreamBreak { at_end: false, .. }),
                ..
            }
        )
    }

    /// The worker goes on to `next`, a task sent to it ahead: its result
    /// for this task is in (and taken), and it reads the next request as
    /// soon as it has sent it, so `next` starts now as far as we can tell.
    /// Returns this task's part, to report; the worker (process, stream,
    /// slot, niceness, pause) stays.
    pub(crate) fn begin_next(&mut self, next: Queued, now: Instant) -> EndedTask {
        let deadline = next.spec.options.timeout.map(|timeout| now + timeout);
        // Paused since now, as far as the new task's timeout goes.
        self.pauses.restart_clock(now);
        self.deadline = deadline;
        self.fresh = false;
        self.started = now;
        EndedTask {
            id: std::mem::replace(&mut self.id, next.id),
            spec: std::mem::replace(&mut self.spec, next.spec),
            attempt: std::mem::replace(&mut self.attempt, next.attempt),
            started_wall: std::mem::replace(&mut self.started_wall, SystemTime::now()),
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
        }
    }

    /// Whether the worker has sent a result that lets it go on to another
    /// task (not a refusal to set itself up, after which it exits).
    pub(crate) fn has_task_result(&self) -> bool {
        self.has_result() && self.worker_not_started().is_none()
    }

    /// Whether a worker has sent the task's result.
    pub(crate) fn has_result(&self) -> bool {
        matches!(
            self.reader,
            Reader::Worker {
                result: Some(_),
                ..
            }
        )
    }

    /// Whether the worker said it could not set itself up (a refusal that
    /// may pass, handled like a refused start).
    pub(crate) fn worker_not_started(&self) -> Option<(&str, Option<i32>)> {
        match &self.reader {
            Reader::Worker {
                result: Some(TaskResult::NotStarted { error, errno }),
                ..
            } => Some((error, *errno)),
            _ => None,
        }
    }
}

fn status_lost() -> Outcome {
    Outcome::Failed {
        reason: "its exit status was lost (is SIGCHLD ignored, or did somebody else reap it?)"
            .to_string(),
    }
}

/// What a worker's frame holds.
enum Incoming {
    Message(WorkerMessage),
    /// A big returned value, left in the pieces it came in.
    Returned(Pieces),
}

/// Reads the messages of a worker that have arrived, without blocking,
/// handing each to `on_message`; with `stop_at_result`, up to the first
/// result: the frames after it stay in `frames` for the next task. Reads
/// the pipe only when `from_pipe` (else only what is in `frames`). Returns
/// an error message when the stream is broken (and then stops reading it).
fn read_messages(
    pipe: &OwnedFd,
    frames: &mut FrameBuffer,
    open: &mut bool,
    received: &mut u64,
    (stop_at_result, from_pipe): (bool, bool),
    mut on_message: impl FnMut(Incoming),
) -> Result<(), StreamBreak> {
    let broke = |reason: String| StreamBreak {
        reason,
        at_end: false,
    };
    let mut budget = READ_BUDGET;
    loop {
        // What is in already comes first.
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    *open = false;
                    return Err(broke(broken_stream(&e)));
                }
            };
            let message = match frame {
                Frame::Small(bytes) => postcard::from_bytes::<WorkerMessage>(bytes),
                Frame::Large(pieces) => match returned_value(pieces) {
                    Ok(value) => {
                        on_message(Incoming::Returned(value));
                        if stop_at_result {
                            return Ok(());
                        }
                        continue;
                    }
                    Err(pieces) => {
                        postcard::from_bytes::<WorkerMessage>(&Encoded::Pieces(pieces).into_vec())
                    }
                },
            };
            match message {
                Ok(message) => {
                    let finished = matches!(message, WorkerMessage::Finished(_));
                    on_message(Incoming::Message(message));
                    if finished && stop_at_result {
                        return Ok(());
                    }
                }
                Err(e) => {
                    *open = false;
                    return Err(broke(format!("the worker sent an unreadable message: {e}")));
                }
            }
        }
        if !*open || !from_pipe || budget == 0 {
            return Ok(());
        }
        let (n, at_end) = match frames.read_from(pipe, CHUNK) {
            Ok(Some(0)) => (0, true),
            Ok(Some(n)) => (n, false),
            Ok(None) => return Ok(()),
            Err(e) => {
                *open = false;
                return Err(broke(format!("reading from the worker failed: {e}")));
            }
        };
        *received += n as u64;
        budget = budget.saturating_sub(n);
        if at_end {
            *open = false;
            if frames.has_partial() {
                return Err(StreamBreak {
                    reason: "the worker's last message was cut short".to_string(),
                    at_end: true,
                });
            }
        } else if frames.drained() {
            // The pipe held no more: read what came, and leave the next
            // read to the next readiness (one system call less).
            budget = 0;
        }
    }
}

/// Says what a bad frame means: usually, something other than a worker
/// wrote to the stream.
fn broken_stream(error: &io::Error) -> String {
    format!(
        "the worker's message stream is broken ({error}): something other than a dummymp \
         worker wrote to it; does the program call dummymp::init() first in main (or use \
         enable_test_support! in tests)?"
    )
}

/// Reads what a command's pipe holds now and passes it on; false at end of
/// file (or when the pipe broke).
fn read_output<S: EventSink + ?Sized>(
    pipe: &OwnedFd,
    stream: Stream,
    lines: &mut LineBuffer,
    sink: &mut OutputSink<'_, S>,
    received: &mut u64,
) -> bool {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); CHUNK];
    let mut budget = READ_BUDGET;
    while budget > 0 {
        // Read into uninitialised memory: nothing is zeroed first.
        match platform::read_now(pipe, &mut buf) {
            Ok(Some([])) => return false,
            Ok(Some(data)) => {
                let data: &[u8] = data;
                budget = budget.saturating_sub(data.len());
                *received += data.len() as u64;
                match sink.route {
                    OutputRoute::Relay(OutputMode::Tagged | OutputMode::Untagged) => {
                        lines.push(data, |chunk| sink.lines(stream, &chunk));
                    }
                    OutputRoute::Relay(OutputMode::Captured) | OutputRoute::Events => {
                        sink.lines(stream, data)
                    }
                }
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    true
}
