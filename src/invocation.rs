//! How a process of ours is started as a helper of another: the flags
//! that open its command line and the ticket that must come with them.
//!
//! A worker is started with [`WORKER_FLAG`] and a ticket as its first two
//! arguments, *and* a socket as its standard input (or, through a launcher
//! that replaces standard input, the same ticket in the environment variable
//! [`TICKET_VARIABLE`]). Only these together make a worker: arguments typed
//! by hand or copied by a task into a command of its own (whose standard
//! input is a terminal, a file, a pipe or `/dev/null`), or a variable
//! inherited by some unrelated program, never do, so worker mode cannot be
//! entered by accident. The engine's watchdog is recognised the same way,
//! with [`WATCHDOG_FLAG`]. What a process does with its role is decided in
//! [`role`](crate::role).

use std::ffi::OsString;

/// The first argument of a worker's command line.
pub(crate) const WORKER_FLAG: &str = "__dummymp_worker__";

/// The first argument of the engine's watchdog (see
/// `launch::local::watchdog`), which is recognised the same way.
pub(crate) const WATCHDOG_FLAG: &str = "__dummymp_watchdog__";

/// The environment variable that carries a worker's ticket.
pub(crate) const TICKET_VARIABLE: &str = "DUMMYMP_WORKER_TICKET";

/// This process's ticket for the workers it starts: 128 random bits, in
/// hex, drawn once.
pub(crate) fn ticket() -> &'static str {
    static TICKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TICKET.get_or_init(new_ticket)
}

/// A fresh ticket.
fn new_ticket() -> String {
    let mut bytes = [0u8; 16];
    if !crate::platform::random_bytes(&mut bytes) {
        // No entropy source: still unique per process and moment, which is
        // all that guarding against accidents needs.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = (now ^ u128::from(std::process::id()) << 64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether this process was started with `flag` and a ticket as its first
/// two arguments, *and* either its standard input is a socket (how the
/// engine starts a worker on this machine) or the environment variable
/// [`TICKET_VARIABLE`] holds the same ticket (how it starts one through a
/// launcher that replaces standard input, and its watchdog).
pub(crate) fn started_with(flag: &str) -> bool {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_none_or(|first| first != flag) {
        return false;
    }
    let Some(ticket) = args.next().filter(|t| !t.is_empty()) else {
        return false;
    };
    crate::platform::stdin_is_socket()
        || std::env::var_os(TICKET_VARIABLE).is_some_and(|expected| expected == ticket)
}

/// The two arguments that open a worker's command line.
pub(crate) fn worker_args() -> [OsString; 2] {
    [OsString::from(WORKER_FLAG), OsString::from(ticket())]
}
