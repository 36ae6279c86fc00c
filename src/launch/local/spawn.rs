//! Creating a process on this machine: the one place where dummymp creates
//! a process for a task (the fork server aside, which forks copies of the
//! program).
//!
//! It runs through [`std::process::Command`] (which uses `posix_spawn`, a
//! `vfork`-style start, unless a niceness must be set in the child or
//! Ctrl-Z could reach it: see [`start_with_fork`]), in a process group of
//! its own, so that ending the task ends everything it started. A worker's
//! standard input is one end of a Unix socket pair:
//! writing to a socket can be told not to raise `SIGPIPE`, so a worker that
//! dies before reading its request can never take the parent down with it.
//! A worker's standard error stays ours until it has captured it, so that a
//! worker that cannot even start can still say why.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use std::os::fd::OwnedFd;

use crate::launch::fork_server::ForkChannel;
use crate::launch::handle::{ProcessHandle, Reaper};
use crate::launch::{LaunchIo, LaunchSpec};

/// Starts `spec` as a child of this process.
pub(crate) fn launch(spec: &LaunchSpec) -> io::Result<ProcessHandle> {
    let mut command = Command::new(&spec.program);
    if let Some(argv0) = &spec.argv0 {
        command.arg0(argv0);
    }
    command.args(&spec.args);
    if spec.env_clear {
        command.env_clear();
    }
    for (key, value) in &spec.env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    if let Some(dir) = &spec.current_dir {
        command.current_dir(dir);
    }
    command.process_group(0);
    let worker_input = match spec.io {
        LaunchIo::Worker | LaunchIo::WorkerWithStderrPipe => {
            let (ours, theirs) = stream_pair()?;
            let stderr = if spec.io == LaunchIo::Worker {
                Stdio::inherit()
            } else {
                Stdio::piped()
            };
            command
                .stdin(Stdio::from(theirs))
                .stdout(Stdio::piped())
                .stderr(stderr);
            Some(ours)
        }
        LaunchIo::Command => {
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            None
        }
    };
    if let Some(niceness) = spec.niceness {
        // SAFETY: the hook runs in the child between fork and exec, where
        // only async-signal-safe calls are allowed: it makes one
        // setpriority system call and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                rustix::process::setpriority_process(None, niceness).map_err(io::Error::from)
            });
        }
    } else if start_with_fork() {
        force_fork(&mut command);
    }
    let mut child = command.spawn()?;
    // From here on the child exists: on any error, end it before returning.
    let abandon = |mut child: std::process::Child, error: io::Error| {
        let _ = child.kill();
        let _ = child.wait();
        Err(error)
    };
    let pid = child.id();
    let stdout = child.stdout.take().map(std::os::fd::OwnedFd::from);
    let stderr = child.stderr.take().map(std::os::fd::OwnedFd::from);
    let Some(stdout) = stdout else {
        return abandon(child, io::Error::other("the task's output pipe is missing"));
    };
    let pidfd = match crate::platform::open_pidfd(pid) {
        Ok(fd) => fd,
        Err(e) => return abandon(child, e),
    };
    for pipe in std::iter::once(&stdout).chain(stderr.as_ref()) {
        if let Err(e) = rustix::io::ioctl_fionbio(pipe, true) {
            return abandon(child, e.into());
        }
    }
    // The child is reaped through its pidfd; dropping `child` neither waits
    // nor kills.
    drop(child);
    Ok(ProcessHandle::new(
        pid,
        pidfd,
        worker_input,
        stdout,
        stderr,
        Reaper::Us,
    ))
}

/// Asks the fork server for a worker of this program, with the same
/// descriptors as [`launch`] gives a worker (without `exec`); its answer is
/// taken by [`PendingFork::finish`], so that several forks can be asked
/// for before the first answer is waited for.
pub(crate) fn request_worker(
    channel: &std::sync::Arc<ForkChannel>,
    spec: &LaunchSpec,
) -> io::Result<PendingFork> {
    let (ours, theirs) = stream_pair()?;
    let (stdout, their_stdout) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let stderr = std::io::stderr();
    channel.request_fork(
        [
            std::os::fd::AsFd::as_fd(&theirs),
            std::os::fd::AsFd::as_fd(&their_stdout),
            std::os::fd::AsFd::as_fd(&stderr),
        ],
        spec.niceness,
    )?;
    // The server has its own copies of the worker's ends now.
    Ok(PendingFork {
        channel: std::sync::Arc::clone(channel),
        ends: Some((ours, stdout)),
    })
}

/// A worker asked of the fork server, until its answer is taken. Answers
/// come in the order of the requests: one dropped without
/// [`PendingFork::finish`] takes its answer (and ends that worker) so
/// that the next one gets its own.
pub(crate) struct PendingFork {
    channel: std::sync::Arc<ForkChannel>,
    /// Our ends of the worker's standard input and output, until taken.
    ends: Option<(OwnedFd, OwnedFd)>,
}

impl PendingFork {
    /// Waits for the server's answer: the worker's handle.
    pub(crate) fn finish(mut self) -> io::Result<ProcessHandle> {
        let (input, stdout) = self.ends.take().expect("a pending fork has its ends");
        let (pid, pidfd) = self.channel.forked()?;
        let process = ProcessHandle::new(
            pid,
            pidfd,
            Some(input),
            stdout,
            None,
            Reaper::ForkServer(std::sync::Arc::clone(&self.channel)),
        );
        if let Err(e) = rustix::io::ioctl_fionbio(&process.stdout, true) {
            let mut process = process;
            process.kill();
            let _ = process.peek_exit(true);
            let _ = process.reap();
            return Err(e.into());
        }
        Ok(process)
    }
}

impl Drop for PendingFork {
    fn drop(&mut self) {
        if self.ends.take().is_some()
            && let Ok((pid, pidfd)) = self.channel.forked()
        {
            // Nothing was asked of it yet: end it, and forget its exit.
            let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
            let _ = self.channel.exit_of(pid, true);
            let _ = self.channel.forget(pid);
        }
    }
}

/// Whether a process started now must be started with `fork` rather than
/// `posix_spawn`: while this process is in the foreground of its terminal,
/// Ctrl-Z (`SIGTSTP` to the whole foreground process group) can come while
/// the new process is still in our process group, before it moves to its
/// own. The new process then stops before it runs its program; with
/// `posix_spawn` it shares our memory until then and we wait for it, so we
/// would wait for ever (and not even stop). Started with `fork`, we go on,
/// and the stopped process is continued with us (`fg` continues our
/// group) or by whoever paused our tasks.
fn start_with_fork() -> bool {
    crate::platform::in_terminal_foreground()
}

/// Makes `command` start with `fork` (see [`start_with_fork`]).
fn force_fork(command: &mut Command) {
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes none. (Having a hook at
    // all is what makes the standard library fork.)
    unsafe {
        command.pre_exec(|| Ok(()));
    }
}

/// Starts one of dummymp's own helper processes (the engine's watchdog):
/// `program` run as `argv0` with `args` and the environment variable
/// `env`, with `stdin` and `stdout` as its standard input and output, in a
/// process group of its own. Returns its pid and a pidfd.
pub(crate) fn launch_helper(
    program: &std::path::Path,
    argv0: &std::ffi::OsStr,
    args: &[&std::ffi::OsStr],
    env: (&str, &str),
    stdin: std::os::fd::OwnedFd,
    stdout: std::os::fd::OwnedFd,
) -> io::Result<(u32, std::os::fd::OwnedFd)> {
    let mut command = Command::new(program);
    command
        .arg0(argv0)
        .args(args)
        .env(env.0, env.1)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::inherit())
        // Out of the terminal's process group: Ctrl-C is not for it.
        .process_group(0);
    if start_with_fork() {
        force_fork(&mut command);
    }
    let child = command.spawn()?;
    let pid = child.id();
    let pidfd = crate::platform::open_pidfd(pid)?;
    Ok((pid, pidfd))
}

/// A connected pair of Unix stream sockets, not inherited across `exec`:
/// a worker's link to us (its standard input) and our end of it, or a
/// relay's two ends.
pub(crate) fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}
