//! `--joblog`: one line per finished job in GNU parallel's column format,
//! and reading such a log back for `--resume`.
//!
//! ```text
//! Seq  Host  Starttime       JobRuntime  Send  Receive  Exitval  Signal  Command
//! 1    :     1700000000.123  0.004       0     6        0        0       echo hello
//! ```
//!
//! Columns are separated by tabs. Host is `:` (this machine), Send is 0 (no
//! job gets data on its standard input) and Receive is the number of bytes
//! the job wrote to its standard output and error. Exitval is the exit
//! code, 128 + the signal for a job a signal killed (Signal holds the
//! signal), or -1 for a job that ran past `--timeout` (how a job's
//! [`Outcome`](dummymp::Outcome) becomes these numbers is
//! [`FinishedJob::exit_value_and_signal`](crate::job::FinishedJob::exit_value_and_signal)).
//! A newline, carriage
//! return or tab inside a command is written as `\n`, `\r` or `\t`, so that
//! every job is one line (GNU parallel writes a newline as a NUL byte and
//! the others as they are; [`crate::resume`] accepts both).
//!
//! A line is written with one `write`; a log cut short (a full disk) may
//! end in part of a line, which counts as not written: it is ignored when
//! the log is read and cut off before the log is appended to.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::CliError;

/// The first line of every job log.
pub const HEADER: &[u8] =
    b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// The number of columns of a job log line.
const COLUMNS: usize = 9;

/// One finished job, as logged.
#[derive(Debug, Clone, Copy)]
pub struct JobLogEntry<'a> {
    /// The job number.
    pub seq: u64,
    /// When its (last) run started.
    pub start: SystemTime,
    /// How long it ran.
    pub runtime: Duration,
    /// Bytes of output received from it.
    pub received: u64,
    /// Its exit value (-1 when it ran past its timeout).
    pub exit_value: i32,
    /// The signal that ended it, or 0.
    pub signal: i32,
    /// Its command line.
    pub command: &'a [u8],
}

/// `command` with newlines, carriage returns and tabs escaped, as the log
/// holds it.
pub(crate) fn escape_command(command: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(command.len());
    for &byte in command {
        match byte {
            b'\n' => escaped.extend_from_slice(b"\\n"),
            b'\r' => escaped.extend_from_slice(b"\\r"),
            b'\t' => escaped.extend_from_slice(b"\\t"),
            _ => escaped.push(byte),
        }
    }
    escaped
}

/// The log line for `entry`, newline included.
pub(crate) fn format_entry(entry: &JobLogEntry<'_>) -> Vec<u8> {
    let start = entry
        .start
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut line = format!(
        "{}\t:\t{:10.3}\t{:10.3}\t0\t{}\t{}\t{}\t",
        entry.seq,
        start,
        entry.runtime.as_secs_f64(),
        entry.received,
        entry.exit_value,
        entry.signal
    )
    .into_bytes();
    line.extend_from_slice(&escape_command(entry.command));
    line.push(b'\n');
    line
}

/// Appends lines to a job log, each flushed to the file as it is written.
#[derive(Debug)]
pub struct JobLogWriter {
    file: File,
    path: PathBuf,
}

impl JobLogWriter {
    /// Creates (or empties) the log and writes its header; with `append`,
    /// keeps what it holds and writes the header only into an empty file.
    pub(crate) fn open(path: &Path, append: bool) -> Result<JobLogWriter, CliError> {
        let open_error = |source| CliError::JobLogOpen {
            path: path.to_path_buf(),
            source,
        };
        let mut options = OpenOptions::new();
        if append {
            // Read too: a last line cut short is looked for and cut off.
            options.read(true).append(true).create(true);
        } else {
            options.write(true).create(true).truncate(true);
        }
        let file = options.open(path).map_err(open_error)?;
        if append {
            cut_partial_last_line(&file).map_err(open_error)?;
        }
        let mut writer = JobLogWriter {
            file,
            path: path.to_path_buf(),
        };
        let empty = writer.file.metadata().map_err(open_error)?.len() == 0;
        if empty {
            writer.write_line(HEADER)?;
        }
        Ok(writer)
    }

    /// Appends the line for `entry`.
    pub(crate) fn record(&mut self, entry: &JobLogEntry<'_>) -> Result<(), CliError> {
        self.write_line(&format_entry(entry))
    }

    fn write_line(&mut self, line: &[u8]) -> Result<(), CliError> {
        // One write of a whole line; a File has no buffer to flush.
        self.file
            .write_all(line)
            .map_err(|source| CliError::JobLogWrite {
                path: self.path.clone(),
                source,
            })
    }
}

/// Cuts a last line without its newline (a write cut short) off the end
/// of `file`, so that the next line starts on a line of its own.
fn cut_partial_last_line(file: &File) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(newline) = part.iter().rposition(|&b| b == b'\n') {
            let keep = start + newline as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
    }
    Ok(())
}

/// A job as a job log recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedJob {
    /// Its exit value.
    pub exit_value: i32,
    /// The signal that ended it, or 0.
    pub signal: i32,
    /// Its command line, escaped as in the log.
    pub command: Vec<u8>,
}

impl LoggedJob {
    /// Whether the job succeeded.
    pub(crate) fn succeeded(&self) -> bool {
        self.exit_value == 0 && self.signal == 0
    }
}

/// The jobs a job log records, by job number; a job logged more than once
/// (by an earlier `--resume-failed`) counts as its last line says. A log
/// that does not exist records no job.
pub(crate) fn read_job_log(path: &Path) -> Result<BTreeMap<u64, LoggedJob>, CliError> {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(CliError::JobLogOpen {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // Whatever follows the last newline is a line cut short: not done.
    let complete = match data.iter().rposition(|&b| b == b'\n') {
        Some(last) => &data[..=last],
        None => &[][..],
    };
    let mut jobs = BTreeMap::new();
    for (index, line) in complete.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || (index == 0 && line.starts_with(b"Seq\t")) {
            continue;
        }
        let (seq, job) = parse_line(line).map_err(|reason| CliError::JobLogMalformed {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        })?;
        jobs.insert(seq, job);
    }
    Ok(jobs)
}

fn parse_line(line: &[u8]) -> Result<(u64, LoggedJob), &'static str> {
    let fields: Vec<&[u8]> = line.splitn(COLUMNS, |&b| b == b'\t').collect();
    if fields.len() != COLUMNS {
        return Err("expected 9 tab-separated columns");
    }
    let number = |field: &[u8]| {
        std::str::from_utf8(field)
            .ok()
            .map(str::trim)
            .map(str::to_owned)
    };
    let seq = number(fields[0])
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&seq| seq > 0)
        .ok_or("Seq is not a job number")?;
    let exit_value = number(fields[6])
        .and_then(|s| s.parse().ok())
        .ok_or("Exitval is not a number")?;
    let signal = number(fields[7])
        .and_then(|s| s.parse().ok())
        .ok_or("Signal is not a number")?;
    Ok((
        seq,
        LoggedJob {
            exit_value,
            signal,
            command: fields[8].to_vec(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, exit_value: i32, command: &[u8]) -> JobLogEntry<'_> {
        JobLogEntry {
            seq,
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            runtime: Duration::from_millis(2500),
            received: 12,
            exit_value,
            signal: 0,
            command,
        }
    }

    #[test]
    fn lines_use_gnu_parallels_columns() {
        let line = format_entry(&entry(3, 1, b"echo a\tb\nc"));
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "3\t:\t1700000000.123\t     2.500\t0\t12\t1\t0\techo a\\tb\\nc\n"
        );
    }

    #[test]
    fn a_written_log_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = JobLogWriter::open(&path, false).unwrap();
        log.record(&entry(1, 0, b"echo one")).unwrap();
        log.record(&entry(2, 3, b"echo \xfftwo")).unwrap();
        drop(log);
        let mut log = JobLogWriter::open(&path, true).unwrap();
        log.record(&entry(2, 0, b"echo \xfftwo")).unwrap();
        drop(log);
        let data = std::fs::read(&path).unwrap();
        assert!(data.starts_with(HEADER));
        assert_eq!(
            data.windows(3).filter(|w| w == b"Seq").count(),
            1,
            "one header"
        );
        let jobs = read_job_log(&path).unwrap();
        assert_eq!(jobs.len(), 2);
        assert!(jobs[&1].succeeded());
        assert_eq!(jobs[&2].command, b"echo \xfftwo");
        assert!(jobs[&2].succeeded(), "the last line for a job counts");
    }

    #[test]
    fn a_line_cut_short_is_not_done_and_is_cut_off_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = JobLogWriter::open(&path, false).unwrap();
        log.record(&entry(1, 0, b"echo one")).unwrap();
        drop(log);
        let mut data = std::fs::read(&path).unwrap();
        data.extend_from_slice(b"2\t:\t1700000000.1");
        std::fs::write(&path, &data).unwrap();
        let jobs = read_job_log(&path).unwrap();
        assert_eq!(jobs.keys().copied().collect::<Vec<_>>(), [1]);
        let mut log = JobLogWriter::open(&path, true).unwrap();
        log.record(&entry(2, 0, b"echo two")).unwrap();
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().last().unwrap().ends_with("echo two"));
        assert_eq!(read_job_log(&path).unwrap().len(), 2);
    }

    #[test]
    fn a_missing_log_is_empty_and_a_malformed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_job_log(&dir.path().join("none")).unwrap().is_empty());
        let path = dir.path().join("bad");
        std::fs::write(&path, b"Seq\tHost\n1\t:\t0\n2\t:").unwrap();
        let err = read_job_log(&path).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
