//! The fork server: fresh workers without `exec`.
//!
//! Starting a worker by executing the program again costs the kernel's
//! `exec`, the dynamic loader and the Rust runtime's start-up, every time:
//! most of what a fresh worker costs. [`init`](crate::init) therefore forks,
//! while the program is still single-threaded (the first line of `main`), a
//! small *fork server*: a copy of the program as it is at that moment. An
//! engine that needs a fresh worker asks it for one; it forks a copy of
//! itself, which sets up the descriptors it was handed and serves the task
//! like an executed worker would (same protocol, same checks). The fork of
//! a small single-threaded process costs a fraction of an `exec`.
//!
//! What differs from an executed worker: it starts from the program's
//! memory as it was when `init` ran, and `ps` shows it with the program's
//! own command line. Its environment variables, working directory and
//! resource limits (`setrlimit`) are brought up to date with the program's
//! at the moment it starts, as an executed worker's would be (the server
//! takes on the program's limits before it forks, so that a process limit
//! refuses the fork as it would refuse the program's own). The
//! server is skipped (workers are executed as before) when the program has
//! more than one thread at `init`, when `DUMMYMP_FORK_SERVER=0` is set, for
//! a [custom worker program](crate::DummyMp::set_worker_program), foreign
//! workers and other launchers.
//!
//! The server is a child of the program; its workers are its children, so
//! it reaps them and reports each exit (status and peak memory) to the
//! engine that asked for the worker. Every engine has a channel of its own
//! to it (a sequenced-packet socket pair). The server exits when the
//! program does (its link to the program closes); its workers watch their
//! own links like any worker.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use rustix::process::{Resource, Rlimit};
use serde::{Deserialize, Serialize};

use crate::platform::{self, ExitInfo, Interest};

/// Set to `0` to start every worker by executing the program.
pub const FORK_SERVER_VARIABLE: &str = "DUMMYMP_FORK_SERVER";

/// The largest message on a channel (a fork request with the changes to
/// the environment since `init`); a request that would be larger makes the
/// engine execute the worker instead.
const MAX_MESSAGE: usize = 60 * 1024;

/// What goes to the server on the program's link or a channel.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// (On the link) a new channel: its end comes with the message.
    Open,
    /// (On a channel) fork a worker; its standard input, output and error
    /// come with the message. It moves to `cwd` and applies `env` (set,
    /// or remove when `None`) first: what changed since `init`.
    Fork {
        niceness: Option<i32>,
        cwd: Option<PathBuf>,
        env: Vec<(OsString, Option<OsString>)>,
        limits: Vec<LimitChange>,
    },
}

/// The resource limits a process has, in the order of [`RESOURCES`].
type Limits = [Rlimit; RESOURCES.len()];

/// Every resource limit a worker inherits.
const RESOURCES: [Resource; 16] = [
    Resource::Cpu,
    Resource::Fsize,
    Resource::Data,
    Resource::Stack,
    Resource::Core,
    Resource::Rss,
    Resource::Nproc,
    Resource::Nofile,
    Resource::Memlock,
    Resource::As,
    Resource::Locks,
    Resource::Sigpending,
    Resource::Msgqueue,
    Resource::Nice,
    Resource::Rtprio,
    Resource::Rttime,
];

/// One resource limit that differs from what it was at `init`: its index
/// in [`RESOURCES`], then its soft and hard values (`None`: unlimited).
type LimitChange = (u8, Option<u64>, Option<u64>);

/// This process's resource limits.
fn current_limits() -> Limits {
    RESOURCES.map(rustix::process::getrlimit)
}

/// The limits of `now` that differ from `at_init`.
fn limit_changes(at_init: &Limits, now: &Limits) -> Vec<LimitChange> {
    (0u8..)
        .zip(at_init.iter().zip(now))
        .filter(|(_, (then, now))| then != now)
        .map(|(index, (_, now))| (index, now.current, now.maximum))
        .collect()
}

/// What the server says on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Reply {
    /// The worker runs; its pidfd comes with the message.
    Forked { pid: u32 },
    /// It could not fork.
    Failed { errno: i32 },
    /// A worker of this channel exited and was reaped.
    Exited {
        pid: u32,
        code: Option<i32>,
        signal: Option<i32>,
        peak_rss: u64,
    },
}

/// The program's link to its server, kept by the process that made it.
struct ServerLink {
    link: OwnedFd,
    /// The process that forked the server: a child of the program that
    /// uses the library after a `fork` of its own must not share the link.
    owner: u32,
    /// The environment and working directory the server (and so every
    /// worker it forks) started with.
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    limits: Limits,
}

static SERVER: OnceLock<Mutex<Option<ServerLink>>> = OnceLock::new();

/// Starts the fork server, once, if this process may have one (see the
/// module documentation). Called by [`init`](crate::init) in a process that
/// is not a worker.
pub(crate) fn start() {
    SERVER.get_or_init(|| Mutex::new(start_server().ok().flatten()));
}

fn start_server() -> io::Result<Option<ServerLink>> {
    if std::env::var_os(FORK_SERVER_VARIABLE).is_some_and(|v| v == "0")
        || !platform::single_threaded()
    {
        return Ok(None);
    }
    // What every worker computes first, computed once, before the fork.
    let _ = crate::identity::current();
    let env = sorted_env();
    let cwd = std::env::current_dir().ok();
    let limits = current_limits();
    let (ours, theirs) = seqpacket_pair()?;
    // SAFETY: `fork` is a system call; this process has a single thread
    // (checked above), so the child is a complete copy with no lock held
    // by a thread that does not exist in it.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(ours);
            serve(theirs, limits)
        }
        _ => Ok(Some(ServerLink {
            link: ours,
            owner: std::process::id(),
            env,
            cwd,
            limits,
        })),
    }
}

fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// This process's environment, sorted by name.
fn sorted_env() -> Vec<(OsString, OsString)> {
    let mut env: Vec<_> = std::env::vars_os().collect();
    env.sort();
    env
}

/// The changes that turn environment `from` into `to` (both sorted):
/// `(name, Some(value))` sets, `(name, None)` removes.
fn env_changes(
    from: &[(OsString, OsString)],
    to: &[(OsString, OsString)],
) -> Vec<(OsString, Option<OsString>)> {
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < from.len() || j < to.len() {
        match (from.get(i), to.get(j)) {
            (Some((a, _)), Some((b, value))) if a > b => {
                changes.push((b.clone(), Some(value.clone())));
                j += 1;
            }
            (Some((a, old)), Some((b, new))) if a == b => {
                if old != new {
                    changes.push((b.clone(), Some(new.clone())));
                }
                i += 1;
                j += 1;
            }
            (Some((a, _)), _) => {
                changes.push((a.clone(), None));
                i += 1;
            }
            (None, Some((b, value))) => {
                changes.push((b.clone(), Some(value.clone())));
                j += 1;
            }
            (None, None) => break,
        }
    }
    changes
}

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

    /// Forks a worker with these standard descriptors; returns its pid and
    /// a pidfd.
    pub(crate) fn fork(
        &self,
        stdio: [BorrowedFd<'_>; 3],
        niceness: Option<i32>,
    ) -> io::Result<(u32, OwnedFd)> {
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
        send(&self.socket, &request, &stdio)?;
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

/// Sends one message with descriptors.
fn send(socket: &OwnedFd, message: &impl Serialize, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let bytes = postcard::to_stdvec(message).map_err(io::Error::other)?;
    if bytes.len() > MAX_MESSAGE {
        return Err(io::Error::other(
            "the request is too large for the fork server",
        ));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("too many descriptors for one message"));
    }
    loop {
        match rustix::net::sendmsg(
            socket,
            &[IoSlice::new(&bytes)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message and the first descriptor that came with it (the
/// others, for a `Fork`, through [`receive_all`]). `None` at end of file
/// (or, without `block`, when nothing is there).
fn receive<T: for<'de> Deserialize<'de>>(
    socket: &OwnedFd,
    block: bool,
) -> io::Result<Option<(T, Option<OwnedFd>)>> {
    Ok(receive_all(socket, block)?.map(|(message, mut fds)| {
        let first = (!fds.is_empty()).then(|| fds.remove(0));
        (message, first)
    }))
}

fn receive_all<T: for<'de> Deserialize<'de>>(
    socket: &OwnedFd,
    block: bool,
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut bytes = vec![0u8; MAX_MESSAGE];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let flags = if block {
        RecvFlags::CMSG_CLOEXEC
    } else {
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT
    };
    let received = loop {
        match rustix::net::recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut bytes)],
            &mut control,
            flags,
        ) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) if !block => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    if received.bytes == 0 {
        return Ok(None);
    }
    let message = postcard::from_bytes(&bytes[..received.bytes.min(MAX_MESSAGE)])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((message, fds)))
}

/// A worker the server forked and has not reaped yet.
struct Child {
    pid: u32,
    pidfd: OwnedFd,
    /// The channel that asked for it (an index into `channels`).
    channel: usize,
}

/// The server: forks workers when asked and reports their exits, until the
/// program's link closes. Never returns.
fn serve(link: OwnedFd, at_init: Limits) -> ! {
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
                    let reply = fork_worker(&link, &channels, &children, stdio, start);
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

/// Gives the server the program's resource limits now (those at `init`
/// with `changes`), setting only those that differ from `applied`, what
/// it set last. A limit it may not take on (a hard limit the program
/// raised, which needs a privilege) stays as it was.
fn take_on_limits(applied: &mut Limits, at_init: &Limits, changes: &[LimitChange]) {
    let mut wanted = *at_init;
    for &(index, current, maximum) in changes {
        if let Some(limit) = wanted.get_mut(usize::from(index)) {
            *limit = Rlimit { current, maximum };
        }
    }
    for ((resource, wanted), applied) in RESOURCES.iter().zip(&wanted).zip(applied.iter_mut()) {
        if wanted != applied && rustix::process::setrlimit(*resource, *wanted).is_ok() {
            *applied = *wanted;
        }
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

/// How a forked worker starts.
struct WorkerStart {
    niceness: Option<i32>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, Option<OsString>)>,
}

/// Forks a worker with `stdio` as its descriptors 0 to 2.
fn fork_worker(
    link: &OwnedFd,
    channels: &[Option<OwnedFd>],
    children: &[Child],
    stdio: Vec<OwnedFd>,
    start: WorkerStart,
) -> io::Result<(u32, OwnedFd)> {
    let [stdin, stdout, stderr]: [OwnedFd; 3] = stdio
        .try_into()
        .map_err(|_| io::Error::other("a fork request needs three descriptors"))?;
    // SAFETY: `fork` is a system call; the server has a single thread, so
    // the child is a complete copy with no lock held by a thread that does
    // not exist in it.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // The worker: none of the server's descriptors, its own group,
            // the three it was handed as 0, 1 and 2, then the task.
            let server_fds = std::iter::once(link.as_raw_fd())
                .chain(channels.iter().flatten().map(|c| c.as_raw_fd()))
                .chain(children.iter().map(|c| c.pidfd.as_raw_fd()));
            for fd in server_fds {
                // SAFETY: `close` is a system call; these descriptors belong
                // to the server, which this copy is not.
                unsafe { libc::close(fd) };
            }
            become_worker(stdin, stdout, stderr, start)
        }
        child => {
            let pid = child as u32;
            // Also here, so that the group exists before the engine can
            // signal it, whichever of the two runs first.
            let _ = rustix::process::setpgid(
                rustix::process::Pid::from_raw(child),
                rustix::process::Pid::from_raw(child),
            );
            let pidfd = platform::open_pidfd(pid)?;
            Ok((pid, pidfd))
        }
    }
}

/// In a forked copy: sets up the worker's descriptors and serves its task.
fn become_worker(stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd, start: WorkerStart) -> ! {
    let ready = (|| -> io::Result<()> {
        // A process group of its own, as an executed worker has.
        rustix::process::setpgid(None, None)?;
        rustix::stdio::dup2_stdin(&stdin)?;
        rustix::stdio::dup2_stdout(&stdout)?;
        rustix::stdio::dup2_stderr(&stderr)?;
        if let Some(niceness) = start.niceness {
            rustix::process::setpriority_process(None, niceness)?;
        }
        if let Some(cwd) = &start.cwd {
            // A directory that is gone leaves the worker where it was.
            let _ = std::env::set_current_dir(cwd);
        }
        for (name, value) in &start.env {
            // SAFETY: this forked copy has one thread, which nothing else
            // reads the environment on: changing it cannot race.
            unsafe {
                match value {
                    Some(value) => std::env::set_var(name, value),
                    None => std::env::remove_var(name),
                }
            }
        }
        Ok(())
    })();
    drop((stdin, stdout, stderr));
    if ready.is_err() {
        // SAFETY: `_exit` is a system call that ends this process.
        unsafe { libc::_exit(3) };
    }
    crate::worker::invocation::mark_forked_worker();
    std::process::exit(crate::worker::serve(None))
}

/// Ends the server without running the program's exit handlers.
fn exit_server() -> ! {
    // SAFETY: `_exit` is a system call that ends this process.
    unsafe { libc::_exit(0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn environment_changes_set_change_and_remove() {
        let from = env(&[("A", "1"), ("B", "2"), ("D", "4")]);
        let to = env(&[("B", "2"), ("C", "3"), ("D", "5")]);
        let changes = env_changes(&from, &to);
        assert_eq!(
            changes,
            vec![
                (OsString::from("A"), None),
                (OsString::from("C"), Some(OsString::from("3"))),
                (OsString::from("D"), Some(OsString::from("5"))),
            ]
        );
        assert!(env_changes(&to, &to).is_empty());
    }
}
