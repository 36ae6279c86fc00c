//! The command-line options, as clap parses them, with the text of
//! `--help`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use dummymp::Priority;

use crate::concurrency::JobLimit;
use crate::halt::HaltOption;
use crate::units::{SizeError, parse_duration, parse_size};

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
  dummymp CMD ::: a b :::+ 1 2    side by side (also ::::+ and --link): a 1, b 2
  dummymp CMD :::: list.txt       one job per line of list.txt (each file
                                  after :::: or -a is an input source; - is stdin)
  producer | dummymp CMD          one job per line of standard input
                                  (-0: per NUL-terminated record)
  The command words are joined with spaces into one command template.
  -N, -X, -m give a job several arguments; --colsep splits values into
  columns; --shuf runs the jobs in random order.

Replacement strings:
  {}      the input                      {.}    the input without extension
  {/}     its last path component        {//}   its directory
  {/.}    last component without extension
  {#}     the job number (1, 2, ...)     {%}    the job slot (1..jobs at once)
  {1} {2} ...  value 1, 2, ... of the input sources, -N arguments or --colsep
               columns (also {1.} {1/} {1//} {1/.})
  A command without any replacement string gets the input(s) appended.
  An input is always data, never a command. A command without shell syntax
  runs directly, without a shell. One with shell syntax (| & ; < > ( ) $ `
  \\ \" ' * ? [ # ~ = or a newline, or a shell builtin such as cd) runs with
  /bin/sh -c, each value quoted for where it lands: bare when it holds only
  letters, digits and _ - . / +, else single-quoted; escaped inside \"...\";
  closed, escaped and reopened inside '...'. Where no quoting keeps a value
  data (non-integers in $((...)), a here-document line equal to its
  delimiter, {} right after \\ or $) the job or command is refused.
  -q runs every command word as one argument, without a shell.
  {= perl =} is refused.

Priority modes (how much room is left to other users of the machine):
  generous    counts other processes above 20 % of a CPU; waits while no
              CPU is free, even when none of our jobs runs (--load picks it)
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
  left in the background write later is not collected. Output beyond 1 MiB
  per stream is kept in a temporary file until printed. Ctrl-C (or
  SIGTERM, SIGHUP) starts no more jobs and ends the running ones' process
  groups (SIGTERM, then SIGKILL after --grace); a second Ctrl-C kills them
  at once. Either way dummymp exits only when they are gone, with a
  complete job log. Ctrl-Z (SIGTSTP) stops the running jobs with dummymp,
  and `fg` (SIGCONT) continues them; time stopped does not count toward
  --timeout.

Exit status:
  0        every job succeeded (or --halt ...,success=N was reached)
  1-100    that many jobs failed (after their retries)
  101      more than 100 jobs failed
  --halt   fail=1 or done=1: the status of the job that stopped the run
           (exit code, 128 + signal, 255 after a timeout); N%: the
           percentage of all jobs that failed
  129, 130, 143
           stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM (128 + signal)
  141      our standard output was closed (for example by `| head`)
  255      bad usage or input: an unknown option, no command, an
           unreadable argument file, a malformed --halt, a refused command,
           a --resume job log of other commands; or a job log that could
           not be written

Differences from GNU parallel (docs/cli.md lists them all): values inside
quotes are escaped for those quotes; {.} of .bashrc is .bashrc and {/} of
dir/ is dir; --line-buffer and -u never mix lines; a killed job's Exitval
is 128 + signal; --load selects --priority generous; --memfree is the memory
each job needs (no job is killed for memory); no remote execution.

Examples:
  dummymp gzip ::: *.log
  find . -name '*.wav' | dummymp -j 50% --bar 'sox {} {.}.flac'
  dummymp --joblog jobs.log --resume -k ./simulate {1} {2} ::: 1 2 3 ::: a b
  dummymp --timeout 1m --retries 3 --halt soon,fail=10% curl -fsO :::: urls";

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
    /// How many jobs may run at once: N, N% of the usable CPUs, or 0 for as
    /// many as possible.
    ///
    /// With N, up to N jobs run (more than the CPUs suits jobs that mostly
    /// wait), minus the CPUs other processes keep busy, except in nuclear
    /// mode. N% is that share of the usable CPUs, rounded, at least 1.
    /// With 0, up to 1000 jobs at once (fewer when the open-file limit
    /// allows fewer: each running job holds 4 descriptors). Without -j, the
    /// priority mode and the usable CPUs decide: one job per usable CPU
    /// that other processes leave free.
    #[arg(short = 'j', long = "jobs", value_name = "N|N%")]
    pub jobs: Option<JobLimit>,

    /// How considerate to be of the other processes on the machine:
    /// generous, normal (the default), aggressive, extreme or nuclear.
    ///
    /// See "Priority modes" below. Unlike GNU parallel's --load, which waits
    /// while the machine is busy, the modes measure which processes use the
    /// CPUs now and leave exactly those CPUs free.
    #[arg(long, value_name = "MODE", value_parser = parse_priority)]
    pub priority: Option<Priority>,

    /// GNU parallel's "start no job while the machine is this busy"
    /// (LOAD or LOAD%): selects --priority generous unless --priority is
    /// given.
    ///
    /// generous measures which other processes keep CPUs busy and leaves
    /// those CPUs to them, waiting while none is free; the value itself is
    /// checked but not used.
    #[arg(long, value_name = "LOAD|LOAD%")]
    pub load: Option<LoadLimit>,

    /// Start a job only while at least SIZE of memory is available for it
    /// (such as 2G; K, M, G are powers of 1024, k, m, g of 1000), on top of
    /// what the priority mode keeps free for others. A job that cannot have
    /// SIZE even with no other job running fails.
    ///
    /// Without it, the memory a job needs is learned from the peak memory
    /// of the jobs of the same command that finished: that delays jobs
    /// while others run, never fails one. Unlike GNU parallel, no running
    /// job is killed when memory runs short; a job the kernel's
    /// out-of-memory killer most likely ended gets a warning.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memfree: Option<u64>,

    /// Run the jobs N nicer than dummymp itself (-20 to 19).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-20..=19))]
    pub nice: Option<i32>,

    /// Read the values of an input source from FILE, one per line (as
    /// `:::: FILE`); may be given more than once. These sources come before
    /// those after ::: and ::::.
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    pub arg_files: Vec<PathBuf>,

    /// Take the input sources side by side instead of combining them: the
    /// first job gets the first value of each, the second the second, ...;
    /// shorter sources start over.
    #[arg(long, visible_alias = "xapply")]
    pub link: bool,

    /// Standard input and :::: files hold NUL-terminated records instead
    /// of lines.
    ///
    /// Without it, a NUL byte in the input is replaced by the two
    /// characters \0, with a warning (an argument cannot hold a NUL).
    #[arg(short = '0', long = "null")]
    pub null: bool,

    /// Split each input value into columns at matches of REGEX; {1}, {2}
    /// ... are the columns (trimmed of blanks), {} all of them.
    #[arg(short = 'C', long, value_name = "REGEX")]
    pub colsep: Option<String>,

    /// Give each job up to N arguments; {1} to {N} are the arguments, {}
    /// all of them.
    #[arg(short = 'N', long = "max-args", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_args: Option<u32>,

    /// Give each job as many arguments as fit on its command line; a word
    /// holding {} is repeated for each (pre{}.jpg -> prea.jpg preb.jpg).
    #[arg(short = 'X', conflicts_with = "multiple")]
    pub context_replace: bool,

    /// Give each job as many arguments as fit on its command line; {}
    /// stands for all of them, separated by spaces.
    #[arg(short = 'm')]
    pub multiple: bool,

    /// The longest command line -X and -m make, in bytes (default 126976,
    /// below Linux's 128 KiB limit for one argument).
    #[arg(short = 's', long = "max-chars", value_name = "N", value_parser = parse_max_chars)]
    pub max_chars: Option<usize>,

    /// Run the jobs in random order ({#} numbers them in that order).
    #[arg(long, conflicts_with_all = ["resume", "resume_failed"])]
    pub shuf: bool,

    /// Take the command words as they are: each is one argument, whatever
    /// it holds, and no shell runs the command.
    #[arg(short = 'q', long)]
    pub quote: bool,

    /// Print whole output lines as soon as a job writes them, instead of all
    /// of a job's output when it ends.
    ///
    /// Lines of different jobs never mix; a last line without a newline gets
    /// one when its job ends.
    #[arg(long)]
    pub line_buffer: bool,

    /// The same as --line-buffer: output as soon as possible, but never
    /// half a line (GNU parallel's -u may mix lines of different jobs).
    #[arg(short = 'u', long)]
    pub ungroup: bool,

    /// Prefix every output line with the job's input values (separated by
    /// spaces) and a tab.
    #[arg(long)]
    pub tag: bool,

    /// Print the jobs' output in input order, not in the order they end.
    #[arg(short = 'k', long)]
    pub keep_order: bool,

    /// Print each job's command on standard output before its output, and
    /// say on standard error why jobs wait (other users' load, memory) and
    /// when jobs are paused or lowered in priority for other users.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Log every finished job to FILE in GNU parallel's format (Seq, Host,
    /// Starttime, JobRuntime, Send, Receive, Exitval, Signal, Command).
    ///
    /// Each line is written as its job ends, so an interrupted run leaves a
    /// complete log. Jobs ended early by Ctrl-C or --halt now are not logged.
    /// A job that ran past --timeout is logged with Exitval -1, one killed
    /// by a signal with 128 + the signal.
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,

    /// Skip the jobs that the --joblog FILE already lists, and append to it.
    ///
    /// The log must come from the same command and inputs (GNU parallel's
    /// job logs are recognised too): a logged job whose command differs
    /// from what it would run now is an error (not checked when the command
    /// uses {%}, whose value changes from run to run). A last line cut
    /// short (a full disk) counts as not done.
    #[arg(long, requires = "joblog", conflicts_with = "resume_failed")]
    pub resume: bool,

    /// Like --resume, but run the logged jobs that failed again.
    #[arg(long, requires = "joblog")]
    pub resume_failed: bool,

    /// Save every job's output: NAME.jsonl gets one JSON object per job
    /// (seq, input, command, exit_code, signal, timed_out, start, runtime,
    /// stdout, stderr); any other NAME is a directory, laid out as GNU
    /// parallel does: NAME/1/VALUE/2/VALUE/{seq,stdout,stderr}.
    #[arg(long, visible_alias = "res", value_name = "NAME")]
    pub results: Option<PathBuf>,

    /// End a job that runs longer than DURATION (seconds, or with s, m, h,
    /// d: 30s, 2m, 1h30m): its whole process group gets SIGTERM, then
    /// SIGKILL after the grace period. It counts as failed. Time the job
    /// spends stopped (Ctrl-Z, or paused for other users) does not count.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Time between SIGTERM and SIGKILL when jobs are ended (--timeout,
    /// --halt now, Ctrl-C); a duration like --timeout's.
    #[arg(long, value_name = "DURATION", default_value = "1", value_parser = parse_duration)]
    pub grace: Duration,

    /// Wait DURATION between job starts (a duration like --timeout's).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Option<Duration>,

    /// Run a failing job at most N times in all.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub retries: u32,

    /// Stop early: now|soon,fail|success|done=N|N% (or never; GNU
    /// parallel's 0, 1, 2 and -1 too).
    ///
    /// soon starts no more jobs and lets the running ones end; now also ends
    /// the running ones. fail=N counts failed jobs, success=N jobs that
    /// succeeded, done=N finished jobs; N% is that share of all jobs. The
    /// exit status follows GNU parallel: with fail=1 or done=1 the status
    /// of the job that stopped the run, with a percentage the percentage of
    /// jobs that failed, with success=... 0.
    #[arg(long, value_name = "WHEN,WHAT=N", allow_hyphen_values = true)]
    pub halt: Option<HaltOption>,

    /// Show a progress bar with an ETA on standard error (by default it
    /// appears when standard error is a terminal and more than 4 jobs are
    /// queued).
    #[arg(long, conflicts_with = "no_bar")]
    pub bar: bool,

    /// The same as --bar (GNU parallel's estimate of the time left).
    #[arg(long, conflicts_with = "no_bar")]
    pub eta: bool,

    /// The same as --bar (GNU parallel's running and done counts).
    #[arg(long, conflicts_with = "no_bar")]
    pub progress: bool,

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
    /// Ending a job (--timeout, Ctrl-C) sends its processes SIGTERM on
    /// their node, and SIGKILL after --grace. A job whose node fails is
    /// logged with Exitval 255 and a warning. See docs/slurm.md.
    #[arg(long)]
    pub slurm: bool,
}

/// The value of `--load`: a number of busy CPUs, or a share of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadLimit {
    /// `--load N`.
    Busy(f64),
    /// `--load N%`.
    Percent(f64),
}

/// Why a `--load` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a load such as 4 or 80%")]
pub struct LoadLimitError;

impl std::str::FromStr for LoadLimit {
    type Err = LoadLimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (number, percent) = match s.strip_suffix('%') {
            Some(number) => (number, true),
            None => (s, false),
        };
        match number.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 && percent => Ok(LoadLimit::Percent(n)),
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(LoadLimit::Busy(n)),
            _ => Err(LoadLimitError),
        }
    }
}

/// The default of `-s`: below the 128 KiB Linux allows for one argument
/// (a script given to `sh -c` is one), with room to spare.
pub const DEFAULT_MAX_CHARS: usize = 128 * 1024 - 4096;

/// Parses `-s`: a size, at least 1.
fn parse_max_chars(text: &str) -> Result<usize, SizeError> {
    parse_size(text)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or(SizeError)
}

/// Parses a priority mode name.
fn parse_priority(name: &str) -> Result<Priority, dummymp::Error> {
    name.parse()
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
        assert_eq!(options.priority, Some(Priority::Nuclear));
        assert_eq!(options.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(options.command, ["grep", "-v", "x", ":::", "a"]);
    }

    #[test]
    fn gnu_parallels_option_forms_are_accepted() {
        let options = Options::try_parse_from([
            "dummymp",
            "--timeout",
            "1m",
            "--delay",
            "0.5s",
            "--load",
            "80%",
            "--memfree",
            "1G",
            "-N",
            "2",
            "-a",
            "f",
            "-a",
            "g",
            "--halt",
            "-1",
            "-vqu",
            "echo",
        ])
        .unwrap();
        assert_eq!(options.timeout, Some(Duration::from_secs(60)));
        assert_eq!(options.delay, Some(Duration::from_millis(500)));
        assert_eq!(options.load, Some(LoadLimit::Percent(80.0)));
        assert_eq!(options.memfree, Some(1 << 30));
        assert_eq!(options.max_args, Some(2));
        assert_eq!(options.arg_files.len(), 2);
        assert!(options.verbose && options.quote && options.ungroup);
        assert!(options.halt.is_some());
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
            &["dummymp", "--timeout", "1x", "true"],
            &["dummymp", "--load", "lots", "true"],
            &["dummymp", "--memfree", "1Q", "true"],
            &["dummymp", "-N", "0", "true"],
            &["dummymp", "-X", "-m", "true"],
            &["dummymp", "--shuf", "--resume", "--joblog", "x", "true"],
        ] {
            assert!(Options::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
