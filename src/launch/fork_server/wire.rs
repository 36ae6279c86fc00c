//! The fork server's wire format: the messages on the program's link and
//! on each engine's channel (postcard over sequenced-packet sockets), and
//! the descriptors that travel with them.

use std::ffi::OsString;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};

use super::since_init::LimitChange;

/// The largest message on a channel (a fork request with the changes to
/// the environment since `init`); a request that would be larger makes the
/// engine execute the worker instead.
pub(super) const MAX_MESSAGE: usize = 60 * 1024;

/// What goes to the server on the program's link or a channel.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Request {
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

/// What the server says on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Reply {
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

/// A connected pair of sequenced-packet sockets (messages keep their
/// boundaries, and descriptors travel with them).
pub(super) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends one message with descriptors.
pub(super) fn send(
    socket: &OwnedFd,
    message: &impl Serialize,
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
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
pub(super) fn receive<T: for<'de> Deserialize<'de>>(
    socket: &OwnedFd,
    block: bool,
) -> io::Result<Option<(T, Option<OwnedFd>)>> {
    Ok(receive_all(socket, block)?.map(|(message, mut fds)| {
        let first = (!fds.is_empty()).then(|| fds.remove(0));
        (message, first)
    }))
}

pub(super) fn receive_all<T: for<'de> Deserialize<'de>>(
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
