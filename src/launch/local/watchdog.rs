//! Command tasks must not outlive the program that started them, even when
//! it is killed with `SIGKILL`: a watchdog process ends them.
//!
//! A worker watches its parent itself (its standard input closes when the
//! parent dies). A command cannot, so the engine starts one watchdog, this
//! same program run again with a flag (handled before `main`, like a
//! worker), before its first command. The watchdog's standard input is a
//! pipe only the engine writes to: it reads end of file exactly when the
//! engine is dropped or its process dies. Its standard output is a table of
//! the process groups of the running commands (a memory file the engine
//! updates with one `pwrite` per start and per end). At end of file the
//! watchdog sends `SIGTERM` to every group in the table, waits the kill
//! grace period if there was any, sends `SIGKILL`, and exits.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::MemfdFlags;
use rustix::process::Signal;

use super::watch_table::{Table, WatchEntry, read_table};
use crate::invocation::{TICKET_VARIABLE, WATCHDOG_FLAG, ticket};

/// The launcher's handle on its watchdog.
pub(crate) struct Watchdog {
    pid: u32,
    pidfd: OwnedFd,
    /// The write end of the watchdog's standard input; dropping it wakes
    /// the watchdog up.
    alive: Option<OwnedFd>,
    table: Arc<Table>,
}

impl Watchdog {
    /// Starts the watchdog, which will give groups `grace` between
    /// `SIGTERM` and `SIGKILL`.
    pub(crate) fn start(grace: Duration) -> io::Result<Watchdog> {
        let table = rustix::fs::memfd_create("dummymp-watchdog", MemfdFlags::CLOEXEC)?;
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let grace_ms = grace.as_millis().to_string();
        let (pid, pidfd) = super::spawn::launch_helper(
            &crate::platform::self_exe_for_spawn(),
            crate::platform::self_exe_display_name(),
            &[
                OsStr::new(WATCHDOG_FLAG),
                OsStr::new(ticket()),
                OsStr::new(&grace_ms),
            ],
            (TICKET_VARIABLE, ticket()),
            read,
            rustix::io::fcntl_dupfd_cloexec(&table, 3)?,
        )?;
        Ok(Watchdog {
            pid,
            pidfd,
            alive: Some(write),
            table: Arc::new(Table::new(table)),
        })
    }

    /// Puts `target` (a `kill(2)` target: a negative process group or a
    /// positive process id) in the table.
    pub(crate) fn watch(&self, target: i32) -> WatchEntry {
        Table::add(&self.table, target)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // End of file for the watchdog: it finds the table empty and exits.
        self.alive = None;
        let _ = crate::platform::wait_readable(
            &[std::os::fd::AsFd::as_fd(&self.pidfd)],
            Some(Duration::from_secs(5)),
        );
        if crate::platform::reap_exited(&self.pidfd)
            .ok()
            .flatten()
            .is_none()
        {
            log::debug!(target: "dummymp::engine", "watchdog {} did not exit in time", self.pid);
        }
    }
}

/// The watchdog's program (the process started by [`Watchdog::start`]):
/// waits for its standard input to end, then ends everything in the table
/// on its standard output. `grace_ms` is its first argument after the
/// ticket.
pub(crate) fn run(grace_ms: &str) -> ! {
    let grace = Duration::from_millis(grace_ms.parse().unwrap_or(1000));
    let stdin = std::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        match rustix::io::read(&stdin, &mut buf) {
            Ok(0) => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    let targets = read_table(&std::io::stdout());
    let signal_all = |signal| {
        for &target in &targets {
            let _ = match target {
                group if group < 0 => crate::platform::signal_group(group.unsigned_abs(), signal),
                process => crate::platform::signal_process(process as u32, signal),
            };
        }
    };
    if !targets.is_empty() {
        signal_all(Signal::TERM);
        std::thread::sleep(grace);
        signal_all(Signal::KILL);
    }
    std::process::exit(0)
}
