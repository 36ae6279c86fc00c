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
//!
//! Its parts: [`client`] (an engine's channel), [`wire`] (the messages),
//! [`server`] (the server's loop), [`child`] (a forked worker's first
//! steps) and [`since_init`] (what changed in the program since the fork).

mod child;
mod client;
mod server;
mod since_init;
mod wire;

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

pub(crate) use client::ForkChannel;
use since_init::{Limits, current_limits, sorted_env};
use wire::seqpacket_pair;

use crate::platform;

/// Set to `0` to start every worker by executing the program.
pub const FORK_SERVER_VARIABLE: &str = "DUMMYMP_FORK_SERVER";

/// What a forked copy runs once its descriptors are set up: it serves its
/// task and returns the process's exit code. Handed down by
/// [`init`](crate::init), which knows what a worker is.
pub(crate) type WorkerMain = fn() -> i32;

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
pub(crate) fn start(worker_main: WorkerMain) {
    SERVER.get_or_init(|| Mutex::new(start_server(worker_main).ok().flatten()));
}

fn start_server(worker_main: WorkerMain) -> io::Result<Option<ServerLink>> {
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
            server::serve(theirs, limits, worker_main)
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
