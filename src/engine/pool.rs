//! Reused workers: workers that finished a task and wait for the next one,
//! when [`Engine::set_reuse_workers`](super::Engine::set_reuse_workers) is
//! on.
//!
//! A reused worker runs task after task without a new process each time
//! (no start-up cost), which suits many short tasks. What changes for the
//! tasks: they share the worker's process and process group, so global
//! state, open files, threads and children a task leaves behind are still
//! there when the next task of that worker runs; a task's own end no longer
//! kills what it left in the group (the worker's end does). A task that
//! crashes its worker, runs past its timeout or is killed ends its worker;
//! the next task gets a fresh one.
//!
//! Here too is how a worker is handed its request: written to the socket
//! that is its standard input. (A busy worker may also be sent its next
//! tasks before it is done: see `ahead`.)

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use super::Engine;
use crate::invocation;
use crate::launch::{LaunchSpec, ProcessHandle, Sweeper};
use crate::load::OwnProcesses;
use crate::platform;
use crate::protocol::FrameBuffer;
use crate::task::CallTarget;

/// What tells one kind of worker from another: two tasks may share a
/// worker only if they would start the same program the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkerKind {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
}

impl WorkerKind {
    pub(crate) fn of(spec: &LaunchSpec) -> WorkerKind {
        WorkerKind {
            program: spec.program.clone(),
            args: spec.args.clone(),
            env: spec.env.clone(),
        }
    }

    /// Whether a call to `target` starts a worker of this kind (what
    /// [`WorkerKind::of`] its launch spec says, without making that spec),
    /// with workers started from `worker_program`.
    pub(crate) fn fits_call(&self, target: &CallTarget, worker_program: Option<&Path>) -> bool {
        let (program, args, env): (&OsStr, &[OsString], &[(OsString, OsString)]) = match target {
            CallTarget::Function { .. } => match worker_program {
                Some(program) => (program.as_os_str(), &[], &[]),
                None => (platform::self_exe_for_spawn_str(), &[], &[]),
            },
            CallTarget::Foreign(worker) => (&worker.program, &worker.args, &worker.env),
        };
        // A copy of this process is started without the arguments that make
        // an executed program a worker (see `Engine::launch_spec`).
        let forked = matches!(target, CallTarget::Foreign(worker) if worker.is_forked());
        let ours: &[OsString] = if forked {
            &[]
        } else {
            &invocation::worker_args()
        };
        self.program == program
            && self.args.len() == args.len() + ours.len()
            && self
                .args
                .iter()
                .zip(args.iter().chain(ours))
                .all(|(a, b)| a == b)
            && self.env.len() == env.len()
            && self
                .env
                .iter()
                .zip(env)
                .all(|((k, v), (key, value))| k == key && v.as_ref() == Some(value))
    }
}

/// A worker waiting for its next task.
struct IdleWorker {
    kind: WorkerKind,
    worker: Reusable,
}

/// A worker that finished its task, as it goes into the pool and comes
/// out again.
pub(crate) struct Reusable {
    pub process: ProcessHandle,
    /// What it sent after its last result, not read yet (log records of
    /// its other threads), and a frame it may have begun.
    pub frames: FrameBuffer,
    /// How long its last task took (see `RunningTask::pace`).
    pub pace: Option<Duration>,
}

/// The idle workers.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Vec<IdleWorker>,
    /// Set by the last wait: an idle worker exited.
    pub exit_seen: bool,
}

impl Pool {
    /// Takes an idle worker of `kind`, if there is one.
    pub(crate) fn take(&mut self, kind: &WorkerKind) -> Option<Reusable> {
        let at = self.idle.iter().rposition(|w| &w.kind == kind)?;
        Some(self.idle.swap_remove(at).worker)
    }

    /// Keeps a worker that finished its task for the next one.
    pub(crate) fn put(&mut self, kind: WorkerKind, worker: Reusable) {
        self.idle.push(IdleWorker { kind, worker });
    }

    /// How many workers wait.
    pub(crate) fn len(&self) -> usize {
        self.idle.len()
    }

    /// Their pidfds, readable when one exits while idle.
    pub(crate) fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.idle.iter().map(|w| w.worker.process.pidfd.as_fd())
    }

    /// Forgets idle workers that exited: they are reaped and what they
    /// left is swept.
    pub(crate) fn forget_exited(&mut self, sweeper: &mut Sweeper, own: &OwnProcesses) {
        self.exit_seen = false;
        let (exited, idle): (Vec<_>, Vec<_>) = self
            .idle
            .drain(..)
            .partition(|idle| matches!(idle.worker.process.peek_exit(false), Ok(Some(_)) | Err(_)));
        self.idle = idle;
        for mut idle in exited {
            sweeper.sweep(&mut idle.worker.process, own, false, None);
        }
    }

    /// Ends every idle worker: closing its link tells it to exit; one that
    /// does not within `grace` is killed. Waits until each has exited, then
    /// reaps it and sweeps what it left.
    pub(crate) fn retire_all(
        &mut self,
        grace: Duration,
        sweeper: &mut Sweeper,
        own: &OwnProcesses,
    ) {
        let workers: Vec<ProcessHandle> = self.idle.drain(..).map(|w| w.worker.process).collect();
        retire(workers, grace, sweeper, own);
    }

    /// Ends the idle worker that waited longest, as
    /// [`Pool::retire_all`] ends each.
    pub(crate) fn retire_oldest(
        &mut self,
        grace: Duration,
        sweeper: &mut Sweeper,
        own: &OwnProcesses,
    ) {
        if !self.idle.is_empty() {
            let oldest = self.idle.remove(0).worker.process;
            retire(vec![oldest], grace, sweeper, own);
        }
    }
}

/// Ends `workers` (see [`Pool::retire_all`]). Killing goes through each
/// one's handle, so that a worker that is a Slurm job step ends with its
/// step.
fn retire(
    mut workers: Vec<ProcessHandle>,
    grace: Duration,
    sweeper: &mut Sweeper,
    own: &OwnProcesses,
) {
    for worker in &mut workers {
        worker.close_link();
    }
    for mut worker in workers {
        let exited = platform::wait_readable(&[worker.pidfd.as_fd()], Some(grace))
            .is_ok_and(|ready| ready[0]);
        if !exited {
            worker.kill();
        }
        let _ = worker.peek_exit(true);
        sweeper.sweep(&mut worker, own, !exited, None);
    }
}

impl Engine {
    /// Launcher-specific: before a new process starts, where an idle
    /// worker holds what a task needs (a Slurm step keeps its CPUs while it
    /// waits), idle workers are ended until running and idle ones together
    /// leave room for it; else the new step would wait in Slurm for CPUs
    /// that idle workers never give back.
    pub(super) fn make_room_for_a_new_process(&mut self) {
        if !self.launch.launcher().idle_workers_hold_cpus() {
            return;
        }
        let limit = self
            .scheduler
            .capacity()
            .unwrap_or(self.scheduler.cpu_info().usable)
            .max(1);
        while self.pool.len() > 0 && self.running.len() + self.pool.len() >= limit {
            self.pool.retire_oldest(
                self.settings.kill_grace,
                &mut self.sweeper,
                self.scheduler.own_processes(),
            );
        }
    }

    /// Hands `request` to an idle worker of `kind`, if one is left that
    /// takes it.
    pub(super) fn reuse_idle_worker(
        &mut self,
        kind: &WorkerKind,
        request: Option<&[u8]>,
    ) -> Option<Reusable> {
        while let Some(worker) = self.pool.take(kind) {
            let sent = match (request, &worker.process.input) {
                (Some(request), Some(input)) => {
                    platform::send_all_unless_closed(input, request).is_ok()
                }
                _ => false,
            };
            if sent {
                return Some(worker);
            }
            // It died meanwhile: end it and try the next.
            self.end_worker_now(worker.process);
        }
        None
    }

    /// Ends a worker we no longer want, now (`SIGKILL`): reaped, and what
    /// it left swept.
    pub(super) fn end_worker_now(&mut self, mut process: ProcessHandle) {
        process.kill();
        let _ = process.peek_exit(true);
        self.sweeper
            .sweep(&mut process, self.scheduler.own_processes(), true, None);
    }
}

/// Sends a new worker its request; a worker that cannot take it is ended.
pub(super) fn send_request(
    mut process: ProcessHandle,
    request: Option<&[u8]>,
) -> io::Result<ProcessHandle> {
    if let (Some(request), Some(input)) = (request, &process.input)
        && let Err(e) = platform::send_all_unless_closed(input, request)
    {
        process.kill();
        let _ = process.peek_exit(true);
        let _ = process.reap();
        return Err(e);
    }
    Ok(process)
}
