//! Signals as events for the event loop: each signal we handle writes a
//! byte into a pipe of its own (signal-hook's self-pipe), whose read end the
//! loop polls.

use std::io::{self, PipeReader, Read};
use std::os::fd::{AsFd, BorrowedFd};

use dummymp::engine::Engine;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGTSTP};

use crate::error::CliError;

/// A signal that asks us to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl StopSignal {
    /// Its number.
    pub(crate) fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => SIGINT,
            StopSignal::Terminate => SIGTERM,
            StopSignal::Hangup => SIGHUP,
        }
    }
}

/// A pipe that receives a byte each time its signal arrives.
#[derive(Debug)]
pub struct SignalPipe {
    reader: PipeReader,
}

impl SignalPipe {
    fn register(signal: i32) -> io::Result<SignalPipe> {
        let (reader, writer) = io::pipe()?;
        rustix::io::ioctl_fionbio(&reader, true)?;
        signal_hook::low_level::pipe::register(signal, writer)?;
        Ok(SignalPipe { reader })
    }

    /// The descriptor to poll.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.reader.as_fd()
    }

    /// Empties the pipe; returns how many times the signal arrived since
    /// the last call (signals that arrive together may count once).
    pub(crate) fn take(&self) -> usize {
        let mut count = 0;
        let mut buffer = [0u8; 64];
        loop {
            match (&self.reader).read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => count += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        count
    }
}

/// The pipes of every signal the event loop handles.
#[derive(Debug)]
pub struct SignalPipes {
    /// SIGINT, SIGTERM and SIGHUP.
    pub stop: [(StopSignal, SignalPipe); 3],
    /// SIGTSTP (Ctrl-Z): see [`stop_with_jobs`].
    pub terminal_stop: SignalPipe,
}

impl SignalPipes {
    /// Installs the handlers. From now on these signals no longer end the
    /// process by themselves.
    pub(crate) fn install() -> Result<SignalPipes, CliError> {
        let register = |signal| {
            SignalPipe::register(signal).map_err(CliError::os("cannot install signal handlers"))
        };
        Ok(SignalPipes {
            stop: [
                (StopSignal::Interrupt, register(SIGINT)?),
                (StopSignal::Terminate, register(SIGTERM)?),
                (StopSignal::Hangup, register(SIGHUP)?),
            ],
            terminal_stop: register(SIGTSTP)?,
        })
    }
}

/// Ctrl-Z: the jobs run in process groups of their own, which the terminal
/// does not stop, so the engine pauses them (their timeouts stop too);
/// then this process stops, as SIGTSTP would have stopped it. Once it is
/// continued (`fg`, SIGCONT) the jobs are continued.
pub fn stop_with_jobs(engine: &mut Engine) -> Result<(), CliError> {
    engine.pause_all();
    let stopped = signal_hook::low_level::emulate_default_handler(SIGTSTP);
    engine.resume_all();
    stopped.map_err(CliError::os("cannot stop on Ctrl-Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_becomes_a_byte_in_its_pipe() {
        // SIGURG is ignored by default and used by no other test here.
        let pipe = SignalPipe::register(signal_hook::consts::SIGURG).unwrap();
        assert_eq!(pipe.take(), 0);
        signal_hook::low_level::raise(signal_hook::consts::SIGURG).unwrap();
        assert_eq!(pipe.take(), 1);
        assert_eq!(pipe.take(), 0);
        assert_eq!(StopSignal::Interrupt.number(), 2);
    }
}
