//! The controlling terminal, as far as starting processes is concerned.

use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

/// Whether this process is in the foreground process group of its
/// controlling terminal, where Ctrl-Z (`SIGTSTP`) and the other signals a
/// terminal sends can reach it at any moment. `false` without a
/// controlling terminal.
pub(crate) fn in_terminal_foreground() -> bool {
    // Opened once: the terminal stays the same (a process that leaves its
    // session with `setsid` gets none, and this one then fails below).
    static TERMINAL: OnceLock<Option<OwnedFd>> = OnceLock::new();
    let terminal = TERMINAL.get_or_init(|| {
        rustix::fs::open(
            "/dev/tty",
            OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
    });
    let Some(terminal) = terminal else {
        return false;
    };
    rustix::termios::tcgetpgrp(terminal)
        .is_ok_and(|foreground| foreground == rustix::process::getpgrp())
}
