//! An engine's end of the fork server: a channel of its own, on which it
//! asks for workers and hears of their exits.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::SERVER;
use super::since_init::{Limits, current_limits, env_changes, limit_changes, sorted_env};
use super::wire::{Reply, Request, receive, send, seqpacket_pair};
use crate::platform::{self, ExitInfo, Interest};

/// An engine's channel to the fork server, with the exits it reported.
pub(crate) struct ForkChannel {
    socket: OwnedFd,
    exits: Mutex<HashMap<u32, Reply>>,
    /// Set when an exit was taken off the socket and stored: the socket
    /// no longer says so, so the engine asks [`ForkChannel::take_stored`].
    stored: AtomicBool,
    /// What the server's workers start with.
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    limits: Limits,
}

impl std::fmt::Debug for ForkChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForkChannel").finish_non_exhaustive()
    }
}

impl ForkChannel {
    /// A channel of its own for an engine, when this process has a server.
    pub(crate) fn open() -> Option<Arc<ForkChannel>> {
        let server = SERVER.get()?;
        let guard = server.lock().unwrap_or_else(PoisonError::into_inner);
        let link = guard.as_ref().filter(|l| l.owner == std::process::id())?;
        let (ours, theirs) = seqpacket_pair().ok()?;
        send(&link.link, &Request::Open, &[theirs.as_fd()]).ok()?;
        Some(Arc::new(ForkChannel {
            socket: ours,
            exits: Mutex::new(HashMap::new()),
            stored: AtomicBool::new(false),
            env: link.env.clone(),
            cwd: link.cwd.clone(),
            limits: link.limits,
        }))
    }

    /// Readable when the server has reported something.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Asks for a worker with these standard descriptors, without waiting
    /// for it: [`ForkChannel::forked`] gives the server's answers, in the
    /// order of the requests (so that several forks overlap with the
    /// parent's own work instead of each waiting for the server).
    pub(crate) fn request_fork(
        &self,
        stdio: [BorrowedFd<'_>; 3],
        niceness: Option<i32>,
    ) -> io::Result<()> {
        let cwd = std::env::current_dir()
            .ok()
            .filter(|now| Some(now) != self.cwd.as_ref());
        let env = env_changes(&self.env, &sorted_env());
        let limits = limit_changes(&self.limits, &current_limits());
        let request = Request::Fork {
            niceness,
            cwd,
            env,
            limits,
        };
        send(&self.socket, &request, &stdio)
    }

    /// The server's answer to the oldest [`ForkChannel::request_fork`] not
    /// answered yet, waiting for it: the worker's pid and a pidfd. Exits
    /// reported meanwhile are stored.
    pub(crate) fn forked(&self) -> io::Result<(u32, OwnedFd)> {
        loop {
            let (reply, fd) = receive::<Reply>(&self.socket, true)?
                .ok_or_else(|| io::Error::other("the fork server has gone"))?;
            match reply {
                Reply::Forked { pid } => {
                    let pidfd = fd.ok_or_else(|| io::Error::other("no pidfd came"))?;
                    return Ok((pid, pidfd));
                }
                Reply::Failed { errno } => return Err(io::Error::from_raw_os_error(errno)),
                exited @ Reply::Exited { pid, .. } => self.store(pid, exited),
            }
        }
    }

    /// Takes in the exits the server reported, without blocking.
    pub(crate) fn collect(&self) {
        while let Ok(Some((reply, _))) = receive::<Reply>(&self.socket, false) {
            if let Reply::Exited { pid, .. } = reply {
                self.store(pid, reply);
            }
        }
    }

    fn store(&self, pid: u32, exit: Reply) {
        self.lock().insert(pid, exit);
        self.stored.store(true, Ordering::Relaxed);
    }

    /// Whether exits were stored since the last call: exits taken off the
    /// socket (by [`ForkChannel::fork`], or while looking for another
    /// worker's) that the socket's readiness no longer announces. Ask
    /// [`ForkChannel::knows_exit_of`] for each worker then.
    pub(crate) fn take_stored(&self) -> bool {
        self.stored.swap(false, Ordering::Relaxed)
    }

    /// Whether worker `pid`'s exit is stored, waiting to be looked at.
    pub(crate) fn knows_exit_of(&self, pid: u32) -> bool {
        self.lock().contains_key(&pid)
    }

    /// How worker `pid` exited, once the server said so (waiting for that
    /// when `block`).
    pub(crate) fn exit_of(&self, pid: u32, block: bool) -> io::Result<Option<ExitInfo>> {
        loop {
            self.collect();
            if let Some(Reply::Exited { code, signal, .. }) = self.lock().get(&pid) {
                return Ok(Some(match (code, signal) {
                    (_, Some(signal)) => ExitInfo::Signaled(*signal),
                    (code, None) => ExitInfo::Exited(code.unwrap_or(0)),
                }));
            }
            if !block {
                return Ok(None);
            }
            platform::wait_for(&[(self.socket.as_fd(), Interest::Readable)], None)?;
        }
    }

    /// Forgets worker `pid`'s exit; its peak resident memory in bytes.
    pub(crate) fn forget(&self, pid: u32) -> Option<u64> {
        match self.lock().remove(&pid) {
            Some(Reply::Exited { peak_rss, .. }) if peak_rss > 0 => Some(peak_rss),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Reply>> {
        self.exits.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
