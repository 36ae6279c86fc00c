//! The worker side: what a re-executed copy of the program does when
//! [`init`](crate::init) finds it was started as a worker (and what a
//! foreign worker, such as the Python package's, does through
//! [`foreign::serve`](crate::foreign::serve)).
//!
//! 1. It moves the links to its parent out of the way (standard input and
//!    output become private descriptors that children do not inherit), gives
//!    tasks `/dev/null` as standard input and pipes as standard output and
//!    error, so that nothing a task or its children print can corrupt the
//!    messages ([`capture`]).
//! 2. It reads a [`TaskRequest`], checks the protocol version, the identity
//!    of its code and the function's address, and refuses politely when any
//!    differs.
//! 3. It installs (once) a `log` logger that sends every record to the
//!    parent ([`logger`]) and a panic hook that keeps the panic's message and
//!    location.
//! 4. It calls the function, sends every line the task wrote and then the
//!    result. A fresh worker then exits; a reused one waits for the next
//!    request, and exits when its parent closes the link.
//!
//! While a task runs, the relay thread relays output lines and watches the
//! link to the parent: when it closes, the parent is gone, and the worker
//! kills its process group (itself and everything the task started) at
//! once.

mod capture;
mod logger;

pub(crate) use logger::forward_log;

use std::any::Any;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

use rustix::fs::{Mode, OFlags};

use crate::protocol::{
    self, PROTOCOL_VERSION, RequestedCall, TaskRequest, TaskResult, WorkerMessage,
};

/// A worker's two descriptors to its parent, when they were moved out of
/// the way before `main` (see [`role`](crate::role)).
pub(crate) struct ParentLink {
    /// Requests from the parent (the worker's original standard input).
    pub input: OwnedFd,
    /// Messages to the parent (the worker's original standard output).
    pub output: OwnedFd,
}

/// What runs a foreign call (see [`foreign`](crate::foreign)): given the
/// task's id, its name and the payload the parent queued.
pub(crate) type ForeignHandler<'a> = &'a mut dyn FnMut(u64, &str, &[u8]) -> TaskResult;

/// Serves requests until the parent closes the link (or, for a worker that
/// is not reused, after the first); returns the exit code. `link`: the
/// descriptors to the parent when they were moved already (else they are
/// standard input and output).
pub(crate) fn serve(link: Option<ParentLink>, foreign: Option<ForeignHandler<'_>>) -> i32 {
    serve_with(link, foreign, true)
}

/// [`serve`] in a copy of a parent made by `fork` when its task started
/// (see [`foreign::serve_forked`](crate::foreign::serve_forked)): Rust's
/// own standard streams are left alone. Their buffers hold the parent's
/// output, not the task's, and another thread of the parent may have held
/// their locks at the fork, which would then never be given back.
pub(crate) fn serve_copy(link: ParentLink, foreign: ForeignHandler<'_>) -> i32 {
    serve_with(Some(link), Some(foreign), false)
}

fn serve_with(
    link: Option<ParentLink>,
    mut foreign: Option<ForeignHandler<'_>>,
    flush_std: bool,
) -> i32 {
    let mut worker = match Worker::start(link) {
        Ok(worker) => worker,
        Err(error) => {
            // Standard error may still be the parent's; say why and give up.
            let _ = writeln!(
                io::stderr(),
                "dummymp worker {}: {error}",
                std::process::id()
            );
            return 3;
        }
    };
    let channel = worker.channel.clone();
    let mut relay: Option<capture::Relay> = None;
    loop {
        let request = match worker.read_request() {
            Ok(Some(request)) => request,
            // The parent closed the link between tasks: done.
            Ok(None) => return 0,
            Err(reason) => {
                channel.send(&WorkerMessage::Finished(TaskResult::Failed(reason)));
                return 4;
            }
        };
        if relay.is_none() {
            match worker.start_relay() {
                Ok(started) => relay = Some(started),
                // Typically EAGAIN under a process-count limit: may pass.
                Err(e) => {
                    channel.send(&WorkerMessage::Finished(TaskResult::NotStarted {
                        error: format!("cannot start the worker's output relay: {e}"),
                        errno: e.raw_os_error(),
                    }));
                    return 0;
                }
            }
        }
        let Some(relay) = &relay else { return 4 };
        logger::install(channel.clone(), request.log_level);
        if !relay.task_started() {
            // The parent went away while this request waited (sent ahead):
            // nobody wants its result.
            return 0;
        }
        let result = within_limit(execute(&request, &mut foreign));
        if flush_std {
            let _ = io::stdout().flush();
            let _ = io::stderr().flush();
        }
        relay.task_ended();
        if !channel.send_result(result) {
            return 4;
        }
        if !request.keep_alive {
            return 0;
        }
    }
}

/// The worker's half of the pipes to its parent.
#[derive(Clone)]
pub(crate) struct Channel {
    out: Arc<Mutex<File>>,
}

impl Channel {
    /// Sends one message; false when the parent no longer listens.
    pub(crate) fn send(&self, message: &WorkerMessage) -> bool {
        let Ok(frame) = protocol::encode_frame(message) else {
            return false;
        };
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        out.write_all(&frame).is_ok()
    }

    /// Sends a task's result in one write; a big returned value straight
    /// from where it is, not copied into a frame first.
    pub(crate) fn send_result(&self, result: TaskResult) -> bool {
        let TaskResult::Returned(value) = result else {
            return self.send(&WorkerMessage::Finished(result));
        };
        let Ok(mut head) = protocol::returned_frame_head(value.len()) else {
            return false;
        };
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if value.len() <= COPIED_VALUE {
            head.extend_from_slice(&value);
            return out.write_all(&head).is_ok();
        }
        out.write_all(&head).is_ok() && out.write_all(&value).is_ok()
    }
}

/// A returned value up to this size is copied after its frame's head, so
/// that the result goes in one write.
const COPIED_VALUE: usize = 16 * 1024;

/// `result`, unless it returns a value too big to send (a foreign call's;
/// a function's encoding already stops at the limit): then a failure that
/// says so.
fn within_limit(result: TaskResult) -> TaskResult {
    match result {
        TaskResult::Returned(value) if value.len() > crate::MESSAGE_LIMIT => {
            TaskResult::Failed(crate::encoded::too_large("the return value"))
        }
        other => other,
    }
}

/// Set once the channel exists, for the panic hook.
static CHANNEL: OnceLock<Channel> = OnceLock::new();
/// The thread that runs the tasks.
static TASK_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Message and location of the task thread's last panic.
static LAST_PANIC: Mutex<Option<(String, Option<String>)>> = Mutex::new(None);

struct Worker {
    channel: Channel,
    /// Requests come in here; shared with the relay thread, which watches
    /// it for the parent hanging up.
    input: Arc<OwnedFd>,
    /// What was read of it and not decoded yet: several requests may come
    /// in one read when the parent sends them ahead.
    requests: BufReader<LinkReader>,
    /// Until the relay thread takes it over.
    capture: Option<capture::Capture>,
}

impl Worker {
    /// Rearranges the standard descriptors.
    fn start(link: Option<ParentLink>) -> io::Result<Worker> {
        if let Some(argv0) = std::env::args_os().next() {
            let path = std::path::Path::new(&argv0);
            crate::platform::set_process_name(path.file_name().unwrap_or(path.as_os_str()));
        }
        let (input, output) = match link {
            Some(link) => (link.input, link.output),
            // The constructor could not move them: do it now.
            None => (
                rustix::io::fcntl_dupfd_cloexec(io::stdin(), 3)?,
                rustix::io::fcntl_dupfd_cloexec(io::stdout(), 3)?,
            ),
        };
        let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
        rustix::stdio::dup2_stdin(&null)?;
        let capture = capture::Capture::install()?;
        let channel = Channel {
            out: Arc::new(Mutex::new(File::from(output))),
        };
        let _ = CHANNEL.set(channel.clone());
        let _ = TASK_THREAD.set(std::thread::current().id());
        install_panic_hook();
        let input = Arc::new(input);
        Ok(Worker {
            channel,
            requests: BufReader::with_capacity(REQUEST_BUFFER, LinkReader(Arc::clone(&input))),
            input,
            capture: Some(capture),
        })
    }

    fn start_relay(&mut self) -> io::Result<capture::Relay> {
        let capture = self
            .capture
            .take()
            .ok_or_else(|| io::Error::other("the output relay was started twice"))?;
        capture.start(self.channel.clone(), Arc::clone(&self.input))
    }

    /// Reads and checks the next request; `None` when the parent closed the
    /// link instead.
    fn read_request(&mut self) -> Result<Option<TaskRequest>, String> {
        let frame = protocol::read_frame_or_end(&mut self.requests)
            .map_err(|e| format!("cannot read the task from the parent: {e}"))?;
        let Some(frame) = frame else {
            return Ok(None);
        };
        let request: TaskRequest = postcard::from_bytes(&frame).map_err(|e| {
            format!("the parent speaks another dummymp protocol (cannot decode the task: {e})")
        })?;
        if request.protocol != PROTOCOL_VERSION {
            return Err(format!(
                "the parent speaks dummymp protocol {} but this worker speaks {PROTOCOL_VERSION}",
                request.protocol
            ));
        }
        let own = crate::identity::current();
        if request.executable != own {
            return Err(format!(
                "this worker runs a different executable ({}) than its parent ({}): \
                 refusing to call `{}`",
                crate::identity::describe(own),
                crate::identity::describe(&request.executable),
                request.function_name
            ));
        }
        if let RequestedCall::Function {
            entry,
            function,
            seal,
        } = request.call
        {
            crate::callable::verify(own, entry, function, seal)?;
        }
        Ok(Some(request))
    }
}

/// How much of the link to the parent is read at a time.
const REQUEST_BUFFER: usize = 64 * 1024;

/// Reads the link to the parent.
struct LinkReader(Arc<OwnedFd>);

impl Read for LinkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match rustix::io::read(&*self.0, &mut *buf) {
                Err(rustix::io::Errno::INTR) => continue,
                other => return other.map_err(io::Error::from),
            }
        }
    }
}

/// Runs one checked request.
fn execute(request: &TaskRequest, foreign: &mut Option<ForeignHandler<'_>>) -> TaskResult {
    *LAST_PANIC.lock().unwrap_or_else(PoisonError::into_inner) = None;
    match (&request.call, foreign) {
        (
            RequestedCall::Function {
                entry, function, ..
            },
            _,
        ) => {
            let call = || {
                // SAFETY: the request's offsets come from
                // `callable::offsets_of` in the parent; `read_request`
                // checked that its executable identity is ours and that the
                // offsets were sealed for it and lead into our code.
                unsafe { crate::callable::call(*entry, *function, &request.args) }
            };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
                Ok(result) => result,
                Err(payload) => panic_result(payload),
            }
        }
        (RequestedCall::Payload, Some(handler)) => {
            let call = || handler(request.task_id, &request.function_name, &request.args);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
                Ok(result) => result,
                Err(payload) => panic_result(payload),
            }
        }
        (RequestedCall::Payload, None) => TaskResult::Failed(format!(
            "this worker serves no foreign calls: `{}` was sent to a dummymp worker of a Rust \
             program",
            request.function_name
        )),
    }
}

/// Keeps panics of the task thread for the result; other threads panic as
/// usual (the message goes to standard error, which is relayed).
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if TASK_THREAD.get() != Some(&std::thread::current().id()) {
            default_hook(info);
            return;
        }
        let message = payload_message(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        if cfg!(panic = "abort") {
            // No unwinding will bring us back: report now.
            if let Some(channel) = CHANNEL.get() {
                channel.send(&WorkerMessage::Finished(TaskResult::Panicked {
                    message: message.clone(),
                    location: location.clone(),
                }));
            }
        }
        *LAST_PANIC.lock().unwrap_or_else(PoisonError::into_inner) = Some((message, location));
    }));
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// The result for a task that panicked with `payload`.
fn panic_result(payload: Box<dyn Any + Send>) -> TaskResult {
    let recorded = LAST_PANIC
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let (message, location) = recorded.unwrap_or_else(|| (payload_message(&*payload), None));
    // Dropping a payload can itself panic; keep it out of our way.
    std::mem::forget(payload);
    TaskResult::Panicked { message, location }
}
