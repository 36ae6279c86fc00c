//! One job: what it runs with, the command that runs it, and how it ended.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

use dummymp::{Command, Outcome, ProcessExit};

use crate::output_buffer::OutputBuffer;
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
    pub(crate) fn tag(&self) -> Vec<u8> {
        crate::output::tag_prefix(&self.inputs)
    }
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
    /// How its last run ended, as the library tells it.
    pub outcome: Outcome,
    /// How its process exited, when it was started and its status was not
    /// lost.
    pub exit: Option<ProcessExit>,
    /// What it wrote to its standard output.
    pub stdout: OutputBuffer,
    /// What it wrote to its standard error.
    pub stderr: OutputBuffer,
}

/// How a job ended, in GNU parallel's terms: the one place where the
/// library's [`Outcome`] (and the job's [`ProcessExit`]) becomes the job
/// log's Exitval and Signal, the `--results` fields, the status `--halt`
/// reports, whether the job counts as a success, and what is said about it.
impl FinishedJob {
    /// Whether the run stopped it (Ctrl-C, `--halt now`, a fatal error):
    /// it did not get to finish and is neither logged nor counted, so that
    /// `--resume` runs it again.
    pub(crate) fn was_stopped(&self) -> bool {
        self.outcome == Outcome::Killed
    }

    /// Whether it ran past `--timeout`.
    pub(crate) fn timed_out(&self) -> bool {
        self.outcome == Outcome::TimedOut
    }

    /// How its process ended, as recorded: its exit or signal; the shell's
    /// code for a program that could not be started (127 when it does not
    /// exist, else 126); 126 when its status was lost.
    fn recorded_exit(&self) -> ProcessExit {
        match (&self.outcome, self.exit) {
            (Outcome::FailedToStart { errno, .. }, _) => {
                ProcessExit::Code(exit_code_for_start_error(*errno))
            }
            // Gone with its node: how it would have ended is unknown.
            (Outcome::NodeLost { .. }, _) => ProcessExit::Code(NODE_LOST_EXIT),
            (_, Some(exit)) => exit,
            // Its status was lost: count it as failed.
            (_, None) => ProcessExit::Code(CANNOT_RUN_EXIT),
        }
    }

    /// The job log's Exitval and Signal: an exit code and 0; 128 + a
    /// signal and the signal; -1 and the signal that ended it (SIGTERM
    /// when unknown) for a job that ran past its timeout.
    pub(crate) fn exit_value_and_signal(&self) -> (i32, i32) {
        match (self.timed_out(), self.recorded_exit()) {
            (true, ProcessExit::Signal(signal)) => (-1, signal),
            (true, ProcessExit::Code(_)) => (-1, SIGTERM),
            (false, ProcessExit::Code(code)) => (code, 0),
            (false, ProcessExit::Signal(signal)) => (128 + signal, signal),
        }
    }

    /// Whether the job succeeded: what its job log line says (Exitval and
    /// Signal 0, as `--resume-failed` reads it back).
    pub(crate) fn succeeded(&self) -> bool {
        self.exit_value_and_signal() == (0, 0)
    }

    /// The job's status as GNU parallel reports it for `--halt`: its exit
    /// code (its low 8 bits), 128 + the signal that killed it, or 255 for a
    /// job that ran past `--timeout`.
    pub(crate) fn halt_status(&self) -> u8 {
        match (self.timed_out(), self.recorded_exit()) {
            (true, _) => 255,
            (false, ProcessExit::Code(code)) => (code & 0xff) as u8,
            (false, ProcessExit::Signal(signal)) => crate::exit_status::for_signal(signal),
        }
    }

    /// The exit code for `--results`, when the job exited.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match self.recorded_exit() {
            ProcessExit::Code(code) => Some(code),
            ProcessExit::Signal(_) => None,
        }
    }

    /// The signal for `--results`, when one ended the job.
    pub(crate) fn signal(&self) -> Option<i32> {
        match self.recorded_exit() {
            ProcessExit::Signal(signal) => Some(signal),
            ProcessExit::Code(_) => None,
        }
    }

    /// The job's command line, when kept, else `name` (the engine task's).
    fn shown<'a>(&'a self, name: &'a str) -> &'a [u8] {
        self.command.as_deref().unwrap_or(name.as_bytes())
    }

    /// The line added to the job's standard error when its program could
    /// not be started (`name` is the engine task's, shown when the command
    /// line was not kept).
    pub(crate) fn start_failure_line(&self, name: &str) -> Option<String> {
        let Outcome::FailedToStart { error, .. } = &self.outcome else {
            return None;
        };
        Some(format!(
            "dummymp: cannot run {}: {error}\n",
            String::from_utf8_lossy(&shortened(self.shown(name)))
        ))
    }

    /// The warning printed for a job that most likely did not fail by
    /// itself: it ran past `timeout` (GNU parallel's warning, on one line),
    /// or the out-of-memory killer ended it (GNU parallel says nothing of a
    /// job a signal killed). `name` is the engine task's, shown when the
    /// command line was not kept.
    pub(crate) fn warning(&self, name: &str, timeout: Option<Duration>) -> Option<String> {
        let seq = self.spec.seq;
        let command = || String::from_utf8_lossy(self.shown(name));
        match &self.outcome {
            Outcome::TimedOut => {
                let after = timeout
                    .map(|t| format!(" of {}", humantime_seconds(t)))
                    .unwrap_or_default();
                Some(format!(
                    "dummymp: warning: job {seq} was ended because it ran past its timeout\
                     {after}: {}",
                    command()
                ))
            }
            // GNU parallel says nothing of a job a signal killed; this one
            // most likely did not fail by itself (nor one whose node was
            // lost).
            outcome @ (Outcome::OutOfMemory { .. } | Outcome::NodeLost { .. }) => Some(format!(
                "dummymp: warning: job {seq} {outcome}: {}",
                command()
            )),
            _ => None,
        }
    }
}

/// SIGTERM's number, the signal a timeout sends first.
const SIGTERM: i32 = 15;

/// A duration in seconds, as a person writes it: `1s`, `0.5s`, `90s`.
fn humantime_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{seconds}s")
    }
}

/// At most this much of a command is shown in an error message (a command
/// refused for its length, `E2BIG`, can be megabytes long).
const SHOWN_COMMAND_LIMIT: usize = 200;

/// `command`, cut to [`SHOWN_COMMAND_LIMIT`] bytes.
fn shortened(command: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if command.len() <= SHOWN_COMMAND_LIMIT {
        return command.into();
    }
    let mut short = command[..SHOWN_COMMAND_LIMIT].to_vec();
    short.extend_from_slice(format!("... ({} bytes)", command.len()).as_bytes());
    short.into()
}

/// Exit code recorded for a job whose node was lost (`--slurm`): 255, as
/// `ssh` exits when its connection to the remote machine breaks (and GNU
/// parallel logs for a job whose `--sshlogin` host went away).
pub(crate) const NODE_LOST_EXIT: i32 = 255;

/// Exit code of a job whose program does not exist (as in the shell).
pub const NOT_FOUND_EXIT: i32 = 127;
/// Exit code of a job whose program could not be started otherwise.
pub const CANNOT_RUN_EXIT: i32 = 126;

/// The exit code a job that could not start is recorded with, from the
/// system's error number.
pub(crate) fn exit_code_for_start_error(errno: Option<i32>) -> i32 {
    if errno == Some(rustix::io::Errno::NOENT.raw_os_error()) {
        NOT_FOUND_EXIT
    } else {
        CANNOT_RUN_EXIT
    }
}

/// The library command that runs `invocation`: its argument vector
/// directly, or its script with `/bin/sh -c`.
pub(crate) fn command_for(invocation: &Invocation) -> Command {
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

    fn finished(outcome: Outcome, exit: Option<ProcessExit>) -> FinishedJob {
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
            outcome,
            exit,
            stdout: OutputBuffer::default(),
            stderr: OutputBuffer::default(),
        }
    }

    fn exited(code: i32) -> FinishedJob {
        finished(Outcome::Exited { code }, Some(ProcessExit::Code(code)))
    }

    fn signaled(signal: i32) -> FinishedJob {
        finished(
            Outcome::Signaled { signal },
            Some(ProcessExit::Signal(signal)),
        )
    }

    fn not_started(errno: Option<i32>) -> FinishedJob {
        let error = "No such file or directory".to_string();
        finished(Outcome::FailedToStart { error, errno }, None)
    }

    /// Pins GNU parallel 20221122's columns for a job killed by a signal
    /// (Signal 15) and one that timed out (Exitval -1, Signal 15 or 9);
    /// Exitval of a killed job is 128 + the signal here, the status GNU
    /// parallel itself reports for it (`--halt now,fail=1` exits 143).
    #[test]
    fn success_and_log_columns() {
        let ok = exited(0);
        assert!(ok.succeeded());
        assert_eq!(ok.exit_value_and_signal(), (0, 0));
        let failed = exited(3);
        assert!(!failed.succeeded());
        assert_eq!(failed.exit_value_and_signal(), (3, 0));
        assert_eq!(signaled(15).exit_value_and_signal(), (143, 15));
        let killed = signaled(9);
        assert_eq!(killed.exit_value_and_signal(), (137, 9));
        assert_eq!((killed.exit_code(), killed.signal()), (None, Some(9)));
        let late = finished(Outcome::TimedOut, Some(ProcessExit::Code(0)));
        assert!(!late.succeeded() && late.timed_out());
        assert_eq!(late.exit_value_and_signal(), (-1, 15));
        let killed_late = finished(Outcome::TimedOut, Some(ProcessExit::Signal(9)));
        assert_eq!(killed_late.exit_value_and_signal(), (-1, 9));
        let missing = not_started(Some(2));
        assert_eq!(missing.exit_value_and_signal(), (127, 0));
        assert_eq!((missing.exit_code(), missing.signal()), (Some(127), None));
        let lost = finished(
            Outcome::Failed {
                reason: "lost".into(),
            },
            None,
        );
        assert_eq!(lost.exit_value_and_signal(), (CANNOT_RUN_EXIT, 0));
        let out_of_memory = finished(
            Outcome::OutOfMemory { limit: None },
            Some(ProcessExit::Signal(9)),
        );
        assert_eq!(out_of_memory.exit_value_and_signal(), (137, 9));
        let stopped = finished(Outcome::Killed, Some(ProcessExit::Signal(15)));
        assert!(stopped.was_stopped() && !exited(1).was_stopped());
    }

    #[test]
    fn halt_statuses_follow_gnu_parallel() {
        assert_eq!(exited(7).halt_status(), 7);
        assert_eq!(exited(256 + 7).halt_status(), 7, "the low 8 bits");
        assert_eq!(signaled(9).halt_status(), 137);
        let late = finished(Outcome::TimedOut, Some(ProcessExit::Signal(15)));
        assert_eq!(late.halt_status(), 255);
        assert_eq!(not_started(None).halt_status(), 126);
    }

    #[test]
    fn messages_say_why_a_job_did_not_finish_by_itself() {
        let line = not_started(Some(2)).start_failure_line("nosuch x").unwrap();
        assert_eq!(
            line,
            "dummymp: cannot run nosuch x: No such file or directory\n"
        );
        let mut long = not_started(None);
        long.command = Some(vec![b'x'; 300]);
        let line = long.start_failure_line("job 1").unwrap();
        assert!(line.contains("xxx... (300 bytes)"), "{line}");
        assert_eq!(exited(1).start_failure_line("false"), None);
        let late = finished(Outcome::TimedOut, Some(ProcessExit::Signal(15)));
        assert_eq!(
            late.warning("sleep 9", Some(Duration::from_millis(1500)))
                .unwrap(),
            "dummymp: warning: job 1 was ended because it ran past its timeout of 1.5s: sleep 9"
        );
        let out_of_memory = finished(
            Outcome::OutOfMemory { limit: None },
            Some(ProcessExit::Signal(9)),
        );
        let warning = out_of_memory.warning("hog", None).unwrap();
        assert!(
            warning.starts_with("dummymp: warning: job 1 was killed by SIGKILL"),
            "{warning}"
        );
        assert_eq!(signaled(9).warning("x", None), None);
    }

    #[test]
    fn tags_join_the_inputs_with_spaces() {
        assert_eq!(exited(0).spec.tag(), b"a b\t");
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
