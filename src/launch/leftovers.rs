//! What a task leaves behind: once its process is reaped, what is left in
//! its process group is killed (at the end of the grace period when we
//! were ending the task, so that its processes get the time to clean up
//! that `SIGTERM` promised) and, when anything was left, every leftover
//! process is followed through a pidfd until it is gone, so that "done"
//! means nothing of the task survives. (A process that left the group with
//! `setsid` is no longer the task's and is left alone.) What is done
//! depends on the launcher ([`LeftoverPolicy`]).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::handle::{Control, ProcessHandle};
use crate::load::OwnProcesses;
use crate::platform;

/// How long the helper process of an `srun` we killed gets to cancel the
/// job step before it is killed too (it needs the controller, which may
/// take up to its message timeout, 10 s by default, to answer).
const SRUN_HELPER_PATIENCE: Duration = Duration::from_secs(60);

/// What to do with the processes a task's process left in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeftoverPolicy {
    /// Kill them (at the end of the grace period when we were ending the
    /// task) and follow them until they are gone.
    Kill,
    /// Follow them until they are gone, killing them only if they are
    /// still there after this long.
    FollowFor(Duration),
    /// Leave them: they are none of the task's.
    Leave,
}

/// What to do with what a task started as `control` left in its process
/// group once its process is reaped; `killed`: we sent it `SIGKILL`.
fn policy(control: Control, killed: bool) -> LeftoverPolicy {
    match control {
        Control::LocalGroup => LeftoverPolicy::Kill,
        // What is left is srun's helper. After srun was killed it cancels
        // the step: let it. Otherwise the step is over and the helper exits
        // by itself.
        Control::SrunStep if killed => LeftoverPolicy::FollowFor(SRUN_HELPER_PATIENCE),
        Control::SrunStep => LeftoverPolicy::Leave,
    }
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
    /// process group (now, or at `kill_at` when we were ending the task and
    /// its grace period is still to come; `None` with `killed` when we sent
    /// `SIGKILL` already), and follows the leftovers; unless its launcher
    /// says otherwise (see [`LeftoverPolicy`]). Returns the process's peak
    /// resident set size in bytes, when the kernel told it.
    pub(crate) fn sweep(
        &mut self,
        process: &mut ProcessHandle,
        own: &OwnProcesses,
        killed: bool,
        kill_at: Option<Instant>,
    ) -> Option<u64> {
        let peak_rss = process.reap();
        let now = Instant::now();
        let kill_at = match policy(process.control(), killed) {
            LeftoverPolicy::Kill => kill_at.filter(|at| *at > now),
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
