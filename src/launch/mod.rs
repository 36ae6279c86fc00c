//! The launch seam: how a task's process is started, and how it is
//! signalled.
//!
//! The engine describes the process it wants ([`LaunchSpec`]: a program,
//! its arguments and environment, and whether it speaks the worker protocol
//! or is a plain command) and a [`Launcher`] starts it. [`local`] starts it
//! on this machine; [`slurm`] wraps the same spec in `srun`, a job step,
//! and starts that through [`local`]. Whatever the launcher, what comes
//! back is the same [`Launched`]: a process of ours, leading a process
//! group of its own, with its pipes.
//!
//! What differs between launchers is said here, in one place: how a task
//! is signalled ([`Launcher::signal`]), what is done with what it leaves
//! in its process group ([`Launcher::leftovers`]), how many tasks fit at
//! once ([`Launcher::capacity`], [`Launcher::has_room_for`]), and what the
//! launcher knows about how a task ended ([`Launched::explain`]).

pub(crate) mod fork_server;
pub(crate) mod local;
pub(crate) mod slurm;

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use rustix::process::Signal;

use crate::error::Error;
use crate::outcome::{Outcome, ProcessExit};
pub use slurm::SlurmOptions;

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
    /// As Slurm job steps: each task runs under `srun`, on whichever node
    /// of the allocation has room, and talks to us through `srun`'s
    /// standard streams exactly as a local one would. Inside an allocation
    /// the allocation decides how many tasks run at once (see
    /// [`SlurmOptions::concurrent_tasks`]); outside one, each task is a job
    /// of its own. Ending a task kills its step at once: `srun` turns
    /// `SIGTERM` into `SIGKILL` for the step, so the kill grace period does
    /// not apply. See `docs/slurm.md`.
    ///
    /// ```no_run
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_launcher(dummymp::Launcher::slurm()?);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    Slurm(SlurmOptions),
}

/// What to do with the processes a task's process left in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeftoverPolicy {
    /// Kill them (at the end of the grace period when we were ending the
    /// task) and follow them until they are gone.
    Kill,
    /// Follow them until they are gone, killing them only if they are
    /// still there after this long.
    FollowFor(Duration),
    /// Leave them: they are none of the task's.
    Leave,
}

/// How long the helper process of an `srun` we killed gets to cancel the
/// job step before it is killed too (it needs the controller, which may
/// take up to its message timeout, 10 s by default, to answer).
const SRUN_HELPER_PATIENCE: Duration = Duration::from_secs(60);

/// How the started process talks to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaunchIo {
    /// A worker: standard input is a socket the request is sent on,
    /// standard output a pipe of protocol messages, standard error ours.
    Worker,
    /// A worker whose standard error is a pipe too, for the launcher to
    /// read (`srun` writes its own messages there).
    WorkerWithStderrPipe,
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
    /// What Slurm says about the job step, when it is one.
    pub srun_messages: Option<slurm::SrunMessages>,
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

    /// Whether the exit is already known without looking at
    /// [`Launched::exit_fd`] or the fork server's channel: a fork server's
    /// report that was taken off the channel and stored (see
    /// [`fork_server::ForkChannel::take_stored`]).
    pub(crate) fn exit_stored(&self) -> bool {
        match &self.reaper {
            Reaper::Us => false,
            Reaper::ForkServer(channel) => channel.knows_exit_of(self.pid),
        }
    }

    /// After the process exited: waits until the launcher has passed on
    /// everything it relays for the task (Slurm: `srun`'s standard error),
    /// so that what the task wrote last is read with the rest.
    pub(crate) fn settle(&self) {
        if let Some(messages) = &self.srun_messages {
            messages.settle();
        }
    }

    /// How the task ended, given the `outcome` and process `exit` the
    /// engine saw, with what the launcher knows added (Slurm: why `srun`
    /// exited as it did).
    pub(crate) fn explain(
        &self,
        outcome: Outcome,
        exit: Option<ProcessExit>,
    ) -> (Outcome, Option<ProcessExit>) {
        match &self.srun_messages {
            Some(messages) => slurm::explain(outcome, exit, &messages.said()),
            None => (outcome, exit),
        }
    }
}

impl Launcher {
    /// The Slurm launcher for the allocation this process runs in, with
    /// the default [`SlurmOptions`].
    ///
    /// # Errors
    ///
    /// See [`SlurmOptions::from_env`].
    pub fn slurm() -> Result<Launcher, Error> {
        SlurmOptions::from_env().map(Launcher::Slurm)
    }

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
            Launcher::Slurm(options) => slurm::launch(options, spec),
        }
    }

    /// Sends `signal` to the task `launched` runs: locally, to every
    /// process of the group it leads; on Slurm, to `srun` alone, which
    /// kills its step on `SIGTERM`, and whose helper process cancels the
    /// step when `srun` is killed (a signal to the whole group would kill
    /// that helper too, and leave the step running).
    pub(crate) fn signal(&self, launched: &Launched, signal: Signal) {
        let sent = match self {
            Launcher::Local => crate::platform::signal_group(launched.pid, signal),
            Launcher::Slurm(_) => crate::platform::signal_process(launched.pid, signal),
        };
        if let Err(e) = sent {
            log::debug!(target: "dummymp::engine", "cannot signal task process {}: {e}", launched.pid);
        }
    }

    /// What to do with what a task left in its process group once its
    /// process is reaped; `killed`: we sent it `SIGKILL`.
    pub(crate) fn leftovers(&self, killed: bool) -> LeftoverPolicy {
        match self {
            Launcher::Local => LeftoverPolicy::Kill,
            // What is left is srun's helper. After srun was killed it
            // cancels the step: let it. Otherwise the step is over and the
            // helper exits by itself.
            Launcher::Slurm(_) if killed => LeftoverPolicy::FollowFor(SRUN_HELPER_PATIENCE),
            Launcher::Slurm(_) => LeftoverPolicy::Leave,
        }
    }

    /// How many tasks may run at once wherever this launcher starts them,
    /// when it knows better than the CPUs of this machine: a Slurm
    /// allocation's size.
    pub(crate) fn capacity(&self) -> Option<usize> {
        match self {
            Launcher::Local => None,
            Launcher::Slurm(options) => options.concurrent_tasks(),
        }
    }

    /// The CPUs a task that needs `task_cpus` takes where it runs.
    pub(crate) fn task_cpus(&self, task_cpus: usize) -> usize {
        match self {
            Launcher::Local => task_cpus,
            Launcher::Slurm(options) => options.step_cpus(task_cpus),
        }
    }

    /// Whether a task needing `cpus` may start while running tasks take
    /// `cpus_in_use` (as [`Launcher::task_cpus`] counts them); the local
    /// launcher leaves that to the scheduler.
    pub(crate) fn has_room_for(&self, cpus_in_use: usize, cpus: usize) -> bool {
        match self {
            Launcher::Local => true,
            Launcher::Slurm(options) => options.has_room_for(cpus_in_use, options.step_cpus(cpus)),
        }
    }
}
