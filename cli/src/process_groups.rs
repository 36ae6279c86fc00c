//! Ending a job's whole process group: SIGTERM, a grace period, then
//! SIGKILL; and knowing when every process of the group is gone.
//!
//! dummymp is a child subreaper, so a process that a job leaves behind
//! becomes our child when its parent exits: a group is empty once we have
//! no child left in it (`waitpid(-pgid)` reports none).

use std::time::{Duration, Instant};

use dummymp::OwnProcesses;
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, kill_process_group, waitpgid};

/// A process group being ended.
#[derive(Debug)]
struct EndingGroup {
    pgid: Pid,
    /// When SIGKILL follows if the group is not gone by then.
    kill_at: Instant,
    killed: bool,
    /// Whether the job's own process (the group leader) has been reaped;
    /// until then the main reaping loop owns the group's wait statuses.
    leader_reaped: bool,
}

/// The process groups that are being ended.
#[derive(Debug)]
pub struct GroupTerminator {
    grace: Duration,
    groups: Vec<EndingGroup>,
    own: OwnProcesses,
}

impl GroupTerminator {
    /// Ends groups with `grace` between SIGTERM and SIGKILL, and stops
    /// counting each as ours (in `own`) once it is gone.
    pub fn new(grace: Duration, own: OwnProcesses) -> GroupTerminator {
        GroupTerminator {
            grace,
            groups: Vec::new(),
            own,
        }
    }

    /// Sends SIGTERM to group `pgid` (whose leader is still to be reaped)
    /// and SIGKILL after the grace period.
    pub fn terminate(&mut self, pgid: Pid, now: Instant) {
        if self.groups.iter().any(|g| g.pgid == pgid) {
            return;
        }
        // An error means the group is already gone.
        let _ = kill_process_group(pgid, Signal::TERM);
        self.groups.push(EndingGroup {
            pgid,
            kill_at: now + self.grace,
            killed: false,
            leader_reaped: false,
        });
    }

    /// Whether group `pgid` is being ended.
    pub fn is_ending(&self, pgid: Pid) -> bool {
        self.groups.iter().any(|g| g.pgid == pgid)
    }

    /// Records that the leader of group `pgid` has been reaped.
    pub fn leader_reaped(&mut self, pgid: Pid) {
        if let Some(group) = self.groups.iter_mut().find(|g| g.pgid == pgid) {
            group.leader_reaped = true;
        }
    }

    /// Sends SIGKILL to every group now (a second Ctrl-C).
    pub fn kill_all_now(&mut self) {
        for group in &mut self.groups {
            let _ = kill_process_group(group.pgid, Signal::KILL);
            group.killed = true;
        }
    }

    /// Sends SIGKILL to the groups whose grace period is over.
    pub fn kill_overdue(&mut self, now: Instant) {
        for group in &mut self.groups {
            if !group.killed && now >= group.kill_at {
                let _ = kill_process_group(group.pgid, Signal::KILL);
                group.killed = true;
            }
        }
    }

    /// When the next grace period ends.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.groups
            .iter()
            .filter(|g| !g.killed)
            .map(|g| g.kill_at)
            .min()
    }

    /// Whether no group is being ended.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Forgets the groups that are gone. Reaps (and ignores) their members
    /// that have exited; call it after the job leaders have been reaped.
    pub fn forget_gone(&mut self) {
        let own = &self.own;
        self.groups.retain(|group| {
            let gone = group.leader_reaped && is_gone(group);
            if gone {
                own.remove_group(group.pgid.as_raw_nonzero().get() as u32);
            }
            !gone
        });
    }
}

/// Whether no process of `group` is left (or, when its processes are not
/// our children, whether nothing more can be done about them).
fn is_gone(group: &EndingGroup) -> bool {
    loop {
        match waitpgid(group.pgid, WaitOptions::NOHANG) {
            // A member exited: reaped; look again.
            Ok(Some(_)) => continue,
            // Members are alive.
            Ok(None) => return false,
            Err(Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    // None of our children is left in the group. Processes that are not our
    // children (if we could not become a subreaper) cannot be waited for:
    // they are given up once they have been sent SIGKILL.
    match rustix::process::test_kill_process_group(group.pgid) {
        Err(Errno::SRCH) => true,
        _ => group.killed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    #[test]
    fn a_group_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 30 & echo ready; wait"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        // TERM must not arrive before the trap is set.
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "ready\n");
        let pgid = Pid::from_raw(child.id() as i32).unwrap();
        let own = OwnProcesses::new();
        let mut terminator = GroupTerminator::new(Duration::from_secs(3600), own);
        let start = Instant::now();
        terminator.terminate(pgid, start);
        assert!(terminator.is_ending(pgid));
        assert_eq!(
            terminator.next_deadline(),
            Some(start + Duration::from_secs(3600))
        );
        terminator.kill_overdue(start);
        assert!(!terminator.groups[0].killed, "still in its grace period");
        terminator.kill_overdue(start + Duration::from_secs(3600));
        assert!(terminator.groups[0].killed);
        assert_eq!(terminator.next_deadline(), None);
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));
        terminator.leader_reaped(pgid);
        terminator.forget_gone();
        assert!(terminator.is_empty());
    }
}
