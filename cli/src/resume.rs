//! `--resume` and `--resume-failed`: which jobs an earlier run's job log
//! lets us skip, and the check that the log belongs to the same commands.
//!
//! A log written by GNU parallel for the same commands is accepted: its
//! Command column is compared with the command GNU parallel would have
//! logged (values quoted as if outside quotes, a newline written as a NUL
//! byte, tabs and carriage returns as they are).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CliError;
use crate::job_log::{LoggedJob, escape_command, read_job_log};

/// Which logged jobs are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Every logged job (`--resume`).
    Logged,
    /// Logged jobs that succeeded; failed ones run again
    /// (`--resume-failed`).
    Succeeded,
}

/// The jobs to skip.
#[derive(Debug, Clone)]
pub struct ResumePlan {
    path: PathBuf,
    mode: ResumeMode,
    logged: BTreeMap<u64, LoggedJob>,
}

impl ResumePlan {
    /// Reads the job log at `path`.
    pub(crate) fn read(path: &Path, mode: ResumeMode) -> Result<ResumePlan, CliError> {
        Ok(ResumePlan {
            path: path.to_path_buf(),
            mode,
            logged: read_job_log(path)?,
        })
    }

    /// The highest job number the log records (0 for none).
    pub(crate) fn highest_seq(&self) -> u64 {
        self.logged.keys().next_back().copied().unwrap_or(0)
    }

    /// Whether job `seq` is skipped.
    pub(crate) fn skips(&self, seq: u64) -> bool {
        self.logged.get(&seq).is_some_and(|job| match self.mode {
            ResumeMode::Logged => true,
            ResumeMode::Succeeded => job.succeeded(),
        })
    }

    /// How many of the jobs `1..=total` are skipped.
    pub(crate) fn skipped_up_to(&self, total: u64) -> u64 {
        self.logged
            .range(1..=total)
            .filter(|(seq, _)| self.skips(**seq))
            .count() as u64
    }

    /// Checks that every logged job would run the command it ran then.
    /// `commands_of(seq)` gives the forms of the command job `seq` would
    /// run now (ours first, then GNU parallel's), or `None` when the input
    /// has fewer jobs (then `jobs` is how many it has).
    pub(crate) fn check_commands(
        &self,
        jobs: u64,
        mut commands_of: impl FnMut(u64) -> Option<CommandForms>,
    ) -> Result<(), CliError> {
        for (&seq, logged) in &self.logged {
            let Some(forms) = commands_of(seq) else {
                return Err(CliError::ResumeBeyondInput {
                    path: self.path.clone(),
                    seq,
                    jobs,
                });
            };
            if !forms.matches(&logged.command) {
                return Err(CliError::ResumeMismatch {
                    path: self.path.clone(),
                    seq,
                    logged: String::from_utf8_lossy(&logged.command).into_owned(),
                    now: String::from_utf8_lossy(&escape_command(&forms.ours)).into_owned(),
                });
            }
        }
        Ok(())
    }
}

/// The forms a job's command may have in a job log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandForms {
    /// Ours (values quoted for their context).
    pub ours: Vec<u8>,
    /// GNU parallel's (values quoted as if outside quotes).
    pub gnu: Vec<u8>,
}

impl CommandForms {
    /// Whether a logged Command column is one of these forms, escaped as
    /// dummymp or GNU parallel writes it.
    pub(crate) fn matches(&self, logged: &[u8]) -> bool {
        logged == escape_command(&self.ours).as_slice()
            || logged == gnu_escape_command(&self.gnu).as_slice()
            || logged == gnu_escape_command(&self.ours).as_slice()
    }
}

/// `command` as GNU parallel writes it in a job log: a newline as a NUL
/// byte, everything else as it is.
pub(crate) fn gnu_escape_command(command: &[u8]) -> Vec<u8> {
    command
        .iter()
        .map(|&b| if b == b'\n' { 0 } else { b })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_log::{JobLogEntry, JobLogWriter};
    use std::time::{Duration, SystemTime};

    fn log_with(dir: &Path, jobs: &[(u64, i32, &str)]) -> PathBuf {
        let path = dir.join("log");
        let mut log = JobLogWriter::open(&path, false).unwrap();
        for &(seq, exit_value, command) in jobs {
            log.record(&JobLogEntry {
                seq,
                start: SystemTime::now(),
                runtime: Duration::ZERO,
                received: 0,
                exit_value,
                signal: 0,
                command: command.as_bytes(),
            })
            .unwrap();
        }
        path
    }

    #[test]
    fn resume_skips_logged_jobs_and_resume_failed_only_successes() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), &[(1, 0, "echo a"), (3, 2, "echo c")]);
        let all = ResumePlan::read(&path, ResumeMode::Logged).unwrap();
        assert!(all.skips(1) && !all.skips(2) && all.skips(3));
        assert_eq!(all.skipped_up_to(2), 1);
        assert_eq!(all.highest_seq(), 3);
        let failed = ResumePlan::read(&path, ResumeMode::Succeeded).unwrap();
        assert!(failed.skips(1) && !failed.skips(3));
    }

    #[test]
    fn a_log_of_other_commands_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), &[(1, 0, "echo a"), (2, 0, "echo b")]);
        let plan = ResumePlan::read(&path, ResumeMode::Logged).unwrap();
        let forms = |text: String| {
            Some(CommandForms {
                ours: text.clone().into_bytes(),
                gnu: text.into_bytes(),
            })
        };
        let same = |seq: u64| forms(format!("echo {}", ["a", "b"][seq as usize - 1]));
        plan.check_commands(2, same).unwrap();
        let err = plan
            .check_commands(2, |seq| forms(format!("ls {seq}")))
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("job 1 ran `echo a`"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        let err = plan
            .check_commands(1, |seq| {
                (seq == 1).then(|| forms("echo a".into())).flatten()
            })
            .unwrap_err();
        assert!(err.to_string().contains("only 1 jobs"), "{err}");
    }

    /// Pins GNU parallel 20221122's job log Command column: `echo 'a\0b'`
    /// for a value with a newline (written as a NUL byte), a tab as it is,
    /// and `echo "'a b'"` for `'echo "{}"'`, whose quotes it ignores.
    #[test]
    fn gnu_parallels_command_columns_are_recognised() {
        let forms = CommandForms {
            ours: b"echo \"a b\"\nx\ty".to_vec(),
            gnu: b"echo \"'a b'\"\nx\ty".to_vec(),
        };
        assert!(forms.matches(b"echo \"a b\"\\nx\\ty"));
        assert!(forms.matches(b"echo \"'a b'\"\0x\ty"));
        assert!(forms.matches(b"echo \"a b\"\0x\ty"));
        assert!(!forms.matches(b"echo \"a b\"\nx\ty"));
    }
}
