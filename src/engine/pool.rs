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

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::launch::{LaunchSpec, Launched};
use crate::load::OwnProcesses;
use crate::platform;

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
}

/// A worker waiting for its next task.
struct IdleWorker {
    kind: WorkerKind,
    process: Launched,
}

/// The idle workers.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Vec<IdleWorker>,
}

impl Pool {
    /// Takes an idle worker of `kind`, if there is one.
    pub(crate) fn take(&mut self, kind: &WorkerKind) -> Option<Launched> {
        let at = self.idle.iter().rposition(|w| &w.kind == kind)?;
        Some(self.idle.swap_remove(at).process)
    }

    /// Keeps a worker that finished its task for the next one.
    pub(crate) fn put(&mut self, kind: WorkerKind, process: Launched) {
        self.idle.push(IdleWorker { kind, process });
    }

    /// How many workers wait.
    pub(crate) fn len(&self) -> usize {
        self.idle.len()
    }

    /// Their pidfds, readable when one exits while idle.
    pub(crate) fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.idle.iter().map(|w| w.process.pidfd.as_fd())
    }

    /// Forgets (and reaps) idle workers that exited, and kills what they
    /// left in their process groups.
    pub(crate) fn forget_exited(&mut self, own: &OwnProcesses) {
        self.idle.retain(|worker| {
            let exited = matches!(worker.process.peek_exit(false), Ok(Some(_)) | Err(_));
            if exited {
                end_exited(&worker.process, own);
            }
            !exited
        });
    }

    /// Ends every idle worker: closing its link tells it to exit; one that
    /// does not within `grace` is killed. Waits until each is reaped.
    pub(crate) fn retire_all(&mut self, grace: Duration, own: &OwnProcesses) {
        let mut workers: Vec<Launched> = self.idle.drain(..).map(|w| w.process).collect();
        for worker in &mut workers {
            worker.input = None;
        }
        for worker in &workers {
            let exited = platform::wait_readable(&[worker.pidfd.as_fd()], Some(grace))
                .is_ok_and(|ready| ready[0]);
            if !exited {
                let _ = platform::signal_group(worker.pid, rustix::process::Signal::KILL);
            }
            let _ = worker.peek_exit(true);
            end_exited(worker, own);
        }
    }
}

/// Reaps an exited worker and kills what is left of its process group.
fn end_exited(worker: &Launched, own: &OwnProcesses) {
    let _ = platform::signal_group(worker.pid, rustix::process::Signal::KILL);
    let _ = worker.reap();
    own.remove_group(worker.pid);
}
