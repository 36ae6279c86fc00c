//! One job: what it runs with, its state while it runs, and how it ended.

use std::io::{self, Read};
use std::process::{ChildStderr, ChildStdout};
use std::time::{Duration, Instant, SystemTime};

use rustix::process::{Pid, WaitStatus};

use crate::output::Captured;

/// A job waiting to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The job number, from 1 in input order.
    pub seq: u64,
    /// One value per input source.
    pub inputs: Vec<Vec<u8>>,
    /// Which run this is, from 1 (`--retries`).
    pub attempt: u32,
}

impl JobSpec {
    /// The `--tag` prefix: the input values separated by spaces, and a
    /// tab.
    pub fn tag(&self) -> Vec<u8> {
        crate::output::tag_prefix(&self.inputs)
    }
}

/// Why we ended a job before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedByUs {
    /// It ran past `--timeout`.
    TimedOut,
    /// The run stopped (Ctrl-C, `--halt now`): the job did not get to
    /// finish and is neither logged nor counted.
    Cancelled,
}

/// How a job's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// This signal ended it.
    Signaled(i32),
    /// It could not be started; recorded with this exit code.
    NotStarted(i32),
}

impl Ending {
    /// How a wait status says a process ended.
    pub fn from_status(status: WaitStatus) -> Ending {
        match (status.exit_status(), status.terminating_signal()) {
            (_, Some(signal)) => Ending::Signaled(signal),
            (Some(code), None) => Ending::Exited(code),
            (None, None) => Ending::Exited(0),
        }
    }
}

/// A job whose process runs.
#[derive(Debug)]
pub struct RunningJob {
    /// What it runs with.
    pub spec: JobSpec,
    /// Its slot.
    pub slot: usize,
    /// Its process (and process group) id.
    pub pid: Pid,
    /// Its `--tag` prefix (empty without `--tag`).
    pub tag: Vec<u8>,
    /// Its command line, kept when the job log or results need it.
    pub command: Option<Vec<u8>>,
    /// When it started.
    pub started: Instant,
    /// When it started, by the wall clock.
    pub started_wall: SystemTime,
    /// When it runs past `--timeout`.
    pub deadline: Option<Instant>,
    /// Why we are ending it, if we are.
    pub ended_by_us: Option<EndedByUs>,
    /// Its standard output, until the pipe is closed.
    pub stdout_pipe: Option<ChildStdout>,
    /// Its standard error, until the pipe is closed.
    pub stderr_pipe: Option<ChildStderr>,
    /// What it wrote to its standard output.
    pub stdout: Captured,
    /// What it wrote to its standard error.
    pub stderr: Captured,
}

/// A job whose process has ended (or never started).
#[derive(Debug)]
pub struct FinishedJob {
    /// What it ran with.
    pub spec: JobSpec,
    /// Its `--tag` prefix.
    pub tag: Vec<u8>,
    /// Its command line, when kept.
    pub command: Option<Vec<u8>>,
    /// When it started, by the wall clock.
    pub started_wall: SystemTime,
    /// How long it ran.
    pub runtime: Duration,
    /// How its process ended.
    pub ending: Ending,
    /// Why we ended it, if we did.
    pub ended_by_us: Option<EndedByUs>,
    /// What it wrote to its standard output.
    pub stdout: Captured,
    /// What it wrote to its standard error.
    pub stderr: Captured,
}

impl FinishedJob {
    /// Whether the job succeeded: exit code 0, and not ended by us.
    pub fn succeeded(&self) -> bool {
        self.ending == Ending::Exited(0) && self.ended_by_us.is_none()
    }

    /// Whether it ran past `--timeout`.
    pub fn timed_out(&self) -> bool {
        self.ended_by_us == Some(EndedByUs::TimedOut)
    }

    /// The job log's Exitval and Signal: an exit code and 0, 128 + a signal
    /// and the signal, or -1 and the signal we sent for a job that ran past
    /// its timeout.
    pub fn exit_value_and_signal(&self) -> (i32, i32) {
        crate::job_log::exit_value_and_signal(self.logged_ending())
    }

    /// How the job ended, for the job log.
    pub fn logged_ending(&self) -> crate::job_log::LoggedEnding {
        use crate::job_log::LoggedEnding;
        match (self.timed_out(), self.ending) {
            (true, Ending::Signaled(signal)) => LoggedEnding::TimedOut(Some(signal)),
            (true, _) => LoggedEnding::TimedOut(None),
            (false, Ending::Exited(code) | Ending::NotStarted(code)) => LoggedEnding::Exited(code),
            (false, Ending::Signaled(signal)) => LoggedEnding::Signaled(signal),
        }
    }

    /// The exit code for `--results`, when the job exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self.ending {
            Ending::Exited(code) | Ending::NotStarted(code) => Some(code),
            Ending::Signaled(_) => None,
        }
    }

    /// The signal for `--results`, when one ended the job.
    pub fn signal(&self) -> Option<i32> {
        match self.ending {
            Ending::Signaled(signal) => Some(signal),
            _ => None,
        }
    }
}

/// How much one pipe is read at a time before other events get a turn.
const READ_BUDGET: usize = 1 << 20;

/// Reads what `pipe` (non-blocking) holds into `captured`; closes the pipe
/// at end of file. Returns whether anything was read.
pub fn read_pipe<P: Read>(
    pipe: &mut Option<P>,
    captured: &mut Captured,
    scratch: &mut [u8],
) -> bool {
    let Some(reader) = pipe else {
        return false;
    };
    let mut read = 0;
    while read < READ_BUDGET {
        match reader.read(scratch) {
            Ok(0) => {
                *pipe = None;
                break;
            }
            Ok(n) => {
                captured.push(&scratch[..n]);
                read += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // A broken pipe gives nothing more.
            Err(_) => {
                *pipe = None;
                break;
            }
        }
    }
    read > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(ending: Ending, ended_by_us: Option<EndedByUs>) -> FinishedJob {
        FinishedJob {
            spec: JobSpec {
                seq: 1,
                inputs: vec![b"a".to_vec(), b"b".to_vec()],
                attempt: 1,
            },
            tag: Vec::new(),
            command: None,
            started_wall: SystemTime::now(),
            runtime: Duration::ZERO,
            ending,
            ended_by_us,
            stdout: Captured::default(),
            stderr: Captured::default(),
        }
    }

    #[test]
    fn success_and_log_columns() {
        let ok = finished(Ending::Exited(0), None);
        assert!(ok.succeeded());
        assert_eq!(ok.exit_value_and_signal(), (0, 0));
        let failed = finished(Ending::Exited(3), None);
        assert!(!failed.succeeded());
        assert_eq!(failed.exit_value_and_signal(), (3, 0));
        let killed = finished(Ending::Signaled(9), None);
        assert_eq!(killed.exit_value_and_signal(), (137, 9));
        assert_eq!((killed.exit_code(), killed.signal()), (None, Some(9)));
        let late = finished(Ending::Exited(0), Some(EndedByUs::TimedOut));
        assert!(!late.succeeded());
        assert_eq!(late.exit_value_and_signal(), (-1, 15));
        let missing = finished(Ending::NotStarted(127), None);
        assert_eq!(missing.exit_value_and_signal(), (127, 0));
    }

    #[test]
    fn tags_join_the_inputs_with_spaces() {
        assert_eq!(finished(Ending::Exited(0), None).spec.tag(), b"a b\t");
    }

    #[test]
    fn a_pipe_is_read_to_its_end_and_closed() {
        let mut pipe = Some(&b"hello"[..]);
        let mut captured = Captured::default();
        let mut scratch = [0u8; 2];
        assert!(read_pipe(&mut pipe, &mut captured, &mut scratch));
        assert!(pipe.is_none());
        assert_eq!(captured.kept(), b"hello");
        assert!(!read_pipe(&mut pipe, &mut captured, &mut scratch));
    }
}
