//! The one place where dummymp signals processes, waits for descriptors,
//! and reaps a task's process with its resource usage; and finding the
//! processes left in a process group.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal};

use crate::platform::ExitInfo;

/// What to wait for on a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Data (or end of file) to read.
    Readable,
    /// Only the other end closing (not data arriving).
    HangUp,
    /// Room to write.
    Writable,
}

/// Sleeps until one of `fds` is readable (or hung up) or `timeout` passes
/// (`None`: no limit); returns which are. A signal that interrupts the
/// wait gives all `false`.
pub(crate) fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let wanted: Vec<(BorrowedFd<'_>, Interest)> =
        fds.iter().map(|fd| (*fd, Interest::Readable)).collect();
    wait_for(&wanted, timeout)
}

/// Sleeps until one of `fds` shows what it is watched for, or `timeout`
/// passes (`None`: no limit); returns which do. An error or hang-up on a
/// descriptor always counts. A signal that interrupts the wait gives all
/// `false`.
pub(crate) fn wait_for(
    fds: &[(BorrowedFd<'_>, Interest)],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(fd, interest)| {
            let flags = match interest {
                Interest::Readable => PollFlags::IN,
                Interest::HangUp => PollFlags::RDHUP,
                Interest::Writable => PollFlags::OUT,
            };
            PollFd::from_borrowed_fd(*fd, flags)
        })
        .collect();
    let timeout = timeout.map(|t| {
        Timespec::try_from(t).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        })
    });
    match rustix::event::poll(&mut polled, timeout.as_ref()) {
        Ok(_) => Ok(polled.iter().map(|fd| !fd.revents().is_empty()).collect()),
        Err(rustix::io::Errno::INTR) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e.into()),
    }
}

/// Sends `signal` to every process of the process group `pgid`. A group
/// that no longer exists is not an error.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    let Some(pgid) = Pid::from_raw(pgid as i32) else {
        return Ok(());
    };
    match rustix::process::kill_process_group(pgid, signal) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sets the niceness of every process of the group `pgid`.
pub(crate) fn renice_group(pgid: u32, niceness: i32) -> io::Result<()> {
    let Some(pgid) = Pid::from_raw(pgid as i32) else {
        return Ok(());
    };
    Ok(rustix::process::setpriority_pgrp(Some(pgid), niceness)?)
}

/// Sends `signal` to the process `pid`.
pub(crate) fn signal_process(pid: u32, signal: Signal) -> io::Result<()> {
    let Some(pid) = Pid::from_raw(pid as i32) else {
        return Ok(());
    };
    Ok(rustix::process::kill_process(pid, signal)?)
}

/// Reaps the exited child behind `pidfd` (if it has exited) and returns the
/// largest resident set size it (and the children it waited for) reached,
/// in bytes, when the kernel reports it.
pub(crate) fn reap_exited_with_usage(pidfd: &OwnedFd) -> Option<u64> {
    reap_exited_with_status(pidfd).1
}

/// Reaps the exited child behind `pidfd` (if it has exited): how it exited,
/// and the largest resident set size it (and the children it waited for)
/// reached, in bytes.
pub(crate) fn reap_exited_with_status(pidfd: &OwnedFd) -> (Option<ExitInfo>, Option<u64>) {
    // SAFETY: zeroed `siginfo_t` and `rusage` are valid values of these
    // plain C structures.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the raw `waitid` system call (the libc wrapper has no
    // resource usage argument) with a valid pidfd and pointers to the two
    // structures above, which live across the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            libc::P_PIDFD,
            pidfd.as_raw_fd(),
            &mut info as *mut libc::siginfo_t,
            libc::WEXITED | libc::WNOHANG,
            &mut usage as *mut libc::rusage,
        )
    };
    if result != 0 {
        return (None, None);
    }
    // SAFETY: reading the fields of a `siginfo_t` that `waitid` filled in
    // for a child that exited (CLD_EXITED, CLD_KILLED or CLD_DUMPED).
    let (code, status) = unsafe { (info.si_code, info.si_status()) };
    let exit = match code {
        libc::CLD_EXITED => Some(ExitInfo::Exited(status)),
        libc::CLD_KILLED | libc::CLD_DUMPED => Some(ExitInfo::Signaled(status)),
        _ => None,
    };
    // ru_maxrss is in kilobytes.
    (
        exit,
        (usage.ru_maxrss > 0).then(|| usage.ru_maxrss as u64 * 1024),
    )
}

/// Whether this process has a single thread (read from `/proc`).
pub(crate) fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/stat").is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_ascii_whitespace().nth(17))
            .is_some_and(|threads| threads == "1")
    })
}

/// Sends `signal` to the process group `pgid` (`None`: no signal, only
/// the check); whether the group exists (false when it has no process
/// left, or none we may signal).
pub(crate) fn signal_group_exists(pgid: u32, signal: Option<Signal>) -> bool {
    Pid::from_raw(pgid as i32).is_some_and(|pgid| match signal {
        Some(signal) => rustix::process::kill_process_group(pgid, signal).is_ok(),
        None => rustix::process::test_kill_process_group(pgid).is_ok(),
    })
}

/// The processes of the group `pgid`, from one scan of the process table
/// (zombies included: they have exited, which their pidfds tell).
pub(crate) fn members_of_group(pgid: u32) -> Vec<u32> {
    let mut samples = Vec::new();
    if super::ProcessTable::new().scan(&mut samples).is_err() {
        return Vec::new();
    }
    samples
        .iter()
        .filter(|p| p.pgrp as u32 == pgid)
        .map(|p| p.pid as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_test_thread_is_not_alone() {
        // The test harness runs this on a thread of its own.
        assert!(!single_threaded());
    }

    #[test]
    fn this_process_is_in_its_own_group_listing() {
        let me = std::process::id();
        let group = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        assert!(members_of_group(group).contains(&me));
    }

    #[test]
    fn hang_up_ignores_data_and_sees_the_other_end_close() {
        let (ours, theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        rustix::io::write(&theirs, b"data").unwrap();
        let watched = [(ours.as_fd(), Interest::HangUp)];
        assert_eq!(wait_for(&watched, Some(Duration::ZERO)).unwrap(), [false]);
        drop(theirs);
        assert_eq!(wait_for(&watched, Some(Duration::ZERO)).unwrap(), [true]);
    }

    #[test]
    fn a_pipe_with_data_is_readable_and_an_empty_one_is_not() {
        let (empty_read, _empty_write) = rustix::pipe::pipe().unwrap();
        let (full_read, full_write) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&full_write, b"x").unwrap();
        let ready = wait_readable(
            &[empty_read.as_fd(), full_read.as_fd()],
            Some(Duration::ZERO),
        )
        .unwrap();
        assert_eq!(ready, [false, true]);
    }
}
