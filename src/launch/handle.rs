//! [`ProcessHandle`]: what starting a task returns, and the only way to act
//! on its process afterwards (terminate, kill, pause, resume, renice, reap).
//! Each launcher says, through [`Control`], what those actions mean for the
//! processes it starts.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::process::Signal;

use super::fork_server::ForkChannel;
use super::local::watch_table::WatchEntry;
use super::slurm::explanation;
use super::slurm::messages::SrunMessages;
use super::slurm::renice;
use crate::platform::{self, ExitInfo};
use crate::task::{Outcome, ProcessExit};

/// How the actions on a task reach its processes: decided by the launcher
/// that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// A local process leading a process group of its own: every signal
    /// and the niceness go to the whole group.
    LocalGroup,
    /// `srun` running a job step, maybe on another node. Once the step is
    /// launched, asking it to end (`SIGTERM`, `SIGCONT`), pausing and
    /// continuing reach every process of the step through Slurm
    /// (`scancel --signal`), on whichever node it runs, so the kill grace
    /// period applies as on one machine; before that, `SIGTERM` goes to
    /// `srun`, which then gives up the step. `SIGKILL` goes to `srun`
    /// alone, whose helper process then cancels the step (a signal to the
    /// whole group would kill that helper too, and leave the step
    /// running). The niceness can only be changed where the step's
    /// processes are this machine's (see [`renice::renice_step`]).
    SrunStep,
}

/// Who reaps a started process.
#[derive(Debug, Clone)]
pub(crate) enum Reaper {
    /// This process: it is our child.
    Us,
    /// The fork server, whose child it is; it reports the exit on this
    /// channel.
    ForkServer(Arc<ForkChannel>),
}

/// A started task's process, leader of a process group of its own, with
/// its pipes: returned by [`Launch::finish`](super::Launch::finish).
#[derive(Debug)]
pub(crate) struct ProcessHandle {
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
    pub(super) reaper: Reaper,
    /// How actions reach it.
    pub(super) control: Control,
    /// What Slurm says about the job step, when it is one.
    pub(super) srun_messages: Option<SrunMessages>,
    /// Its entry in the watchdog's table, while it has one.
    pub(super) watch: Option<WatchEntry>,
    /// A copy of this process forked for the task: where it leaves the
    /// memory it did not share (see [`forked`](super::forked)).
    pub(super) memory_note: Option<OwnedFd>,
}

impl ProcessHandle {
    /// A handle on a process that was just started by `reaper`, acted on
    /// as `control` says.
    pub(super) fn new(
        pid: u32,
        pidfd: OwnedFd,
        input: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: Option<OwnedFd>,
        reaper: Reaper,
    ) -> ProcessHandle {
        ProcessHandle {
            pid,
            pidfd,
            input,
            stdout,
            stderr,
            reaper,
            control: Control::LocalGroup,
            srun_messages: None,
            watch: None,
            memory_note: None,
        }
    }

    /// How actions reach this process.
    pub(crate) fn control(&self) -> Control {
        self.control
    }

    /// What the watchdog signals if this program dies while the task runs
    /// (as `kill(2)` takes it: negative for a process group).
    pub(super) fn watch_target(&self) -> i32 {
        -(self.pid as i32)
    }

    /// Asks the task to end: `SIGTERM`, and `SIGCONT` so that a paused task
    /// can act on it.
    pub(crate) fn terminate(&self) {
        if let (Control::SrunStep, Some(step)) = (self.control, &self.srun_messages)
            && step.signal(&[Signal::TERM, Signal::CONT])
        {
            return;
        }
        self.end_signal(Signal::TERM);
        self.end_signal(Signal::CONT);
    }

    /// Ends the task now: `SIGKILL`.
    pub(crate) fn kill(&self) {
        self.end_signal(Signal::KILL);
    }

    /// Stops the task (`SIGSTOP`) until [`ProcessHandle::resume`].
    pub(crate) fn pause(&self) {
        match (self.control, &self.srun_messages) {
            (Control::SrunStep, Some(step)) => step.pause(),
            _ => self.group_signal(Signal::STOP),
        }
    }

    /// Continues a paused task (`SIGCONT`).
    pub(crate) fn resume(&self) {
        match (self.control, &self.srun_messages) {
            (Control::SrunStep, Some(step)) => step.resume(),
            _ => self.group_signal(Signal::CONT),
        }
    }

    /// Sets the niceness of the task's processes; an error when it may not
    /// (raising a priority back needs privileges; a Slurm step on another
    /// node cannot be reniced).
    pub(crate) fn renice(&self, niceness: i32) -> io::Result<()> {
        match (self.control, &self.srun_messages) {
            (Control::SrunStep, Some(step)) => renice::renice_step(step, niceness),
            _ => platform::renice_group(self.pid, niceness),
        }
    }

    fn end_signal(&self, signal: Signal) {
        match self.control {
            Control::LocalGroup => self.group_signal(signal),
            Control::SrunStep => {
                if let Err(e) = platform::signal_process(self.pid, signal) {
                    log::debug!(target: "dummymp::engine", "cannot signal task process {}: {e}", self.pid);
                }
            }
        }
    }

    fn group_signal(&self, signal: Signal) {
        if let Err(e) = platform::signal_group(self.pid, signal) {
            log::debug!(target: "dummymp::engine", "cannot signal task process group {}: {e}", self.pid);
        }
    }

    /// How the process exited, if it has (waiting for that when `block`),
    /// leaving it unreaped.
    pub(crate) fn peek_exit(&self, block: bool) -> io::Result<Option<ExitInfo>> {
        match &self.reaper {
            Reaper::Us => platform::peek_exit(&self.pidfd, block),
            Reaper::ForkServer(channel) => channel.exit_of(self.pid, block),
        }
    }

    /// Reaps the exited process (taking it out of the watchdog's table
    /// first, so that a stale entry can never name a reused id); its peak
    /// resident memory in bytes, when known (for a copy of this process,
    /// the part it did not share with us: see [`forked`](super::forked)).
    pub(crate) fn reap(&mut self) -> Option<u64> {
        self.watch = None;
        let peak = match &self.reaper {
            Reaper::Us => platform::reap_exited_with_usage(&self.pidfd),
            Reaper::ForkServer(channel) => channel.forget(self.pid),
        };
        match self.memory_note.take() {
            Some(note) => read_note(&note),
            None => peak,
        }
    }

    /// Closes the link to a worker, which tells it to exit once it is
    /// idle. The link is shut down, not only closed: a copy of this
    /// process forked since holds a copy of the descriptor, which would
    /// otherwise keep the link open.
    pub(crate) fn close_link(&mut self) {
        if let Some(input) = self.input.take() {
            let _ = rustix::net::shutdown(&input, rustix::net::Shutdown::Write);
        }
    }

    /// The descriptor that becomes readable when the exit is known: the
    /// pidfd of our own child; for a fork server's, the engine polls the
    /// server's channel instead (see [`ProcessHandle::exit_on_channel`]).
    pub(crate) fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.reaper {
            Reaper::Us => Some(self.pidfd.as_fd()),
            Reaper::ForkServer(_) => None,
        }
    }

    /// Whether its exit is announced on the fork server's channel (see
    /// [`Launch::exits_fd`](super::Launch::exits_fd)).
    pub(crate) fn exit_on_channel(&self) -> bool {
        matches!(self.reaper, Reaper::ForkServer(_))
    }

    /// Whether the exit is already known without looking at
    /// [`ProcessHandle::exit_fd`] or the fork server's channel: a fork
    /// server's report that was taken off the channel and stored.
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
            Some(messages) => explanation::explain(outcome, exit, &messages.news()),
            None => (outcome, exit),
        }
    }
}

/// What a forked task's memory note says: the unshared peak it wrote
/// before it exited, if it did (see [`forked`](super::forked)).
fn read_note(note: &OwnedFd) -> Option<u64> {
    let mut bytes = [std::mem::MaybeUninit::<u8>::uninit(); 8];
    match platform::read_now(note, &mut bytes) {
        Ok(Some(data)) if data.len() == 8 => Some(u64::from_le_bytes(data.try_into().ok()?)),
        _ => None,
    }
}
