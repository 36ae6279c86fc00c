//! Starting a worker process, and the parent's handle on it.
//!
//! A worker is this same program started again with the worker flag and a
//! ticket as its first arguments (see [`crate::worker::invocation`]), in a process group of its own (so that ending the task
//! ends everything it started), with a pipe as standard output and one end
//! of a Unix socket pair as standard input: writing to a socket can be told
//! not to raise `SIGPIPE`, so a worker that dies before reading its request
//! can never take the parent down with it, whatever the parent does with
//! that signal.
//! Its standard error stays the parent's until the worker has captured it,
//! so that a worker that cannot even start can still say why.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};
use rustix::process::Signal;

use crate::platform::{self, ExitInfo};
use crate::protocol::{FrameBuffer, WorkerMessage};
use crate::worker::invocation::{TICKET_VARIABLE, WORKER_FLAG, new_ticket};

/// A running worker, seen from the parent.
pub(crate) struct WorkerProcess {
    pid: u32,
    pidfd: OwnedFd,
    /// The parent's end of the worker's standard input; closing it tells
    /// the worker that its parent is gone.
    input: Option<OwnedFd>,
    stdout: ChildStdout,
    frames: FrameBuffer,
    eof: bool,
}

/// Starts `program` as a worker and sends it `request` (a framed
/// [`TaskRequest`](crate::protocol::TaskRequest)).
/// `argv[0]` is `name` (what `ps` shows as the worker's command line).
pub(crate) fn spawn_worker(
    program: &Path,
    name: &OsStr,
    request: &[u8],
) -> io::Result<WorkerProcess> {
    let (input, worker_input) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let mut child = Command::new(program)
        .arg0(name)
        .arg(WORKER_FLAG)
        .arg(ticket())
        .env(TICKET_VARIABLE, ticket())
        .stdin(Stdio::from(worker_input))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()?;
    let pid = child.id();
    let Some(stdout) = child.stdout.take() else {
        unreachable!("stdout was asked to be piped");
    };
    let pidfd = match platform::open_pidfd(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    if let Err(e) = send_all(&input, request) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    rustix::io::ioctl_fionbio(&stdout, true)?;
    Ok(WorkerProcess {
        pid,
        pidfd,
        input: Some(input),
        stdout,
        frames: FrameBuffer::default(),
        eof: false,
    })
}

/// This process's ticket for the workers it starts (see
/// [`crate::worker::invocation`]).
fn ticket() -> &'static str {
    static TICKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TICKET.get_or_init(new_ticket)
}

/// Sends all of `data` without ever raising `SIGPIPE`. A worker that died
/// before reading it is reported through its exit status, so a closed
/// socket is no error here.
fn send_all(socket: &OwnedFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::net::send(socket, data, SendFlags::NOSIGNAL) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => continue,
            Err(Errno::PIPE | Errno::CONNRESET) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl WorkerProcess {
    /// The worker's process id, which is also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Readable when the worker has exited.
    pub(crate) fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Readable when messages arrive; `None` once the stream has ended.
    pub(crate) fn messages_fd(&self) -> Option<BorrowedFd<'_>> {
        (!self.eof).then(|| self.stdout.as_fd())
    }

    /// Reads every message that has arrived, without blocking. Returns an
    /// error message when the stream is broken (and then stops reading it).
    pub(crate) fn read_messages(
        &mut self,
        mut on_message: impl FnMut(WorkerMessage),
    ) -> Result<(), String> {
        const CHUNK: usize = 64 * 1024;
        while !self.eof {
            let room = self.frames.spare(CHUNK);
            let (n, at_end) = match self.stdout.read(room) {
                Ok(0) => (0, true),
                Ok(n) => (n, false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => (0, false),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.frames.filled(CHUNK, 0);
                    return Ok(());
                }
                Err(e) => {
                    self.frames.filled(CHUNK, 0);
                    self.eof = true;
                    return Err(format!("reading from the worker failed: {e}"));
                }
            };
            self.frames.filled(CHUNK, n);
            loop {
                let frame = match self.frames.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        self.eof = true;
                        return Err(format!("the worker's message stream is broken: {e}"));
                    }
                };
                match postcard::from_bytes::<WorkerMessage>(frame) {
                    Ok(message) => on_message(message),
                    Err(e) => {
                        self.eof = true;
                        return Err(format!("the worker sent an unreadable message: {e}"));
                    }
                }
            }
            if at_end {
                self.eof = true;
                if self.frames.has_partial() {
                    return Err("the worker's last message was cut short".to_string());
                }
            }
        }
        Ok(())
    }

    /// How the worker exited, if it has; the worker stays a zombie (its
    /// process group stays reserved) until [`WorkerProcess::release`].
    pub(crate) fn exited(&self) -> io::Result<Option<ExitInfo>> {
        platform::peek_exit(&self.pidfd, false)
    }

    /// Waits until the worker has exited; see [`WorkerProcess::exited`].
    pub(crate) fn wait_exited(&self) -> io::Result<ExitInfo> {
        loop {
            match platform::peek_exit(&self.pidfd, true) {
                Ok(Some(info)) => return Ok(info),
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends `signal` to the worker and every process in its group.
    pub(crate) fn signal(&self, signal: Signal) {
        if let Err(e) = platform::signal_group(self.pid, signal) {
            log::debug!(target: "dummymp", "cannot signal process group {}: {e}", self.pid);
        }
    }

    /// After the worker exited: kills what is left in its process group,
    /// reaps the worker and closes its input.
    pub(crate) fn release(&mut self) {
        self.signal(Signal::KILL);
        let _ = platform::reap_exited(&self.pidfd);
        self.input = None;
    }
}
