//! Starting one job: its process, in a process group of its own, with its
//! standard output and error captured through pipes and its standard input
//! from `/dev/null`.
//!
//! Jobs start through `std::process::Command`, which uses `posix_spawn`
//! (a `vfork`-style start) unless a `pre_exec` hook is set; the only hook is
//! the one `--nice` needs.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};

use rustix::process::Pid;

use crate::template::Invocation;

/// The shell that runs templates with shell syntax.
pub const SHELL: &str = "/bin/sh";

/// Exit code of a job whose program does not exist (as in the shell).
pub const NOT_FOUND_EXIT: i32 = 127;
/// Exit code of a job whose program could not be started otherwise.
pub const CANNOT_RUN_EXIT: i32 = 126;

/// A started job process.
#[derive(Debug)]
pub struct Launched {
    /// Its process id, which is also its process group id.
    pub pid: Pid,
    /// The read end of its standard output.
    pub stdout: ChildStdout,
    /// The read end of its standard error.
    pub stderr: ChildStderr,
}

/// Starts job processes.
#[derive(Debug, Clone, Copy)]
pub struct Launcher {
    /// The niceness jobs run at, when `--nice` was given.
    niceness: Option<i32>,
}

impl Launcher {
    /// A launcher whose jobs run `nice_increment` nicer than we do.
    pub fn new(nice_increment: Option<i32>) -> Launcher {
        let niceness = nice_increment.map(|increment| {
            let ours = rustix::process::getpriority_process(None).unwrap_or(0);
            (ours + increment).clamp(-20, 19)
        });
        Launcher { niceness }
    }

    /// Starts `invocation`.
    pub fn launch(&self, invocation: &Invocation) -> io::Result<Launched> {
        let mut command = match invocation {
            Invocation::Argv(argv) => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            Invocation::Shell(script) => {
                let mut command = Command::new(SHELL);
                command.arg("-c").arg(OsStr::from_bytes(script));
                command
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(niceness) = self.niceness {
            // SAFETY: the hook runs in the child between fork and exec, where
            // only async-signal-safe calls are allowed: it makes one
            // setpriority system call and allocates nothing.
            unsafe {
                command.pre_exec(move || {
                    rustix::process::setpriority_process(None, niceness).map_err(io::Error::from)
                });
            }
        }
        let mut child = command.spawn()?;
        let pid = Pid::from_raw(child.id() as i32)
            .ok_or_else(|| io::Error::other("the system gave the job no process id"))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(io::Error::other("the job's output pipes are missing"));
        };
        // The child is reaped by the event loop (waitpid on any child), not
        // through `child`, which does nothing when dropped.
        Ok(Launched {
            pid,
            stdout,
            stderr,
        })
    }
}

/// The exit code a job that could not start is recorded with.
pub fn exit_code_for_spawn_error(error: &io::Error) -> i32 {
    match error.kind() {
        io::ErrorKind::NotFound => NOT_FOUND_EXIT,
        _ => CANNOT_RUN_EXIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::io::Read;

    fn reap(pid: Pid) -> rustix::process::WaitStatus {
        let (_, status) =
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                .unwrap()
                .unwrap();
        status
    }

    #[test]
    fn a_job_runs_in_its_own_process_group_with_captured_output() {
        let launched = Launcher::new(None)
            .launch(&Invocation::Shell(
                b"echo out; echo err >&2; cut -d' ' -f5 /proc/$$/stat".to_vec(),
            ))
            .unwrap();
        let mut out = String::new();
        let mut err = String::new();
        let mut stdout = launched.stdout;
        let mut stderr = launched.stderr;
        stdout.read_to_string(&mut out).unwrap();
        stderr.read_to_string(&mut err).unwrap();
        assert!(reap(launched.pid).exited());
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("out"));
        let pgid = lines.next().expect("the job printed its process group");
        assert_eq!(pgid.trim(), launched.pid.as_raw_nonzero().to_string());
        assert_eq!(err, "err\n");
    }

    #[test]
    fn nice_applies_to_the_job() {
        let launched = Launcher::new(Some(5))
            .launch(&Invocation::Argv(vec![
                OsString::from("sh"),
                OsString::from("-c"),
                OsString::from("cut -d' ' -f19 /proc/$$/stat"),
            ]))
            .unwrap();
        let mut out = String::new();
        let mut stdout = launched.stdout;
        stdout.read_to_string(&mut out).unwrap();
        reap(launched.pid);
        let ours = rustix::process::getpriority_process(None).unwrap();
        assert_eq!(out.trim(), (ours + 5).clamp(-20, 19).to_string());
    }

    #[test]
    fn a_missing_program_is_reported_like_the_shell_does() {
        let err = Launcher::new(None)
            .launch(&Invocation::Argv(vec![OsString::from(
                "/nonexistent/program",
            )]))
            .unwrap_err();
        assert_eq!(exit_code_for_spawn_error(&err), NOT_FOUND_EXIT);
        let err = Launcher::new(None)
            .launch(&Invocation::Argv(vec![]))
            .unwrap_err();
        assert_eq!(exit_code_for_spawn_error(&err), NOT_FOUND_EXIT);
    }
}
