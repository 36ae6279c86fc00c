//! Capturing a task's standard output and error inside the worker, and
//! watching the parent.
//!
//! The worker's descriptors 1 and 2 are pipes whose read ends a relay
//! thread polls. It sends what arrives to the parent as whole lines (several
//! per message when they come together); a line longer than
//! `MAX_LINE_LEN` (`crate::lines`) is sent in pieces. The same thread polls the worker's
//! private copy of its standard input: end of file there means the parent
//! died, and the worker then kills its whole process group.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::thread::JoinHandle;

use rustix::pipe::PipeFlags;
use rustix::process::Signal;

use super::Channel;
use crate::lines::LineBuffer;
use crate::protocol::WorkerMessage;
use crate::task::Stream;

/// The relay thread's stack: it only polls, reads and sends.
const RELAY_STACK_SIZE: usize = 256 * 1024;

/// The read ends of the pipes installed as descriptors 1 and 2.
pub(super) struct Capture {
    stdout: File,
    stderr: File,
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
            stdout: File::from(out_read),
            stderr: File::from(err_read),
        })
    }

    /// Starts relaying, and watching `parent` (the worker's standard input).
    pub(super) fn start(self, channel: Channel, parent: File) -> io::Result<Relay> {
        let (stop_read, stop_write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let thread = std::thread::Builder::new()
            .name("dummymp-relay".into())
            .stack_size(RELAY_STACK_SIZE)
            .spawn(move || relay(self, channel, parent, stop_read))?;
        Ok(Relay {
            stop: stop_write,
            thread,
        })
    }
}

/// The running relay thread.
pub(super) struct Relay {
    stop: OwnedFd,
    thread: JoinHandle<()>,
}

impl Relay {
    /// Relays what the task wrote so far and stops the thread.
    pub(super) fn finish(self) {
        let _ = rustix::io::write(&self.stop, &[1]);
        let _ = self.thread.join();
    }
}

/// Cuts one captured stream into messages of whole lines.
struct Lines {
    stream: Stream,
    buffer: LineBuffer,
}

impl Lines {
    fn new(stream: Stream) -> Lines {
        Lines {
            stream,
            buffer: LineBuffer::default(),
        }
    }

    /// Takes in `data` and sends every line it completes.
    fn push(&mut self, data: &[u8], channel: &Channel) {
        let stream = self.stream;
        self.buffer.push(data, |data| send(channel, stream, data));
    }

    /// Sends an unfinished last line as it is.
    fn flush(&mut self, channel: &Channel) {
        let stream = self.stream;
        self.buffer.flush(|data| send(channel, stream, data));
    }
}

fn send(channel: &Channel, stream: Stream, data: Vec<u8>) {
    channel.send(&WorkerMessage::Output { stream, data });
}

/// Reads what `file` holds now; false at end of file.
fn pump(file: &mut File, lines: &mut Lines, buf: &mut [u8], channel: &Channel) -> bool {
    loop {
        match file.read(buf) {
            Ok(0) => return false,
            Ok(n) => lines.push(&buf[..n], channel),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

fn relay(mut capture: Capture, channel: Channel, mut parent: File, stop: OwnedFd) {
    let mut out_lines = Lines::new(Stream::Stdout);
    let mut err_lines = Lines::new(Stream::Stderr);
    let mut out_open = true;
    let mut err_open = true;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (stop_ready, parent_ready, out_ready, err_ready) = {
            let mut fds = vec![stop.as_fd(), parent.as_fd()];
            if out_open {
                fds.push(capture.stdout.as_fd());
            }
            if err_open {
                fds.push(capture.stderr.as_fd());
            }
            let Ok(fds) = crate::platform::wait_readable(&fds, None) else {
                break;
            };
            let ready = |i: usize| fds.get(i).copied().unwrap_or(false);
            let out_index = 2;
            let err_index = if out_open { 3 } else { 2 };
            (
                ready(0),
                ready(1),
                out_open && ready(out_index),
                err_open && ready(err_index),
            )
        };
        if stop_ready {
            break;
        }
        if parent_ready {
            let mut byte = [0u8; 64];
            match parent.read(&mut byte) {
                Ok(n) if n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => parent_gone(),
            }
        }
        if out_ready {
            out_open = pump(&mut capture.stdout, &mut out_lines, &mut buf, &channel);
        }
        if err_ready {
            err_open = pump(&mut capture.stderr, &mut err_lines, &mut buf, &channel);
        }
    }
    // The task has returned and flushed: what it wrote is in the pipes.
    pump(&mut capture.stdout, &mut out_lines, &mut buf, &channel);
    pump(&mut capture.stderr, &mut err_lines, &mut buf, &channel);
    out_lines.flush(&channel);
    err_lines.flush(&channel);
}

/// The parent closed our standard input: it died or gave up on us. End this
/// worker and everything its task started.
fn parent_gone() -> ! {
    let me = std::process::id();
    if rustix::process::getpgrp() == rustix::process::getpid() {
        let _ = crate::platform::signal_group(me, Signal::KILL);
    }
    let _ = crate::platform::signal_process(me, Signal::KILL);
    std::process::exit(137)
}
