//! The fork server's own loop (in the forked copy of the program): it
//! forks workers when an engine asks and reports their exits, until the
//! program's link closes.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use super::WorkerMain;
use super::child::{WorkerStart, fork_worker};
use super::since_init::{Limits, take_on_limits};
use super::wire::{Reply, Request, receive, receive_all, send};
use crate::platform::{self, ExitInfo, Interest};

/// A worker the server forked and has not reaped yet.
struct Child {
    pid: u32,
    pidfd: OwnedFd,
    /// The channel that asked for it (an index into `channels`).
    channel: usize,
}

/// The server: forks workers when asked and reports their exits, until the
/// program's link closes. Never returns.
pub(super) fn serve(link: OwnedFd, at_init: Limits, worker_main: WorkerMain) -> ! {
    let mut applied = at_init;
    let mut channels: Vec<Option<OwnedFd>> = Vec::new();
    let mut children: Vec<Child> = Vec::new();
    loop {
        let mut fds = vec![(link.as_fd(), Interest::Readable)];
        let open: Vec<usize> = (0..channels.len())
            .filter(|&i| channels[i].is_some())
            .collect();
        for &i in &open {
            if let Some(channel) = &channels[i] {
                fds.push((channel.as_fd(), Interest::Readable));
            }
        }
        for child in &children {
            fds.push((child.pidfd.as_fd(), Interest::Readable));
        }
        let Ok(ready) = platform::wait_for(&fds, None) else {
            exit_server();
        };
        if ready[0] {
            match receive::<Request>(&link, false) {
                Ok(Some((Request::Open, Some(channel)))) => channels.push(Some(channel)),
                Ok(Some(_)) | Err(_) => {}
                // The program is gone.
                Ok(None) => exit_server(),
            }
        }
        for (at, &i) in open.iter().enumerate() {
            if !ready[1 + at] {
                continue;
            }
            let Some(channel) = channels[i].as_ref() else {
                continue;
            };
            match receive_all::<Request>(channel, false) {
                Ok(Some((
                    Request::Fork {
                        niceness,
                        cwd,
                        env,
                        limits,
                    },
                    stdio,
                ))) => {
                    take_on_limits(&mut applied, &at_init, &limits);
                    let start = WorkerStart { niceness, cwd, env };
                    let server_fds: Vec<RawFd> = std::iter::once(link.as_raw_fd())
                        .chain(channels.iter().flatten().map(|c| c.as_raw_fd()))
                        .chain(children.iter().map(|c| c.pidfd.as_raw_fd()))
                        .collect();
                    let reply = fork_worker(&server_fds, stdio, start, worker_main);
                    match reply {
                        Ok((pid, pidfd)) => {
                            let sent = send(channel, &Reply::Forked { pid }, &[pidfd.as_fd()]);
                            if sent.is_ok() {
                                children.push(Child {
                                    pid,
                                    pidfd,
                                    channel: i,
                                });
                            } else {
                                children.push(Child {
                                    pid,
                                    pidfd,
                                    channel: usize::MAX,
                                });
                            }
                        }
                        Err(e) => {
                            let errno = e.raw_os_error().unwrap_or(libc::EAGAIN);
                            let _ = send(channel, &Reply::Failed { errno }, &[]);
                        }
                    }
                }
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => channels[i] = None,
            }
        }
        let first_child = 1 + open.len();
        let mut index = 0;
        children.retain(|child| {
            let exited = ready.get(first_child + index).copied().unwrap_or(false);
            index += 1;
            if !exited {
                return true;
            }
            let report = reap(child);
            if let Some(Some(channel)) = channels.get(child.channel) {
                let _ = send(channel, &report, &[]);
            }
            false
        });
    }
}
/// Reaps an exited child; what to report about it.
fn reap(child: &Child) -> Reply {
    let (exit, peak_rss) = platform::reap_exited_with_status(&child.pidfd);
    let (code, signal) = match exit {
        Some(ExitInfo::Exited(code)) => (Some(code), None),
        Some(ExitInfo::Signaled(signal)) => (None, Some(signal)),
        None => (None, None),
    };
    Reply::Exited {
        pid: child.pid,
        code,
        signal,
        peak_rss: peak_rss.unwrap_or(0),
    }
}

/// Ends the server without running the program's exit handlers.
fn exit_server() -> ! {
    // SAFETY: `_exit` is a system call that ends this process.
    unsafe { libc::_exit(0) }
}
