//! A worker forked by the server: the fork, and what the copy does before
//! it serves its task.

use std::ffi::OsString;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::path::PathBuf;

use super::WorkerMain;
use crate::platform;

/// How a forked worker starts.
pub(super) struct WorkerStart {
    pub niceness: Option<i32>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, Option<OsString>)>,
}

/// Forks a worker with `stdio` as its descriptors 0 to 2; the copy closes
/// `server_fds`, the server's own descriptors, first.
pub(super) fn fork_worker(
    server_fds: &[RawFd],
    stdio: Vec<OwnedFd>,
    start: WorkerStart,
    worker_main: WorkerMain,
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
            for &fd in server_fds {
                // SAFETY: `close` is a system call; these descriptors belong
                // to the server, which this copy is not.
                unsafe { libc::close(fd) };
            }
            become_worker(stdin, stdout, stderr, start, worker_main)
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
fn become_worker(
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
    start: WorkerStart,
    worker_main: WorkerMain,
) -> ! {
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
    std::process::exit(worker_main())
}
