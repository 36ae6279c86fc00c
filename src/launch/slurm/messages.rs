//! `srun`'s standard error, taken apart: Slurm's own messages (lines from
//! `srun` and `slurmstepd`) say which step it is, where it runs and how it
//! ended ([`news`](super::news)), and everything else, the task's own
//! error output, goes where it would go locally. What Slurm said also
//! lets the step be signalled through Slurm ([`signals`](super::signals)):
//! a pause asked for before the step is known is sent as soon as it is.
//!
//! A thread per step reads the stream. Slurm's lines are logged (target
//! `dummymp::slurm`: level debug for those that explain how the step
//! ended, trace for the rest) and read; the task's bytes go to this
//! process's standard error (a worker: only what it writes before its
//! output is captured) or to a socket the engine reads as the command's
//! standard error. A line that could be Slurm's is held until its end;
//! any other passes through at once, so that a command's unfinished line
//! is not delayed.
//!
//! `srun` exits only after it has written all it has to say, but a helper
//! process it forks keeps the stream open for a second or two more, so the
//! end of the stream cannot tell when all is read. The thread therefore
//! also watches `srun` itself (a pidfd): once it has exited, everything
//! already in the pipe is read and [`SrunMessages::settle`] returns.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::SendFlags;
use rustix::process::Signal;

use super::news::{StepId, StepNews};
use super::signals;

/// How long [`SrunMessages::settle`] waits at most. It normally returns as
/// soon as the thread has read the pipe after `srun`'s exit; the limit
/// only matters when the engine's end of a command's stream is full.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// A line of Slurm's longer than this is no line of Slurm's.
const MAX_SLURM_LINE: usize = 4096;

/// How the lines Slurm writes start (`slurmstepd-<node>:` on 22.05).
const SLURM_PREFIXES: [&[u8]; 3] = [b"srun: ", b"slurmstepd: ", b"slurmstepd-"];

/// Where the task's own error output goes.
pub(crate) enum Destination {
    /// This process's standard error (a worker's, before its capture).
    OurStderr,
    /// The engine's end of this socket (a command's standard error).
    Socket(OwnedFd),
}

/// What Slurm said about one step, read by a thread of its own.
pub(crate) struct SrunMessages {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// The `scancel` that signals the step.
    scancel: PathBuf,
}

#[derive(Default)]
struct State {
    /// What Slurm said so far.
    news: StepNews,
    /// Whether the task should be stopped (sent `SIGSTOP` once the step is
    /// known, `SIGCONT` when this is cleared).
    paused: bool,
    /// Everything `srun` wrote before it exited has been read.
    settled: bool,
}

impl std::fmt::Debug for SrunMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrunMessages").finish_non_exhaustive()
    }
}

impl SrunMessages {
    /// Starts reading `stderr`, `srun`'s standard error (non-blocking),
    /// until its end; `srun_pidfd` tells when `srun` has exited. `pid` is
    /// `srun`'s, for the log; `scancel` signals the step.
    pub(crate) fn start(
        stderr: OwnedFd,
        srun_pidfd: OwnedFd,
        destination: Destination,
        pid: u32,
        scancel: PathBuf,
    ) -> io::Result<SrunMessages> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            scancel,
        });
        let reader = Reader {
            stderr,
            srun_pidfd: Some(srun_pidfd),
            destination,
            pid,
            splitter: Splitter::default(),
            shared: Arc::clone(&shared),
        };
        std::thread::Builder::new()
            .name("dummymp-srun".into())
            .stack_size(64 * 1024)
            .spawn(move || reader.run())?;
        Ok(SrunMessages { shared })
    }

    /// After `srun` exited: waits until everything it wrote has been read
    /// and passed on.
    pub(crate) fn settle(&self) {
        let deadline = Instant::now() + SETTLE_LIMIT;
        let mut state = self.lock();
        while !state.settled {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::debug!(target: "dummymp::slurm", "srun's messages were not all read in time");
                return;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// What Slurm said so far.
    pub(crate) fn news(&self) -> StepNews {
        self.lock().news.clone()
    }

    /// The step, once `srun` has launched it, and the node it runs on.
    pub(crate) fn step(&self) -> Option<(StepId, Option<String>)> {
        let state = self.lock();
        state.news.step.map(|step| (step, state.news.node.clone()))
    }

    /// Sends `signals` to every process of the step, through Slurm, if the
    /// step is known (launched); false if it is not (yet).
    pub(crate) fn signal(&self, signals: &[Signal]) -> bool {
        let state = self.lock();
        match state.news.step {
            Some(step) => {
                signals::signal_step(&self.shared.scancel, step, signals);
                true
            }
            None => false,
        }
    }

    /// Stops the task (`SIGSTOP` through Slurm), now or as soon as the
    /// step is launched.
    pub(crate) fn pause(&self) {
        let mut state = self.lock();
        state.paused = true;
        if let Some(step) = state.news.step {
            signals::signal_step(&self.shared.scancel, step, &[Signal::STOP]);
        }
    }

    /// Continues a task that [`SrunMessages::pause`] stopped.
    pub(crate) fn resume(&self) {
        let mut state = self.lock();
        let was_paused = std::mem::replace(&mut state.paused, false);
        if let (true, Some(step)) = (was_paused, state.news.step) {
            signals::signal_step(&self.shared.scancel, step, &[Signal::CONT]);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The thread's side.
struct Reader {
    stderr: OwnedFd,
    /// Until `srun` has exited.
    srun_pidfd: Option<OwnedFd>,
    destination: Destination,
    pid: u32,
    splitter: Splitter,
    shared: Arc<Shared>,
}

impl Reader {
    fn run(mut self) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let ready = {
                let mut fds = vec![self.stderr.as_fd()];
                fds.extend(self.srun_pidfd.as_ref().map(|fd| fd.as_fd()));
                match crate::platform::wait_readable(&fds, None) {
                    Ok(ready) => ready,
                    Err(_) => break,
                }
            };
            let srun_exited = ready.get(1).copied().unwrap_or(false);
            let open = self.read_available(&mut buf);
            if srun_exited {
                // Its writes all came before its exit: they are read now.
                self.srun_pidfd = None;
                if open {
                    self.settle();
                }
            }
            if !open {
                break;
            }
        }
        self.settle();
    }

    /// Reads what the pipe holds now; false at its end.
    fn read_available(&mut self, buf: &mut [u8]) -> bool {
        loop {
            match rustix::io::read(&self.stderr, &mut *buf) {
                Ok(0) => return false,
                Ok(n) => self.take(&buf[..n]),
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return true,
                Err(_) => return false,
            }
        }
    }

    fn take(&mut self, data: &[u8]) {
        let Reader {
            splitter,
            destination,
            shared,
            pid,
            ..
        } = self;
        splitter.push(
            data,
            &mut |bytes| pass_on(destination, bytes),
            &mut |line| record(shared, *pid, line),
        );
    }

    /// Passes on an unfinished last line and wakes up [`SrunMessages::settle`].
    fn settle(&mut self) {
        let Reader {
            splitter,
            destination,
            shared,
            pid,
            ..
        } = self;
        splitter.flush(&mut |bytes| pass_on(destination, bytes), &mut |line| {
            record(shared, *pid, line)
        });
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.settled = true;
        shared.changed.notify_all();
    }
}

/// Sends the task's own bytes where they belong. A destination that is
/// gone (the engine finished with the command) takes nothing more.
fn pass_on(destination: &mut Destination, mut bytes: &[u8]) {
    match destination {
        Destination::OurStderr => {
            let _ = io::stderr().write_all(bytes);
        }
        Destination::Socket(socket) => {
            while !bytes.is_empty() {
                match rustix::net::send(&*socket, bytes, SendFlags::NOSIGNAL) {
                    Ok(n) => bytes = &bytes[n..],
                    Err(Errno::INTR) => {}
                    Err(_) => return,
                }
            }
        }
    }
}

/// Reads one of Slurm's lines and logs it: at level debug what explains
/// how the step ended, at level trace the rest (`--verbose`'s some twenty
/// lines a step). A step launched while its task should be paused is
/// stopped at once.
fn record(shared: &Shared, pid: u32, line: String) {
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    let known = state.news.step;
    if state.news.take(&line) {
        log::debug!(target: "dummymp::slurm", "[PID {pid}] {line}");
    } else {
        log::trace!(target: "dummymp::slurm", "[PID {pid}] {line}");
    }
    if let (None, Some(step), true) = (known, state.news.step, state.paused) {
        signals::signal_step(&shared.scancel, step, &[Signal::STOP]);
    }
}

/// Cuts a stream into Slurm's lines and everything else.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    /// The start of a line that may be one of Slurm's.
    held: Vec<u8>,
    /// Inside a line that is not Slurm's: pass bytes on until its end.
    passing: bool,
}

impl Splitter {
    /// Takes in `data`: the task's bytes go to `pass`, each whole line of
    /// Slurm's (without its newline) to `slurm`.
    pub(crate) fn push(
        &mut self,
        mut data: &[u8],
        pass: &mut dyn FnMut(&[u8]),
        slurm: &mut dyn FnMut(String),
    ) {
        while !data.is_empty() {
            let line_end = data.iter().position(|&b| b == b'\n').map(|i| i + 1);
            let take = line_end.unwrap_or(data.len());
            let (piece, rest) = data.split_at(take);
            data = rest;
            if self.passing {
                pass(piece);
                self.passing = line_end.is_none();
                continue;
            }
            self.held.extend_from_slice(piece);
            if line_end.is_some() {
                let line = std::mem::take(&mut self.held);
                if is_slurm_line(&line) {
                    slurm(String::from_utf8_lossy(&line).trim_end().to_string());
                } else {
                    pass(&line);
                }
            } else if !may_be_slurm_line(&self.held) {
                pass(&std::mem::take(&mut self.held));
                self.passing = true;
            }
        }
    }

    /// At the end of the stream: an unfinished last line.
    pub(crate) fn flush(&mut self, pass: &mut dyn FnMut(&[u8]), slurm: &mut dyn FnMut(String)) {
        let line = std::mem::take(&mut self.held);
        if line.is_empty() {
            return;
        }
        if is_slurm_line(&line) {
            slurm(String::from_utf8_lossy(&line).trim_end().to_string());
        } else {
            pass(&line);
        }
    }
}

fn is_slurm_line(line: &[u8]) -> bool {
    line.len() <= MAX_SLURM_LINE && SLURM_PREFIXES.iter().any(|p| line.starts_with(p))
}

/// Whether an unfinished line could still turn out to be one of Slurm's.
fn may_be_slurm_line(start: &[u8]) -> bool {
    start.len() <= MAX_SLURM_LINE
        && SLURM_PREFIXES
            .iter()
            .any(|p| start.starts_with(p) || p.starts_with(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&[u8]]) -> (Vec<u8>, Vec<String>, Vec<usize>) {
        let mut splitter = Splitter::default();
        let mut passed = Vec::new();
        let mut passed_after_each = Vec::new();
        let mut said = Vec::new();
        for piece in pieces {
            splitter.push(piece, &mut |b| passed.extend_from_slice(b), &mut |l| {
                said.push(l)
            });
            passed_after_each.push(passed.len());
        }
        splitter.flush(&mut |b| passed.extend_from_slice(b), &mut |l| said.push(l));
        (passed, said, passed_after_each)
    }

    #[test]
    fn slurms_lines_are_taken_out_and_the_rest_passes() {
        let (passed, said, _) = split(&[
            b"warning: x\nslurmstepd-vm: error: *** STEP 2.0 ON vm CANCELLED AT 2026 ***\n",
            b"srun: error: vm: task 0: Killed\nlast words",
        ]);
        assert_eq!(passed, b"warning: x\nlast words");
        assert_eq!(
            said,
            [
                "slurmstepd-vm: error: *** STEP 2.0 ON vm CANCELLED AT 2026 ***",
                "srun: error: vm: task 0: Killed"
            ]
        );
    }

    #[test]
    fn lines_are_recognised_across_reads() {
        let (passed, said, _) = split(&[b"sr", b"un: error: Unable", b" to create step\n", b"s"]);
        assert_eq!(said, ["srun: error: Unable to create step"]);
        assert_eq!(passed, b"s", "an unfinished last line is the task's");
    }

    #[test]
    fn other_lines_pass_before_their_end() {
        let (passed, said, after_each) = split(&[b"progress 10%", b" 20%", b"\nsru", b"nning\n"]);
        assert!(said.is_empty());
        assert_eq!(passed, b"progress 10% 20%\nsrunning\n");
        assert_eq!(after_each[0], b"progress 10%".len(), "not held back");
        assert_eq!(
            after_each[2],
            b"progress 10% 20%\n".len(),
            "'sru' may be srun's"
        );
    }
}
