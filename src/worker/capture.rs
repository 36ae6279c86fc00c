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

use rustix::event::{PollFd, PollFlags, Timespec};
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
        let watch = Arc::new(Watch::default());
        drain_at_exit(&streams, &channel);
        let thread = {
            let (streams, channel) = (Arc::clone(&streams), channel.clone());
            let parent = Parent {
                link: parent,
                watch: Arc::clone(&watch),
            };
            std::thread::Builder::new()
                .name("dummymp-relay".into())
                .stack_size(RELAY_STACK_SIZE)
                .spawn(move || relay(&streams, &pipes, &channel, &parent, &stop_read))?
        };
        Ok(Relay {
            streams,
            watch,
            channel,
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
    /// as they are. One `poll` tells which pipes hold anything (most tasks
    /// write nothing), instead of a read of each.
    fn drain(&mut self, channel: &Channel) {
        let Streams {
            stdout,
            stderr,
            buf,
        } = self;
        let holds = holding([&*stdout, &*stderr].map(|pump| pump.open.then_some(&*pump.pipe)));
        for (pump, holds) in [stdout, stderr].into_iter().zip(holds) {
            if holds {
                pump.pump(buf, channel);
            }
            pump.flush(channel);
        }
    }
}

/// The link to the parent as the relay thread watches it.
struct Parent {
    link: Arc<OwnedFd>,
    watch: Arc<Watch>,
}

/// Whether a task runs (set by the main thread) and whether the parent
/// hung up (set by the relay thread). Each side sets its own flag, then
/// reads the other's: whatever the order, at least one of them sees both,
/// so that no task runs once the parent is gone.
#[derive(Default)]
struct Watch {
    busy: AtomicBool,
    gone: AtomicBool,
}

impl Watch {
    /// The main thread is about to run a task: false when the parent has
    /// hung up already (the task's request was sent ahead and waited),
    /// and the task must not run.
    fn task_starting(&self) -> bool {
        self.busy.store(true, Ordering::SeqCst);
        !self.gone.load(Ordering::SeqCst)
    }

    /// The main thread is done with a task.
    fn task_done(&self) {
        self.busy.store(false, Ordering::SeqCst);
    }

    /// The relay thread saw the parent hang up: true when a task runs,
    /// which must end now.
    fn hung_up(&self) -> bool {
        self.gone.store(true, Ordering::SeqCst);
        self.busy.load(Ordering::SeqCst)
    }
}

/// Which of `pipes` (those given) hold something to read, or are closed
/// at the other end; every one given when that cannot be told.
fn holding(pipes: [Option<&OwnedFd>; 2]) -> [bool; 2] {
    let mut polled: Vec<PollFd<'_>> = pipes
        .iter()
        .flatten()
        .map(|pipe| PollFd::new(*pipe, PollFlags::IN))
        .collect();
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let told = loop {
        match rustix::event::poll(&mut polled, Some(&zero)) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other.is_ok(),
        }
    };
    let mut ready = polled.iter().map(|fd| !told || !fd.revents().is_empty());
    pipes.map(|pipe| pipe.is_some() && ready.next().unwrap_or(true))
}

/// The running relay thread.
pub(super) struct Relay {
    streams: Arc<Mutex<Streams>>,
    watch: Arc<Watch>,
    channel: Channel,
    stop: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// A task starts: from now on the parent hanging up kills the worker.
    /// False when the parent has hung up already (a request sent ahead was
    /// still waiting): the task must not run.
    pub(super) fn task_started(&self) -> bool {
        self.watch.task_starting()
    }

    /// A task has ended (and flushed its buffered output): sends every
    /// line it wrote, its unfinished last line too, before the caller
    /// reports its result.
    pub(super) fn task_ended(&self) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(&self.channel);
        self.watch.task_done();
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

fn relay(
    streams: &Mutex<Streams>,
    pipes: &[Arc<OwnedFd>; 2],
    channel: &Channel,
    parent: &Parent,
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
            fds.push((parent.link.as_fd(), Interest::HangUp));
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
            if parent.watch.hung_up() {
                parent_gone();
            }
            // Between tasks: the main thread sees the end of the link (or
            // the flag, before a request that was sent ahead) and exits;
            // stop watching it meanwhile.
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

#[cfg(test)]
mod tests {
    use super::Watch;

    #[test]
    fn a_hang_up_between_tasks_stops_the_next_one() {
        let watch = Watch::default();
        assert!(watch.task_starting());
        watch.task_done();
        assert!(!watch.hung_up(), "no task runs: nothing to end now");
        assert!(!watch.task_starting(), "a request sent ahead must not run");
    }

    #[test]
    fn a_hang_up_during_a_task_ends_it() {
        let watch = Watch::default();
        assert!(watch.task_starting());
        assert!(watch.hung_up());
    }
}
