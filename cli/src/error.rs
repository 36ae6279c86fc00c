//! Errors that stop `dummymp` from running (or from going on running) its
//! jobs. Every one is reported as a single line on standard error, and the
//! program exits with [`crate::exit_status::USAGE_ERROR`].
//!
//! A job that fails is not an error of the program: it is counted in the
//! exit status instead.

use std::io;
use std::path::PathBuf;

/// What went wrong, in words the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line could not be parsed (an unknown option, a bad
    /// value); the text is clap's first line, without its `error: ` prefix.
    #[error("{0} (see dummymp --help)")]
    Usage(String),

    /// Nothing to run: no command words before `:::`/`::::`.
    #[error("no command given (usage: dummymp [OPTIONS] COMMAND... [::: ARGS...])")]
    NoCommand,

    /// A `::::` argument file could not be read.
    #[error("cannot read argument file {}: {source}", path.display())]
    ArgumentFile {
        /// The file, as given on the command line.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },

    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Stdin(#[source] io::Error),

    /// A replacement string such as `{3}` names an input source that does
    /// not exist.
    #[error(
        "replacement string {token} refers to input source {index}, but there {} only {available}",
        if *available == 1 { "is" } else { "are" }
    )]
    UnknownInputSource {
        /// The replacement string as written.
        token: String,
        /// The input source it names (1-based).
        index: usize,
        /// How many input sources there are.
        available: usize,
    },

    /// The template holds GNU parallel's `{= perl expression =}`.
    #[error(
        "{0}: Perl replacement strings are not supported (dummymp has no Perl); \
         compute the value in the command instead, for example with $(...)"
    )]
    PerlExpression(String),

    /// A replacement string sits where no quoting can keep its value data.
    #[error("a replacement string sits {reason}; move it or quote it")]
    UnsafeTemplate {
        /// Where it sits.
        reason: String,
    },

    /// The `--colsep` regular expression does not compile.
    #[error("--colsep: {0}")]
    ColumnSeparator(String),

    /// The `--results` name asks for a format that is not written.
    #[error(
        "--results {0}: CSV, TSV and JSON files are not written; name a FILE.jsonl \
         (JSON lines) or a directory"
    )]
    ResultsFormat(String),

    /// The cartesian product of the `:::` groups is too large to count.
    #[error("too many combinations of inputs to number them")]
    TooManyJobs,

    /// The job log could not be read (for `--resume`) or created.
    #[error("cannot open job log {}: {source}", path.display())]
    JobLogOpen {
        /// The job log.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },

    /// A line of the job log given to `--resume` is not in the job log
    /// format.
    #[error("job log {} is malformed at line {line}: {reason}", path.display())]
    JobLogMalformed {
        /// The job log.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The job log given to `--resume` was written for other commands.
    #[error(
        "job log {} belongs to another command list: job {seq} ran `{logged}` there, but would run `{now}` now",
        path.display()
    )]
    ResumeMismatch {
        /// The job log.
        path: PathBuf,
        /// The first job whose command differs.
        seq: u64,
        /// The command the log records for it.
        logged: String,
        /// The command it would run now.
        now: String,
    },

    /// The job log given to `--resume` lists more jobs than the input has.
    #[error(
        "job log {} belongs to another command list: it lists job {seq}, but the input has only {jobs} jobs",
        path.display()
    )]
    ResumeBeyondInput {
        /// The job log.
        path: PathBuf,
        /// The first job number beyond the input.
        seq: u64,
        /// How many jobs the input has.
        jobs: u64,
    },

    /// A line could not be appended to the job log.
    #[error("cannot write job log {}: {source}", path.display())]
    JobLogWrite {
        /// The job log.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },

    /// The `--results` file or directory could not be created.
    #[error("cannot open results {}: {source}", path.display())]
    ResultsOpen {
        /// The results file or directory.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },

    /// A job's results could not be written.
    #[error("cannot write results {}: {source}", path.display())]
    ResultsWrite {
        /// The file or directory that could not be written: the `.jsonl`
        /// file, or a job's own (`DIR/1/a/stdout`, `DIR/1/a`).
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: io::Error,
    },

    /// Our own standard output or standard error could not be written.
    #[error("cannot write output: {0}")]
    Output(#[source] io::Error),

    /// The engine that runs the jobs failed (it could not wait for events).
    #[error("{0}")]
    Library(#[source] dummymp::Error),

    /// The system refused something the event loop needs.
    #[error("{context}: {source}")]
    Os {
        /// What dummymp was doing.
        context: &'static str,
        /// What the system reported.
        #[source]
        source: io::Error,
    },
}

impl CliError {
    /// A closure that wraps an [`io::Error`] as [`CliError::Os`].
    pub(crate) fn os<E: Into<io::Error>>(context: &'static str) -> impl FnOnce(E) -> CliError {
        move |source| CliError::Os {
            context,
            source: source.into(),
        }
    }
}
