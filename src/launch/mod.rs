//! The launch seam: how a task's process is started, and every later
//! action on it.
//!
//! The engine describes the process it wants ([`LaunchSpec`]: a program,
//! its arguments and environment, and whether it speaks the worker protocol
//! or is a plain command) and [`Launch::begin`] starts it where the
//! [`Launcher`] says. [`local`] starts it on this machine (through the
//! [`fork_server`] for a worker of this program); [`slurm`] wraps the same
//! spec in `srun`, a job step, and starts that through [`local`]. Whatever
//! the launcher, what comes back is a [`ProcessHandle`]: a process of ours,
//! leading a process group of its own, with its pipes, and the only way to
//! act on the task afterwards (terminate, kill, pause, resume, renice,
//! reap).
//!
//! What differs between launchers is said here and in [`handle`], in one
//! place: how the actions reach a task ([`handle::Control`]), what is done
//! with what it leaves in its process group ([`leftovers`]), how many tasks
//! fit at once ([`Launcher::capacity`], [`Launcher::has_room_for`]), and
//! what the launcher knows about how a task ended
//! ([`ProcessHandle::explain`]).

pub(crate) mod fork_server;
pub(crate) mod forked;
pub(crate) mod handle;
pub(crate) mod leftovers;
pub(crate) mod local;
pub(crate) mod slurm;

use std::ffi::OsString;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
pub(crate) use handle::ProcessHandle;
pub(crate) use leftovers::Sweeper;
use local::LocalState;
pub(crate) use local::Starting;
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
    /// of its own. Ending, pausing and continuing a task reach its
    /// processes on their node through Slurm (`scancel --signal`), so the
    /// kill grace period applies as on one machine; a task whose node fails
    /// ends as [`Outcome::NodeLost`](crate::Outcome::NodeLost). See
    /// `docs/slurm.md`.
    ///
    /// ```no_run
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_launcher(dummymp::Launcher::slurm()?);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    Slurm(SlurmOptions),
}

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
    /// The front end whose process a worker is a copy of, made when the
    /// task starts (see [`forked`]); `None` to start `program`.
    pub fork: Option<crate::task::ForkHostRef>,
}

impl Launcher {
    /// The Slurm launcher for the allocation this process runs in, with
    /// the default [`SlurmOptions`].
    ///
    /// ```no_run
    /// use dummymp::{DummyMp, Launcher};
    /// let mut mp = DummyMp::new();
    /// mp.set_launcher(Launcher::slurm()?);
    /// assert!(matches!(mp.launcher(), Launcher::Slurm(_)));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// See [`SlurmOptions::from_env`].
    pub fn slurm() -> Result<Launcher, Error> {
        SlurmOptions::from_env().map(Launcher::Slurm)
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

    /// Whether a worker waiting for its next task holds what a task needs
    /// to start: a Slurm step keeps its CPUs until it ends.
    pub(crate) fn idle_workers_hold_cpus(&self) -> bool {
        matches!(self, Launcher::Slurm(_))
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

/// Starts tasks where a [`Launcher`] says, keeping what the launchers need
/// between starts (the local launcher's channel to the fork server and its
/// watchdog).
#[derive(Debug)]
pub(crate) struct Launch {
    launcher: Launcher,
    local: LocalState,
    /// What the watchdog gives commands between `SIGTERM` and `SIGKILL`.
    kill_grace: Duration,
}

impl Launch {
    /// Starts tasks where `launcher` says; commands get `kill_grace` from
    /// the watchdog if this program dies.
    pub(crate) fn new(launcher: Launcher, kill_grace: Duration) -> Launch {
        Launch {
            launcher,
            local: LocalState::default(),
            kill_grace,
        }
    }

    /// Where tasks start.
    pub(crate) fn launcher(&self) -> &Launcher {
        &self.launcher
    }

    /// Starts tasks elsewhere from now on. A launcher that runs many
    /// tasks at once (a large Slurm allocation) gets the descriptors they
    /// need: see [`make_room_for_descriptors`].
    pub(crate) fn set_launcher(&mut self, launcher: Launcher) {
        if let Some(tasks) = launcher.capacity() {
            make_room_for_descriptors(tasks);
        }
        self.launcher = launcher;
    }

    /// The grace period the watchdog gives commands (from its start on).
    pub(crate) fn set_kill_grace(&mut self, grace: Duration) {
        self.kill_grace = grace;
    }

    /// Starts the process `spec` describes where the launcher says,
    /// without waiting for a fork server's answer: [`Launch::finish`]
    /// takes it. Several starts begun before the first is finished overlap
    /// (the server forks while this process goes on); they must be
    /// finished in the order begun. A copy of this process for a task (a
    /// [`ForkHost`](crate::foreign::ForkHost)'s) is made here and now.
    pub(crate) fn begin(&mut self, spec: &LaunchSpec) -> io::Result<Starting> {
        match (&self.launcher, &spec.fork) {
            (Launcher::Local, Some(host)) => forked::start(&*host.0, spec).map(Starting::Ready),
            (Launcher::Local, None) => self.local.start(spec),
            (Launcher::Slurm(_), Some(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a task that is a copy of this process cannot run as a Slurm job step \
                 (there is nothing to copy on another node): queue it with a worker \
                 program instead",
            )),
            (Launcher::Slurm(options), None) => slurm::launch(options, spec).map(Starting::Ready),
        }
    }

    /// Completes a start [`Launch::begin`] began (with the same `spec`). A
    /// command is put in the watchdog's table, so that it ends if this
    /// program dies (a worker watches its link to us itself).
    pub(crate) fn finish(
        &mut self,
        starting: Starting,
        spec: &LaunchSpec,
    ) -> io::Result<ProcessHandle> {
        let mut process = LocalState::finish(starting, spec)?;
        if spec.io == LaunchIo::Command {
            self.local.watch(&mut process, self.kill_grace);
        }
        Ok(process)
    }

    /// Readable when the exit of a task whose
    /// [`ProcessHandle::exit_on_channel`] is true may be known.
    pub(crate) fn exits_fd(&self) -> Option<BorrowedFd<'_>> {
        self.local.exits_fd()
    }

    /// Whether exits became known that [`Launch::exits_fd`] does not
    /// announce: look at every task's [`ProcessHandle::exit_stored`].
    pub(crate) fn take_stored_exits(&self) -> bool {
        self.local.take_stored_exits()
    }
}

/// Descriptors this process holds per running job step: the pidfd and
/// pipes (or sockets) of `srun`, and those of the thread that reads its
/// messages, with some to spare.
const DESCRIPTORS_PER_TASK: u64 = 8;

/// Descriptors kept for everything else the program opens.
const DESCRIPTORS_KEPT: u64 = 256;

/// Raises this process's soft limit on open files, when it is too low for
/// `tasks` tasks at once, as far as the hard limit allows (a common soft
/// limit of 1,024 holds some 100 job steps; an allocation of 6,400 CPUs
/// needs some 51,000). Processes started afterwards inherit the raised
/// limit (and `srun` passes it on to the task, as it passes its limits).
fn make_room_for_descriptors(tasks: usize) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let wanted = (tasks as u64)
        .saturating_mul(DESCRIPTORS_PER_TASK)
        .saturating_add(DESCRIPTORS_KEPT);
    let mut limit = getrlimit(Resource::Nofile);
    let Some(soft) = limit.current else {
        return; // unlimited
    };
    if soft >= wanted {
        return;
    }
    let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    if raised <= soft {
        log::warn!(
            target: "dummymp::engine",
            "{tasks} tasks at once need some {wanted} open files, more than the hard limit {soft}"
        );
        return;
    }
    limit.current = Some(raised);
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => log::debug!(
            target: "dummymp::engine",
            "soft limit on open files raised from {soft} to {raised} for {tasks} tasks at once"
        ),
        Err(e) => log::warn!(target: "dummymp::engine", "cannot raise the open files limit: {e}"),
    }
}

/// The watchdog's program, run instead of `main` in a process started as
/// the watchdog (see [`role`](crate::role)).
pub(crate) fn watchdog_main(grace_ms: &str) -> ! {
    local::watchdog::run(grace_ms)
}
