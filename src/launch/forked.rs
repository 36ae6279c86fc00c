//! Tasks forked from the front end's own process: a third way to start a
//! worker, beside executing a program ([`local::spawn`](super::local::spawn))
//! and the fork server, for a front end whose tasks must start from the
//! program's state at the moment they start. The Python package is one: as
//! under the original DummyMP, each task is a copy of the Python program
//! made when it starts, so that it sees the program's globals as they are
//! then and can run functions that could never be sent to another process.
//!
//! The front end says how its process is copied safely through a
//! [`ForkHost`]; a task of a
//! [`ForeignWorker::forked`](crate::engine::ForeignWorker::forked) worker is
//! then started here:
//!
//! 1. the launcher makes the worker's link (a socket pair) and message pipe
//!    as for any worker, and a pipe for the memory note (below);
//! 2. [`ForkHost::prepare`] makes the process ready to be copied (the
//!    Python package takes the interpreter's lock and flushes its output);
//! 3. `fork`; the parent calls [`ForkHost::resume`] and returns a
//!    [`ProcessHandle`] like any other launcher's: the engine sends the
//!    request, watches, times out, kills and reaps the copy as it would an
//!    executed worker;
//! 4. the copy, in a process group of its own at the task's niceness, hands
//!    its end of the link to [`ForkHost::serve`], which serves the task
//!    through [`foreign::serve_forked`](crate::foreign::serve_forked);
//!    then it writes its memory note and ends with `_exit`: nothing of the
//!    parent's (exit handlers, buffers, the engine it copied) runs again.
//!
//! Only the thread that forked exists in the copy. It never returns into
//! the engine it was copied from, and touches no state of the engine's
//! other threads (load measurement, Slurm's messages): its worker is made
//! afresh by `serve_forked`.
//!
//! **Memory.** A copy shares every page of the parent until one of them
//! writes it, so its peak resident size counts the parent's whole size.
//! The copy therefore measures what it does not share
//! ([`platform::unshared_peak`]) just before it exits and writes it into
//! the memory note, which the engine reads when it reaps the copy; that is
//! the peak it learns for the task, in place of the kernel's peak resident
//! size. A copy that ends otherwise (killed, or `_exit` in the task) leaves
//! no note, and nothing is learned from it.

use std::io;
use std::os::fd::OwnedFd;

use rustix::pipe::PipeFlags;

use super::LaunchSpec;
use super::handle::{ProcessHandle, Reaper};
use crate::platform;
use crate::task::{ForkHost, ForkedLink};

/// The exit code of a copy that could not set itself up.
const SETUP_FAILED: i32 = 3;

/// The exit code of a copy whose [`ForkHost::serve`] panicked.
const SERVE_PANICKED: i32 = 101;

/// Starts `spec`'s worker as a copy of this process made by `host`.
pub(crate) fn start(host: &dyn ForkHost, spec: &LaunchSpec) -> io::Result<ProcessHandle> {
    let (ours, theirs) = super::local::spawn::stream_pair()?;
    let (stdout, their_stdout) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
    let (note, their_note) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
    host.prepare();
    // SAFETY: `fork` is a system call. The copy has only this thread: it
    // runs nothing but `copy_main`, which uses no lock another thread of
    // this process may hold (the front end's `serve` sets its own right
    // first, as the `ForkHost` contract says) and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        drop((ours, stdout, note));
        copy_main(host, theirs, their_stdout, their_note, spec.niceness);
    }
    let forked = if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    };
    host.resume();
    let pid = forked?;
    drop((theirs, their_stdout, their_note));
    // Also here, so that the group exists before the engine can signal it,
    // whichever of the two runs first.
    let _ = rustix::process::setpgid(
        rustix::process::Pid::from_raw(pid),
        rustix::process::Pid::from_raw(pid),
    );
    let pid = pid as u32;
    let pidfd = match platform::open_pidfd(pid) {
        Ok(pidfd) => pidfd,
        Err(e) => {
            abandon(pid);
            return Err(e);
        }
    };
    for fd in [&stdout, &note] {
        if let Err(e) = rustix::io::ioctl_fionbio(fd, true) {
            abandon(pid);
            return Err(e.into());
        }
    }
    let mut process = ProcessHandle::new(pid, pidfd, Some(ours), stdout, None, Reaper::Us);
    process.memory_note = Some(note);
    Ok(process)
}

/// Kills and reaps a copy that cannot be handed to the engine.
fn abandon(pid: u32) {
    let _ = platform::signal_process(pid, rustix::process::Signal::KILL);
    let _ = rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid as i32),
        rustix::process::WaitOptions::empty(),
    );
}

/// What the copy runs: its own process group and niceness, the task, the
/// memory note, `_exit`.
fn copy_main(
    host: &dyn ForkHost,
    input: OwnedFd,
    output: OwnedFd,
    note: OwnedFd,
    niceness: Option<i32>,
) -> ! {
    let ready = (|| -> io::Result<()> {
        rustix::process::setpgid(None, None)?;
        if let Some(niceness) = niceness {
            rustix::process::setpriority_process(None, niceness)?;
        }
        Ok(())
    })();
    let code = match ready {
        // A panic must not unwind into the engine this copy was made from.
        Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.serve(ForkedLink { input, output })
        }))
        .unwrap_or(SERVE_PANICKED),
        Err(_) => SETUP_FAILED,
    };
    if let Some(peak) = platform::unshared_peak() {
        let _ = rustix::io::write(&note, &peak.to_le_bytes());
    }
    // SAFETY: `_exit` is a system call that ends this process without
    // running the parent's exit handlers or flushing its buffers again.
    unsafe { libc::_exit(code) }
}
