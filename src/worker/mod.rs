//! The worker side: what a re-executed copy of the program does when
//! [`init`](crate::init) finds it was started as a worker.
//!
//! 1. It moves the pipes to its parent out of the way (standard input and
//!    output become private descriptors that children do not inherit), gives
//!    the task `/dev/null` as standard input and pipes as standard output and
//!    error, so that nothing the task or its children print can corrupt the
//!    messages ([`capture`]).
//! 2. It reads the [`TaskRequest`], checks the protocol version and the
//!    executable identity, and refuses politely when either differs.
//! 3. It installs a `log` logger that sends every record to the parent
//!    ([`logger`]) and a panic hook that keeps the panic's message and
//!    location.
//! 4. It calls the function, sends the result and exits.
//!
//! While the task runs, the capture thread relays output lines and watches
//! standard input: when it closes, the parent is gone, and the worker kills
//! its process group (itself and everything the task started) at once.

mod capture;
pub(crate) mod invocation;
mod logger;

use std::any::Any;
use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

use rustix::fs::{Mode, OFlags};

use crate::protocol::{self, PROTOCOL_VERSION, TaskRequest, TaskResult, WorkerMessage};

pub(crate) use invocation::is_worker_invocation;

/// Runs the task this worker was started for, then exits.
pub(crate) fn run_and_exit() -> ! {
    let code = match Worker::start() {
        Ok(worker) => worker.run(),
        Err(error) => {
            // Standard error may still be the parent's; say why and give up.
            let _ = writeln!(
                io::stderr(),
                "dummymp worker {}: {error}",
                std::process::id()
            );
            3
        }
    };
    std::process::exit(code)
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
}

/// Set once the channel exists, for the panic hook.
static CHANNEL: OnceLock<Channel> = OnceLock::new();
/// The thread that runs the task.
static TASK_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Message and location of the task thread's last panic.
static LAST_PANIC: Mutex<Option<(String, Option<String>)>> = Mutex::new(None);

struct Worker {
    channel: Channel,
    input: File,
    capture: capture::Capture,
}

impl Worker {
    /// Rearranges the standard descriptors.
    fn start() -> io::Result<Worker> {
        if let Some(argv0) = std::env::args_os().next() {
            let path = std::path::Path::new(&argv0);
            crate::platform::set_process_name(path.file_name().unwrap_or(path.as_os_str()));
        }
        let (input, output) = match invocation::claim_parent_link() {
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
        Ok(Worker {
            channel,
            input: File::from(input),
            capture,
        })
    }

    /// Reads, checks and runs the request; returns the exit code.
    fn run(mut self) -> i32 {
        let channel = self.channel.clone();
        let result = match self.read_request() {
            Ok(request) => self.execute(request),
            Err(reason) => TaskResult::Failed(reason),
        };
        if channel.send(&WorkerMessage::Finished(result)) {
            0
        } else {
            4
        }
    }

    fn read_request(&mut self) -> Result<TaskRequest, String> {
        let frame = protocol::read_frame(&mut self.input)
            .map_err(|e| format!("cannot read the task from the parent: {e}"))?;
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
        crate::callable::verify(own, request.entry, request.function, request.seal)?;
        Ok(request)
    }

    /// Runs the checked request with output relayed and the parent watched.
    fn execute(self, request: TaskRequest) -> TaskResult {
        let relay = match self.capture.start(self.channel.clone(), self.input) {
            Ok(relay) => relay,
            // Typically EAGAIN under a process-count limit: may pass.
            Err(e) => {
                return TaskResult::NotStarted {
                    error: format!("cannot start the worker's output relay: {e}"),
                    errno: e.raw_os_error(),
                };
            }
        };
        logger::install(self.channel.clone(), request.log_level);
        let _ = TASK_THREAD.set(std::thread::current().id());
        install_panic_hook();
        // SAFETY: the request's offsets come from `callable::offsets_of` in
        // the parent, whose executable identity was just checked to be ours.
        let result =
            unsafe { crate::callable::call(request.entry, request.function, &request.args) };
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        relay.finish();
        result
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
pub(crate) fn panic_result(payload: Box<dyn Any + Send>) -> TaskResult {
    let recorded = LAST_PANIC
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let (message, location) = recorded.unwrap_or_else(|| (payload_message(&*payload), None));
    // Dropping a payload can itself panic; keep it out of our way.
    std::mem::forget(payload);
    TaskResult::Panicked { message, location }
}
