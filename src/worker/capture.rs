//! Capturing tasks' standard output and error inside the worker, and
//! watching the parent.
//!
//! The worker's descriptors 1 and 2 are pipes. A relay thread polls their
//! read ends and sends what arrives to the parent as whole lines (several
//! per message when they come together); a line longer than
//! `MAX_LINE_LEN` (`crate::lines`) is sent in pieces. When a task ends, the
//! worker's main thread [drains](Relay::drain) the pipes itself, under the
//! same lock, before it reports the task finished: every line a task wrote
//! reaches the parent before its result, and a reused worker never passes a
//! task's lines on as the next one's.
//!
//! A task that ends the worker itself (`std::process::exit`) skips that
//! step; a handler registered with `atexit` drains the pipes then, so the
//! lines it printed just before are not lost.
//!
//! The relay thread also watches the worker's link to its parent for a
//! hang-up (only that: requests arriving on it do not wake the thread).
//! The parent gone while a task runs means it died or gave up on the
//! worker, which then kills its whole process group: itself and everything
//! the task started. Between tasks the main thread, waiting for the next
//! request, sees the end of the link itself and exits quietly.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use rustix::pipe::PipeFlags;
use rustix::process::Signal;

use super::Channel;
use crate::lines::LineBuffer;
use crate::platform::{self, Interest};
use crate::protocol::WorkerMessage;
use crate::task::Stream;

/// The relay thread's stack: it only polls, reads and sends.
const RELAY_STACK_SIZE: usize = 256 * 1024;

/// The read ends of the pipes installed as descriptors 1 and 2.
pub(super) struct Capture {
    stdout: OwnedFd,
    stderr: OwnedFd,
}

impl Capture {
    /// Makes descriptors 1 and 2 pipes to this process.
    pub(super) fn install() -> io::Result<Capture> {
        let (out_read, out_write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let (err_read, err_write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        rustix::stdio::dup2_stdout(&out_write)?;
        rustix::stdio::dup2_stderr(&err_write)?;
        rustix::io::ioctl_fionbio(&out_read, true)?;
        rustix::io::ioctl_fionbio(&err_read, true)?;
        Ok(Capture {
            stdout: out_read,
            stderr: err_read,
        })
    }

    /// Starts relaying, and watching `parent` (the worker's link to its
    /// parent) for a hang-up while a task runs.
    pub(super) fn start(self, channel: Channel, parent: Arc<OwnedFd>) -> io::Result<Relay> {
        let (stop_read, stop_write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let (stdout, stderr) = (Arc::new(self.stdout), Arc::new(self.stderr));
        let pipes = [Arc::clone(&stdout), Arc::clone(&stderr)];
        let streams = Arc::new(Mutex::new(Streams {
            stdout: Pump::new(stdout, Stream::Stdout),
            stderr: Pump::new(stderr, Stream::Stderr),
            buf: vec![0u8; 64 * 1024],
        }));
        let busy = Arc::new(AtomicBool::new(false));
        let hung_up = Arc::new(AtomicBool::new(false));
        drain_at_exit(&streams, &channel);
        let thread = {
            let (streams, busy, channel) =
                (Arc::clone(&streams), Arc::clone(&busy), channel.clone());
            let hung_up = Arc::clone(&hung_up);
            std::thread::Builder::new()
                .name("dummymp-relay".into())
                .stack_size(RELAY_STACK_SIZE)
                .spawn(move || {
                    let link = Link {
                        fd: &parent,
                        busy: &busy,
                        hung_up: &hung_up,
                    };
                    relay(&streams, &pipes, &channel, link, &stop_read)
                })?
        };
        Ok(Relay {
            streams,
            busy,
            channel,
            hung_up: Arc::clone(&hung_up),
            stop: stop_write,
            thread: Some(thread),
        })
    }
}

/// One captured stream: its pipe and its unfinished line.
struct Pump {
    pipe: Arc<OwnedFd>,
    stream: Stream,
    lines: LineBuffer,
    open: bool,
}

impl Pump {
    fn new(pipe: Arc<OwnedFd>, stream: Stream) -> Pump {
        Pump {
            pipe,
            stream,
            lines: LineBuffer::default(),
            open: true,
        }
    }

    /// Sends every whole line the pipe holds now (without blocking).
    fn pump(&mut self, buf: &mut [u8], channel: &Channel) {
        while self.open {
            match rustix::io::read(&*self.pipe, &mut *buf) {
                Ok(0) => self.open = false,
                Ok(n) => {
                    let stream = self.stream;
                    self.lines
                        .push(&buf[..n], |data| send(channel, stream, data));
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => self.open = false,
            }
        }
    }

    /// Sends an unfinished last line as it is.
    fn flush(&mut self, channel: &Channel) {
        let stream = self.stream;
        self.lines.flush(|data| send(channel, stream, data));
    }
}

fn send(channel: &Channel, stream: Stream, data: Vec<u8>) {
    channel.send(&WorkerMessage::Output { stream, data });
}

/// The two captured streams, shared by the relay thread and the main
/// thread.
struct Streams {
    stdout: Pump,
    stderr: Pump,
    buf: Vec<u8>,
}

impl Streams {
    /// Sends every line the pipes hold now, and then unfinished last lines
    /// as they are.
    fn drain(&mut self, channel: &Channel) {
        let Streams {
            stdout,
            stderr,
            buf,
        } = self;
        for pump in [stdout, stderr] {
            pump.pump(buf, channel);
            pump.flush(channel);
        }
    }
}

/// The running relay thread.
pub(super) struct Relay {
    streams: Arc<Mutex<Streams>>,
    busy: Arc<AtomicBool>,
    channel: Channel,
    /// Set by the relay thread when the link to the parent hung up.
    hung_up: Arc<AtomicBool>,
    stop: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// A task starts: from now on the parent hanging up kills the worker.
    /// A parent that hung up already (after sending the request, before
    /// the task started: the relay thread then took it for the end
    /// between two tasks and stopped watching) kills it now. (Each side
    /// sets its flag before it reads the other's: one of the two sees
    /// both.)
    pub(super) fn task_started(&self) {
        self.busy.store(true, Ordering::SeqCst);
        if self.hung_up.load(Ordering::SeqCst) {
            parent_gone();
        }
    }

    /// A task has ended (and flushed its buffered output): sends every
    /// line it wrote, its unfinished last line too, before the caller
    /// reports its result.
    pub(super) fn task_ended(&self) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(&self.channel);
        self.busy.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = rustix::io::write(&self.stop, &[1]);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the exit handler drains: the captured streams and the link they go
/// to (set once per worker process).
static AT_EXIT: OnceLock<(Arc<Mutex<Streams>>, Channel)> = OnceLock::new();

/// Arranges for the captured streams to be drained when the worker process
/// exits (a task calling `std::process::exit`, whose standard output Rust
/// has just flushed into the pipe).
fn drain_at_exit(streams: &Arc<Mutex<Streams>>, channel: &Channel) {
    if AT_EXIT.set((Arc::clone(streams), channel.clone())).is_ok() {
        // SAFETY: `atexit` registers a plain `extern "C"` function that
        // takes no arguments; it runs once, at exit, on the exiting thread,
        // and touches only `AT_EXIT`, which lives for the whole process.
        unsafe {
            libc::atexit(drain_captured_at_exit);
        }
    }
}

/// The `atexit` handler: sends what the pipes hold, unfinished last lines
/// too (the relay thread takes the same lock, so nothing is sent twice or
/// out of order).
extern "C" fn drain_captured_at_exit() {
    let Some((streams, channel)) = AT_EXIT.get() else {
        return;
    };
    streams
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(channel);
}

/// What the relay thread watches of the link to the parent.
struct Link<'a> {
    fd: &'a OwnedFd,
    /// Whether a task runs.
    busy: &'a AtomicBool,
    /// Set when the link hung up.
    hung_up: &'a AtomicBool,
}

fn relay(
    streams: &Mutex<Streams>,
    pipes: &[Arc<OwnedFd>; 2],
    channel: &Channel,
    link: Link<'_>,
    stop: &OwnedFd,
) {
    let mut watch_parent = true;
    loop {
        let open = {
            let s = streams.lock().unwrap_or_else(PoisonError::into_inner);
            [s.stdout.open, s.stderr.open]
        };
        let mut fds = vec![(stop.as_fd(), Interest::Readable)];
        for (pipe, open) in pipes.iter().zip(open) {
            if open {
                fds.push((pipe.as_fd(), Interest::Readable));
            }
        }
        let parent_at = fds.len();
        if watch_parent {
            fds.push((link.fd.as_fd(), Interest::HangUp));
        }
        let Ok(ready) = platform::wait_for(&fds, None) else {
            return;
        };
        if ready[0] {
            return;
        }
        if ready[1..parent_at].iter().any(|r| *r) {
            let mut guard = streams.lock().unwrap_or_else(PoisonError::into_inner);
            let Streams {
                stdout,
                stderr,
                buf,
            } = &mut *guard;
            stdout.pump(buf, channel);
            stderr.pump(buf, channel);
        }
        if watch_parent && ready[parent_at] {
            link.hung_up.store(true, Ordering::SeqCst);
            if link.busy.load(Ordering::SeqCst) {
                parent_gone();
            }
            // Between tasks: the main thread sees the end of the link and
            // exits; stop watching it meanwhile.
            watch_parent = false;
        }
    }
}

/// The parent closed the worker's link while a task ran: it died or gave
/// up on us. End this worker and everything its task started.
fn parent_gone() -> ! {
    let me = std::process::id();
    if rustix::process::getpgrp() == rustix::process::getpid() {
        let _ = platform::signal_group(me, Signal::KILL);
    }
    let _ = platform::signal_process(me, Signal::KILL);
    std::process::exit(137)
}
