//! One job: what it runs with, its state while it runs, and how it ended.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

use dummymp::Command;

use crate::output::Captured;
use crate::template::Invocation;

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

/// Exit code recorded for a job whose node was lost (`--slurm`): 255, as
/// `ssh` exits when its connection to the remote machine breaks (and GNU
/// parallel logs for a job whose `--sshlogin` host went away).
pub const NODE_LOST_EXIT: i32 = 255;

/// Exit code of a job whose program does not exist (as in the shell).
pub const NOT_FOUND_EXIT: i32 = 127;
/// Exit code of a job whose program could not be started otherwise.
pub const CANNOT_RUN_EXIT: i32 = 126;

/// The exit code a job that could not start is recorded with, from the
/// system's error number.
pub fn exit_code_for_start_error(errno: Option<i32>) -> i32 {
    if errno == Some(rustix::io::Errno::NOENT.raw_os_error()) {
        NOT_FOUND_EXIT
    } else {
        CANNOT_RUN_EXIT
    }
}

/// The library command that runs `invocation`: its argument vector
/// directly, or its script with `/bin/sh -c`.
pub fn command_for(invocation: &Invocation) -> Command {
    match invocation {
        Invocation::Argv(argv) => match argv.split_first() {
            Some((program, args)) => Command::new(program).args(args),
            // Nothing to run: starting it fails like a missing program.
            None => Command::new(""),
        },
        Invocation::Shell(script) => Command::shell(OsStr::from_bytes(script)),
    }
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
    fn start_errors_get_the_shell_s_exit_codes() {
        assert_eq!(exit_code_for_start_error(Some(2)), NOT_FOUND_EXIT);
        assert_eq!(exit_code_for_start_error(Some(13)), CANNOT_RUN_EXIT);
        assert_eq!(exit_code_for_start_error(None), CANNOT_RUN_EXIT);
    }

    #[test]
    fn invocations_become_commands() {
        let argv = Invocation::Argv(vec!["gzip".into(), "a b".into()]);
        assert_eq!(command_for(&argv).display(), "gzip a b");
        let shell = Invocation::Shell(b"echo x | wc".to_vec());
        assert_eq!(
            command_for(&shell).get_shell_line(),
            Some(OsStr::new("echo x | wc"))
        );
    }
}
