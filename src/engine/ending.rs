//! Ending tasks: when and how a task's process group is signalled.
//!
//! A task we end (a timeout, a kill, a stop) gets `SIGTERM` to its whole
//! process group, then `SIGKILL` once the kill grace period is over. A task
//! that ends, however it ends, has what is left of its process group
//! killed: [`Sweeper::sweep`] reaps the leader, sends `SIGKILL` to the group
//! (at the end of the grace period, when we were ending the task, so that
//! its processes get the time to clean up that `SIGTERM` promised) and,
//! when anything was left in it, follows every leftover process through a
//! pidfd until it is gone, so that "done" means nothing of the task
//! survives. (A process that left the group with `setsid` is no longer the
//! task's and is left alone.)

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::launch::{Launched, Launcher, LeftoverPolicy};
use crate::load::OwnProcesses;
use crate::outcome::Outcome;
use crate::platform;

/// Why we end a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// It ran past its timeout.
    TimedOut,
    /// It was asked to end (kill, killall, a stop).
    Killed,
    /// Its worker's message stream broke: no result can come, and a worker
    /// that went on writing would block on the pipe nobody reads.
    BrokenStream,
}

impl EndReason {
    /// The outcome of a task we ended for this reason.
    pub(crate) fn outcome(self) -> Outcome {
        match self {
            EndReason::TimedOut => Outcome::TimedOut,
            EndReason::Killed => Outcome::Killed,
            EndReason::BrokenStream => Outcome::Failed {
                reason: "the worker's message stream broke".to_string(),
            },
        }
    }
}

/// A task being ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending {
    pub reason: EndReason,
    /// When `SIGKILL` follows, unless it was sent already.
    pub kill_at: Option<Instant>,
}

/// Starts ending a task: `SIGTERM` now, `SIGKILL` after `grace`.
pub(crate) fn terminate(
    launcher: &Launcher,
    process: &Launched,
    reason: EndReason,
    grace: Duration,
    now: Instant,
) -> Ending {
    launcher.signal(process, Signal::TERM);
    // A paused task must run to act on it.
    launcher.signal(process, Signal::CONT);
    Ending {
        reason,
        kill_at: Some(now + grace),
    }
}

/// `SIGKILL` to a task's whole process group, now.
pub(crate) fn kill(launcher: &Launcher, process: &Launched, ending: &mut Ending) {
    launcher.signal(process, Signal::KILL);
    ending.kill_at = None;
}

/// A process group whose leader was reaped but where other processes were
/// left.
struct Leftovers {
    pgid: u32,
    /// Pidfds of the processes found in the group, until each is gone.
    members: Vec<OwnedFd>,
    /// When they get `SIGKILL`, if they have not yet.
    kill_at: Option<Instant>,
}

/// Follows the leftover processes of ended tasks until they are gone.
#[derive(Default)]
pub(crate) struct Sweeper {
    groups: Vec<Leftovers>,
}

impl Sweeper {
    /// After a task's process exited: reaps it, kills what is left of its
    /// process group (now, or at the end of the grace period when we were
    /// ending the task and it is still to come), and follows the
    /// leftovers; unless the launcher says otherwise (see
    /// [`Launcher::leftovers`]). Returns the process's peak resident set
    /// size in bytes, when the kernel told it.
    pub(crate) fn sweep(
        &mut self,
        launcher: &Launcher,
        process: &Launched,
        own: &OwnProcesses,
        ending: Option<Ending>,
    ) -> Option<u64> {
        let peak_rss = process.reap();
        let now = Instant::now();
        let killed = ending.is_some_and(|ending| ending.kill_at.is_none());
        let kill_at = match launcher.leftovers(killed) {
            LeftoverPolicy::Kill => ending
                .and_then(|ending| ending.kill_at)
                .filter(|at| *at > now),
            LeftoverPolicy::FollowFor(patience) => Some(now + patience),
            LeftoverPolicy::Leave => {
                own.remove_group(process.pid);
                return peak_rss;
            }
        };
        // The group's id cannot be reused while any process of it lives, so
        // after the leader is reaped a signal to it reaches only leftovers;
        // none left gives ESRCH.
        let signal = kill_at.is_none().then_some(Signal::KILL);
        if platform::signal_group_exists(process.pid, signal) {
            let mut leftovers = Leftovers {
                pgid: process.pid,
                members: Vec::new(),
                kill_at,
            };
            leftovers.find_members();
            self.groups.push(leftovers);
        } else {
            own.remove_group(process.pid);
        }
        peak_rss
    }

    /// When leftovers are due for `SIGKILL`.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.groups.iter().filter_map(|g| g.kill_at).min()
    }

    /// Whether leftovers are still being followed.
    pub(crate) fn is_idle(&self) -> bool {
        self.groups.is_empty()
    }

    /// The pidfds to poll: readable when a leftover exits.
    pub(crate) fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.groups
            .iter()
            .flat_map(|g| g.members.iter().map(|fd| fd.as_fd()))
    }

    /// Forgets leftovers that are gone; kills any newcomer to their groups.
    pub(crate) fn check(&mut self, own: &OwnProcesses, now: Instant) {
        self.groups.retain_mut(|group| {
            if group.kill_at.is_some_and(|at| now >= at) {
                group.kill_at = None;
                let _ = platform::signal_group(group.pgid, Signal::KILL);
            }
            group.members.retain(|fd| !has_exited(fd));
            if !group.members.is_empty() {
                return true;
            }
            // A process forked just before our signal landed would have
            // missed it: look again until the group is empty.
            let signal = group.kill_at.is_none().then_some(Signal::KILL);
            if platform::signal_group_exists(group.pgid, signal) {
                group.find_members();
                if !group.members.is_empty() {
                    return true;
                }
            }
            own.remove_group(group.pgid);
            false
        });
    }
}

impl Leftovers {
    /// Opens a pidfd on every process of the group that has not exited.
    fn find_members(&mut self) {
        self.members = platform::members_of_group(self.pgid)
            .into_iter()
            .filter_map(|pid| platform::open_pidfd(pid).ok())
            .filter(|fd| !has_exited(fd))
            .collect();
    }
}

/// Whether the process behind `pidfd` has exited (a zombie has).
fn has_exited(pidfd: &OwnedFd) -> bool {
    platform::wait_readable(&[pidfd.as_fd()], Some(Duration::ZERO)).is_ok_and(|ready| ready[0])
}
