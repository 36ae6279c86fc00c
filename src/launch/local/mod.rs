//! The local launcher: tasks as processes of this machine, children of this
//! process ([`spawn`]) or of its fork server (see
//! [`fork_server`](crate::launch::fork_server)), with a [`watchdog`] that
//! ends commands if this program dies.
//!
//! The channel to the fork server and the watchdog are opened on first use
//! and kept here, per engine.

pub(crate) mod spawn;
pub(crate) mod watch_table;
pub(crate) mod watchdog;

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use super::fork_server::ForkChannel;
use super::handle::ProcessHandle;
use super::{LaunchIo, LaunchSpec};
use watchdog::Watchdog;

/// A start under way: its process, or a fork the fork server has been
/// asked for and has not answered yet (see [`LocalState::finish`]).
pub(crate) enum Starting {
    Ready(ProcessHandle),
    Forking(spawn::PendingFork),
}

/// A fork the server refused for a reason of its own (not the system's)
/// falls back to executing the worker.
fn unless_refused_by_the_server(error: io::Error, spec: &LaunchSpec) -> io::Result<ProcessHandle> {
    if error.raw_os_error().is_some() {
        Err(error)
    } else {
        spawn::launch(spec)
    }
}

/// Something opened on first use.
enum Lazy<T> {
    NotOpened,
    Open(T),
    Unavailable,
}

/// What the local launcher keeps for one engine.
pub(crate) struct LocalState {
    fork: Lazy<Arc<ForkChannel>>,
    watchdog: Lazy<Watchdog>,
}

impl Default for LocalState {
    fn default() -> LocalState {
        LocalState {
            fork: Lazy::NotOpened,
            watchdog: Lazy::NotOpened,
        }
    }
}

impl std::fmt::Debug for LocalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalState").finish_non_exhaustive()
    }
}

impl LocalState {
    /// Starts `spec` on this machine: a worker of this very program through
    /// the fork server when it may (asked for here, its answer taken by
    /// [`LocalState::finish`]; a refusal of the server's own, not the
    /// system's, falls back to executing the worker), anything else by
    /// spawning it.
    pub(crate) fn start(&mut self, spec: &LaunchSpec) -> io::Result<Starting> {
        let forkable = spec.forkable && spec.io == LaunchIo::Worker;
        match self.fork_channel().filter(|_| forkable) {
            Some(channel) => match spawn::request_worker(&channel, spec) {
                Ok(pending) => Ok(Starting::Forking(pending)),
                Err(e) => unless_refused_by_the_server(e, spec).map(Starting::Ready),
            },
            None => spawn::launch(spec).map(Starting::Ready),
        }
    }

    /// Completes a start: waits for the fork server's answer to a fork
    /// [`LocalState::start`] asked for.
    pub(crate) fn finish(starting: Starting, spec: &LaunchSpec) -> io::Result<ProcessHandle> {
        match starting {
            Starting::Ready(process) => Ok(process),
            Starting::Forking(pending) => pending
                .finish()
                .or_else(|e| unless_refused_by_the_server(e, spec)),
        }
    }

    /// Puts `process` in the watchdog's table (started on first use, with
    /// `grace` between `SIGTERM` and `SIGKILL`), so that it ends if this
    /// program dies.
    pub(crate) fn watch(&mut self, process: &mut ProcessHandle, grace: Duration) {
        if let Lazy::NotOpened = self.watchdog {
            self.watchdog = match Watchdog::start(grace) {
                Ok(watchdog) => Lazy::Open(watchdog),
                Err(e) => {
                    log::warn!(
                        target: "dummymp::engine",
                        "cannot start the watchdog that ends commands if this program dies: {e}"
                    );
                    Lazy::Unavailable
                }
            };
        }
        if let Lazy::Open(watchdog) = &self.watchdog {
            process.watch = Some(watchdog.watch(process.watch_target()));
        }
    }

    /// The channel to the fork server, opened on first use; `None` when
    /// this process has no fork server.
    fn fork_channel(&mut self) -> Option<Arc<ForkChannel>> {
        if let Lazy::NotOpened = self.fork {
            self.fork = match ForkChannel::open() {
                Some(channel) => Lazy::Open(channel),
                None => Lazy::Unavailable,
            };
        }
        match &self.fork {
            Lazy::Open(channel) => Some(Arc::clone(channel)),
            _ => None,
        }
    }

    /// Readable when the fork server reported the exit of one of our
    /// workers (`None` until a worker was forked).
    pub(crate) fn exits_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.fork {
            Lazy::Open(channel) => Some(channel.fd()),
            _ => None,
        }
    }

    /// Whether exits were taken off the fork server's channel since the
    /// last call (while forking, or while looking for another worker's
    /// exit): [`LocalState::exits_fd`] no longer announces them.
    pub(crate) fn take_stored_exits(&self) -> bool {
        match &self.fork {
            Lazy::Open(channel) => channel.take_stored(),
            _ => false,
        }
    }
}
