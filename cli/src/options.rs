//! The command-line options, as clap parses them, with the text of
//! `--help`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use dummymp::Priority;

use crate::concurrency::JobLimit;
use crate::halt::HaltOption;

const ABOUT: &str = "Run shell commands in parallel, considerately: \
    the polite, fast alternative to xargs -P and GNU parallel.";

const LONG_ABOUT: &str = "Run shell commands in parallel, considerately: \
    the polite, fast alternative to xargs -P and GNU parallel.

Runs COMMAND once per input: once per argument after :::, once per line of \
the files after ::::, or once per line of standard input when neither is \
given. Before starting a job it measures the CPU load of the other \
processes on the machine (see --priority) and leaves their CPUs to them.";

const AFTER_HELP: &str = "\
Inputs:
  dummymp CMD ::: a b c           one job per argument
  dummymp CMD ::: a b ::: 1 2     every combination: a 1, a 2, b 1, b 2
  dummymp CMD :::: list.txt       one job per line of list.txt (each file
                                  after :::: is an input source; - is stdin)
  producer | dummymp CMD          one job per line of standard input
                                  (-0: per NUL-terminated record)
  The command words are joined with spaces into one command template.

Replacement strings:
  {}      the input                      {.}    the input without extension
  {/}     its last path component        {//}   its directory
  {/.}    last component without extension
  {#}     the job number (1, 2, ...)     {%}    the job slot (1..jobs at once)
  {1} {2} ...  the value of input source 1, 2, ... (also {1.} {1/} {1//} {1/.})
  A command without any replacement string gets the input(s) appended.
  Values are always quoted: an input such as `a; rm -rf ~` is one argument,
  never a command. A command without shell syntax runs directly, without a
  shell; one with shell syntax (| & ; < > ( ) $ ` \\ \" ' * ? [ # ~ = or a
  newline, or a shell builtin such as cd) runs with /bin/sh -c.

Priority modes (how much room is left to other users of the machine):
  generous    counts other processes above 20 % of a CPU; waits while no
              CPU is free, even when none of our jobs runs
  normal      counts processes above 30 %; runs one job when no CPU is free
  aggressive  counts processes above 50 %
  extreme     counts processes above 80 %
  nuclear     ignores other processes and uses every usable CPU
  Usable CPUs take CPU affinity (taskset, Slurm) and cgroup quotas
  (containers) into account. The load is measured again every 5 to 30 s
  while jobs wait.

Jobs and stopping:
  Each job runs in a process group of its own, with standard input from
  /dev/null. A job ends when its command exits; output that processes it
  left in the background write later is not collected. Ctrl-C (or SIGTERM,
  SIGHUP) starts no more jobs and ends the running ones' process groups
  (SIGTERM, then SIGKILL after --grace); a second Ctrl-C kills them at once.
  Either way dummymp exits only when they are gone, with a complete job log.

Exit status:
  0        every job succeeded (or --halt ...,success=N was reached)
  1-100    that many jobs failed (after their retries)
  101      more than 100 jobs failed
  129, 130, 143
           stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM (128 + signal)
  141      our standard output was closed (for example by `| head`)
  255      bad usage or input: an unknown option, no command, an
           unreadable argument file, a malformed --halt, a --resume job
           log of other commands; or a job log that could not be written

Examples:
  dummymp gzip ::: *.log
  find . -name '*.wav' | dummymp -j 50% --bar 'sox {} {.}.flac'
  dummymp --joblog jobs.log --resume -k ./simulate {1} {2} ::: 1 2 3 ::: a b
  dummymp --timeout 60 --retries 3 --halt soon,fail=10% curl -fsO :::: urls";

/// The parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "dummymp",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = "Run `dummymp --help` for replacement strings, priority modes, exit statuses and examples.",
    after_long_help = AFTER_HELP,
    override_usage = "dummymp [OPTIONS] COMMAND... [::: ARGS...]... [:::: FILES...]"
)]
pub struct Options {
    /// How many jobs may run at once: N, N% of the usable CPUs, or 0 for no
    /// cap of our own.
    ///
    /// With N, up to N jobs run (more than the CPUs suits jobs that mostly
    /// wait), minus the CPUs other processes keep busy, except in nuclear
    /// mode. N% is that share of the usable CPUs, rounded, at least 1.
    /// Without -j, or with 0, the priority mode and the usable CPUs decide:
    /// one job per usable CPU that other processes leave free.
    #[arg(short = 'j', long = "jobs", value_name = "N|N%")]
    pub jobs: Option<JobLimit>,

    /// How considerate to be of the other processes on the machine:
    /// generous, normal, aggressive, extreme or nuclear.
    ///
    /// See "Priority modes" below. Unlike GNU parallel's --load, which waits
    /// while the load average is above a limit, the modes measure which
    /// processes use the CPUs now and leave exactly those CPUs free.
    #[arg(long, value_name = "MODE", default_value = "normal", value_parser = parse_priority)]
    pub priority: Priority,

    /// Run the jobs N nicer than dummymp itself (-20 to 19).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-20..=19))]
    pub nice: Option<i32>,

    /// Standard input and :::: files hold NUL-terminated records instead
    /// of lines.
    #[arg(short = '0', long = "null")]
    pub null: bool,

    /// Print whole output lines as soon as a job writes them, instead of all
    /// of a job's output when it ends.
    ///
    /// Lines of different jobs never mix; a last line without a newline gets
    /// one when its job ends.
    #[arg(long)]
    pub line_buffer: bool,

    /// Prefix every output line with the job's input values (separated by
    /// tabs) and a tab.
    #[arg(long)]
    pub tag: bool,

    /// Print the jobs' output in input order, not in the order they end.
    #[arg(short = 'k', long)]
    pub keep_order: bool,

    /// Log every finished job to FILE in GNU parallel's format (Seq, Host,
    /// Starttime, JobRuntime, Send, Receive, Exitval, Signal, Command).
    ///
    /// Each line is written as its job ends, so an interrupted run leaves a
    /// complete log. Jobs ended early by Ctrl-C or --halt now are not logged.
    /// A job that ran past --timeout is logged with Exitval -1.
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,

    /// Skip the jobs that the --joblog FILE already lists, and append to it.
    ///
    /// The log must come from the same command and inputs: a logged job
    /// whose command differs from what it would run now is an error (not
    /// checked when the command uses {%}, whose value changes from run to
    /// run).
    #[arg(long, requires = "joblog", conflicts_with = "resume_failed")]
    pub resume: bool,

    /// Like --resume, but run the logged jobs that failed again.
    #[arg(long, requires = "joblog")]
    pub resume_failed: bool,

    /// Write one JSON object per finished job to FILE (JSON lines): seq,
    /// input, command, exit_code, signal, timed_out, start, runtime, stdout,
    /// stderr.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,

    /// End a job that runs longer than SECS seconds (fractions allowed):
    /// its whole process group gets SIGTERM, then SIGKILL after the grace
    /// period. It counts as failed.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Seconds between SIGTERM and SIGKILL when jobs are ended (--timeout,
    /// --halt now, Ctrl-C).
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_seconds)]
    pub grace: Duration,

    /// Run a failing job at most N times in all.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub retries: u32,

    /// Stop early: now|soon,fail=N|N% or now|soon,success=N|N% (or never).
    ///
    /// soon starts no more jobs and lets the running ones end; now also ends
    /// the running ones. fail=N counts failed jobs, fail=N% the share of
    /// failed jobs among the finished ones (once 3 have finished);
    /// success=... counts jobs that succeeded. For example now,fail=1 stops
    /// at the first failure, now,success=1 at the first success.
    #[arg(long, value_name = "WHEN,WHAT=N")]
    pub halt: Option<HaltOption>,

    /// Show a progress bar with an ETA on standard error (by default it
    /// appears when standard error is a terminal and more than 4 jobs are
    /// queued).
    #[arg(long, conflicts_with = "no_bar")]
    pub bar: bool,

    /// Never show the progress bar.
    #[arg(long)]
    pub no_bar: bool,

    /// Print the commands that would run, one per line, and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The command, then its inputs: COMMAND... [::: ARGS...]... [:::: FILES...]
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<OsString>,

    /// Run each job as a Slurm job step (srun --exact -n1 ...) of the
    /// allocation dummymp runs in, on whichever node has room.
    ///
    /// Inside an allocation (a batch script, salloc) its size decides how
    /// many jobs run at once; -j N still caps that, and --priority measures
    /// this node only. Outside one, each job is a Slurm job of its own.
    /// Ending a job (--timeout, Ctrl-C) kills its step at once: --grace
    /// does not apply. See docs/slurm.md.
    #[arg(long)]
    pub slurm: bool,
}

/// Parses a priority mode name.
fn parse_priority(name: &str) -> Result<Priority, dummymp::Error> {
    name.parse()
}

/// Why a number of seconds was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a number of seconds, such as 30 or 0.5")]
pub struct SecondsError;

/// Parses a non-negative number of seconds.
fn parse_seconds(text: &str) -> Result<Duration, SecondsError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or(SecondsError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Options::command().debug_assert();
    }

    #[test]
    fn options_before_the_command_and_words_after_it() {
        let options = Options::try_parse_from([
            "dummymp",
            "-j",
            "3",
            "--priority",
            "Nuclear",
            "--timeout",
            "1.5",
            "grep",
            "-v",
            "x",
            ":::",
            "a",
        ])
        .unwrap();
        assert_eq!(options.jobs, Some(JobLimit::Count(3)));
        assert_eq!(options.priority, Priority::Nuclear);
        assert_eq!(options.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(options.command, ["grep", "-v", "x", ":::", "a"]);
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["dummymp", "--priority", "polite", "true"][..],
            &["dummymp", "--halt", "sometimes", "true"],
            &["dummymp", "--timeout", "-1", "true"],
            &["dummymp", "--retries", "0", "true"],
            &["dummymp", "--resume", "true"],
            &["dummymp", "-j", "x", "true"],
        ] {
            assert!(Options::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
