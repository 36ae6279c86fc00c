//! Descriptors: reading and writing pipes and sockets without blocking or
//! without `SIGPIPE`, and facts about the standard descriptors.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::io::Errno;
use rustix::net::SendFlags;

/// Reads what `fd` (non-blocking) holds now into `buf`: `Some(bytes)`,
/// empty at end of file, or `None` when nothing is there yet (or the read
/// was interrupted: a level-triggered `poll` says so again at once).
/// Nothing is zeroed first.
pub(crate) fn read_now(
    fd: impl AsFd,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<Option<&mut [u8]>> {
    match rustix::io::read(fd.as_fd(), buf) {
        Ok((data, _)) => Ok(Some(data)),
        Err(Errno::INTR | Errno::AGAIN) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads what `fd` (non-blocking) holds now into the spare capacity of
/// `bytes` (and no further): `Some(n)` bytes came (0 at end of file, or
/// when there is no spare capacity), or `None` when nothing is there yet.
pub(crate) fn read_now_into_spare(fd: impl AsFd, bytes: &mut Vec<u8>) -> io::Result<Option<usize>> {
    loop {
        match rustix::io::read(fd.as_fd(), rustix::buffer::spare_capacity(&mut *bytes)) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes all of `data` to `fd`, waiting while a non-blocking `fd` is full.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                super::wait_for(&[(fd, super::Interest::Writable)], None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Sends all of `data` on `socket` without ever raising `SIGPIPE`; a peer
/// that closed its end is no error (what it did is told some other way).
pub(crate) fn send_all_unless_closed(socket: impl AsFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::net::send(socket.as_fd(), data, SendFlags::NOSIGNAL) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => continue,
            Err(Errno::PIPE | Errno::CONNRESET) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Sends what of `data` `socket` takes now, without waiting and without
/// ever raising `SIGPIPE`: `Some(n)` bytes went (the kernel takes a send of
/// at most [`ATOMIC_SEND`] bytes on a Unix stream socket whole or not at
/// all), `None` when its buffer is full. A peer that closed its end is an
/// error here (`EPIPE`).
pub(crate) fn send_now(socket: impl AsFd, data: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match rustix::net::send(
            socket.as_fd(),
            data,
            SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
        ) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The most bytes a Unix stream socket takes in one piece whatever its
/// buffer size: Linux sends up to half the socket's send buffer less 64
/// bytes as one buffer, which it takes whole as soon as any room is left,
/// and the smallest send buffer it allows is over 4 KiB.
pub(crate) const ATOMIC_SEND: usize = 2048;

/// Makes `fd` non-blocking.
pub(crate) fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, true)?)
}

/// Whether standard input is a socket.
pub(crate) fn stdin_is_socket() -> bool {
    rustix::fs::fstat(std::io::stdin()).is_ok_and(|stat| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Socket
    })
}

/// Fills `bytes` from the kernel's random source; false when there is
/// none.
pub(crate) fn random_bytes(bytes: &mut [u8]) -> bool {
    rustix::rand::getrandom(bytes, rustix::rand::GetRandomFlags::empty()).is_ok()
}

/// Whether a failure with `errno` is a shortage of processes, memory or
/// descriptors, which may pass once others are freed.
pub(crate) fn is_resource_shortage(errno: i32) -> bool {
    matches!(
        Errno::from_raw_os_error(errno),
        Errno::AGAIN | Errno::NOMEM | Errno::MFILE | Errno::NFILE
    )
}

/// This process's niceness.
pub(crate) fn own_niceness() -> i32 {
    rustix::process::getpriority_process(None).unwrap_or(0)
}

/// The conventional name of signal number `signal`, for the signals a
/// process commonly dies of.
pub(crate) fn signal_name(signal: i32) -> Option<&'static str> {
    use rustix::process::Signal;
    let known = [
        (Signal::HUP, "SIGHUP"),
        (Signal::INT, "SIGINT"),
        (Signal::QUIT, "SIGQUIT"),
        (Signal::ILL, "SIGILL"),
        (Signal::TRAP, "SIGTRAP"),
        (Signal::ABORT, "SIGABRT"),
        (Signal::BUS, "SIGBUS"),
        (Signal::FPE, "SIGFPE"),
        (Signal::KILL, "SIGKILL"),
        (Signal::USR1, "SIGUSR1"),
        (Signal::SEGV, "SIGSEGV"),
        (Signal::USR2, "SIGUSR2"),
        (Signal::PIPE, "SIGPIPE"),
        (Signal::ALARM, "SIGALRM"),
        (Signal::TERM, "SIGTERM"),
        (Signal::XCPU, "SIGXCPU"),
        (Signal::XFSZ, "SIGXFSZ"),
        (Signal::SYS, "SIGSYS"),
    ];
    known
        .iter()
        .find(|(s, _)| s.as_raw() == signal)
        .map(|(_, name)| *name)
}
