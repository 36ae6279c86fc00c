//! The launch seam: how a task's process is started, and how it is
//! signalled.
//!
//! The engine describes the process it wants ([`LaunchSpec`]: a program,
//! its arguments and environment, and whether it speaks the worker protocol
//! or is a plain command) and a [`Launcher`] starts it. [`local`] starts it
//! on this machine; a cluster launcher wraps the same spec in a job step.
//! Whatever the launcher, what comes back is the same [`Launched`]: a
//! process of ours, leading a process group of its own, with its pipes.

pub(crate) mod fork_server;
pub(crate) mod local;
pub(crate) mod slurm;

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::process::Signal;

/// Where tasks' processes are started.
///
/// ```
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_launcher(dummymp::Launcher::Local);
/// assert_eq!(mp.launcher(), &dummymp::Launcher::Local);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Launcher {
    /// On this machine, as children of this process (the default).
    #[default]
    Local,
}

/// How the started process talks to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaunchIo {
    /// A worker: standard input is a socket the request is sent on,
    /// standard output a pipe of protocol messages, standard error ours.
    Worker,
    /// A command: standard input `/dev/null`, standard output and error
    /// pipes.
    Command,
}

/// The process the engine wants started.
#[derive(Debug, Clone)]
pub(crate) struct LaunchSpec {
    pub program: OsString,
    /// What `ps` shows as the command, when not the program.
    pub argv0: Option<OsString>,
    pub args: Vec<OsString>,
    /// `(key, Some(value))` sets, `(key, None)` removes.
    pub env: Vec<(OsString, Option<OsString>)>,
    pub env_clear: bool,
    pub current_dir: Option<PathBuf>,
    pub io: LaunchIo,
    /// The niceness to start at, when not ours.
    pub niceness: Option<i32>,
    /// Whether a copy forked by the fork server may stand in for this
    /// process (a worker of this very program, started the usual way).
    pub forkable: bool,
    /// CPUs the task needs (a cluster launcher asks for them).
    #[allow(dead_code)] // read by the cluster launcher, which comes next
    pub cpus: usize,
}

/// A started process, leader of a process group of its own.
#[derive(Debug)]
pub(crate) struct Launched {
    /// Its process id, which is also its process group id.
    pub pid: u32,
    /// Readable when it has exited.
    pub pidfd: OwnedFd,
    /// The parent's end of a worker's standard input (a socket); closing it
    /// tells the worker its parent is gone.
    pub input: Option<OwnedFd>,
    /// Its standard output (non-blocking): protocol messages for a worker,
    /// the command's output otherwise.
    pub stdout: OwnedFd,
    /// A command's standard error (non-blocking).
    pub stderr: Option<OwnedFd>,
    /// Who reaps it and knows how it exited.
    pub reaper: Reaper,
}

/// Who reaps a started process.
#[derive(Debug, Clone)]
pub(crate) enum Reaper {
    /// This process: it is our child.
    Us,
    /// The fork server, whose child it is; it reports the exit on this
    /// channel.
    ForkServer(std::sync::Arc<fork_server::ForkChannel>),
}

impl Launched {
    /// How the process exited, if it has (waiting for that when `block`),
    /// leaving it unreaped.
    pub(crate) fn peek_exit(&self, block: bool) -> io::Result<Option<crate::platform::ExitInfo>> {
        match &self.reaper {
            Reaper::Us => crate::platform::peek_exit(&self.pidfd, block),
            Reaper::ForkServer(channel) => channel.exit_of(self.pid, block),
        }
    }

    /// Reaps the exited process; its peak resident memory in bytes, when
    /// known.
    pub(crate) fn reap(&self) -> Option<u64> {
        match &self.reaper {
            Reaper::Us => crate::platform::reap_exited_with_usage(&self.pidfd),
            Reaper::ForkServer(channel) => channel.forget(self.pid),
        }
    }

    /// The descriptor that becomes readable when the exit is known: the
    /// pidfd of our own child; for a fork server's, the engine polls the
    /// server's channel instead.
    pub(crate) fn exit_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.reaper {
            Reaper::Us => Some(std::os::fd::AsFd::as_fd(&self.pidfd)),
            Reaper::ForkServer(_) => None,
        }
    }
}

impl Launcher {
    /// Starts the process `spec` describes; a worker of this program
    /// through `fork` (see [`fork_server`]) when it may.
    pub(crate) fn launch(
        &self,
        spec: &LaunchSpec,
        fork: Option<&std::sync::Arc<fork_server::ForkChannel>>,
    ) -> io::Result<Launched> {
        match self {
            Launcher::Local => {
                match fork.filter(|_| spec.forkable && spec.io == LaunchIo::Worker) {
                    // A refusal of the server's own (not the system's) falls
                    // back to executing the worker.
                    Some(channel) => local::fork_worker(channel, spec).or_else(|e| {
                        if e.raw_os_error().is_some() {
                            Err(e)
                        } else {
                            local::launch(spec)
                        }
                    }),
                    None => local::launch(spec),
                }
            }
        }
    }

    /// Sends `signal` to every process of the group `launched` leads.
    pub(crate) fn signal(&self, launched: &Launched, signal: Signal) {
        if let Err(e) = crate::platform::signal_group(launched.pid, signal) {
            log::debug!(target: "dummymp::engine", "cannot signal process group {}: {e}", launched.pid);
        }
    }
}
