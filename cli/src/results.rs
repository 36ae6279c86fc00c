//! `--results FILE.jsonl`: one JSON object per finished job.
//!
//! Bytes that are not UTF-8 (in inputs, commands or output) are replaced
//! with U+FFFD in this file; the jobs themselves and the job log see the
//! original bytes.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::error::CliError;

/// What is recorded of one finished job.
#[derive(Debug, Clone, Copy)]
pub struct JobResult<'a> {
    /// The job number.
    pub seq: u64,
    /// Its input values, one per input source.
    pub inputs: &'a [Vec<u8>],
    /// Its command line.
    pub command: &'a [u8],
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Whether it ran past `--timeout`.
    pub timed_out: bool,
    /// When its (last) run started.
    pub start: SystemTime,
    /// How long it ran.
    pub runtime: Duration,
    /// Its standard output.
    pub stdout: &'a [u8],
    /// Its standard error.
    pub stderr: &'a [u8],
}

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    input: Vec<Cow<'a, str>>,
    command: Cow<'a, str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    start: f64,
    runtime: f64,
    stdout: Cow<'a, str>,
    stderr: Cow<'a, str>,
}

/// The JSON line for `result`, newline included.
pub fn format_result(result: &JobResult<'_>) -> Vec<u8> {
    let record = Record {
        seq: result.seq,
        input: result
            .inputs
            .iter()
            .map(|v| String::from_utf8_lossy(v))
            .collect(),
        command: String::from_utf8_lossy(result.command),
        exit_code: result.exit_code,
        signal: result.signal,
        timed_out: result.timed_out,
        start: result
            .start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
        runtime: result.runtime.as_secs_f64(),
        stdout: String::from_utf8_lossy(result.stdout),
        stderr: String::from_utf8_lossy(result.stderr),
    };
    // Serialising plain strings and numbers into memory cannot fail; an
    // empty object is a harmless fallback all the same.
    let mut line = serde_json::to_vec(&record).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    line
}

/// Appends one JSON line per job to the results file.
#[derive(Debug)]
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
}

impl ResultsWriter {
    /// Creates (or empties) the file; with `append`, keeps what it holds.
    pub fn open(path: &Path, append: bool) -> Result<ResultsWriter, CliError> {
        let mut options = OpenOptions::new();
        if append {
            options.append(true).create(true);
        } else {
            options.write(true).create(true).truncate(true);
        }
        let file = options.open(path).map_err(|source| CliError::ResultsOpen {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(ResultsWriter {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends the record of `result` with one write.
    pub fn record(&mut self, result: &JobResult<'_>) -> Result<(), CliError> {
        self.file
            .write_all(&format_result(result))
            .map_err(|source| CliError::ResultsWrite {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_json_object_per_line() {
        let inputs = vec![b"a\xff".to_vec()];
        let line = format_result(&JobResult {
            seq: 4,
            inputs: &inputs,
            command: b"echo a",
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(10),
            runtime: Duration::from_millis(1500),
            stdout: b"a\n",
            stderr: b"",
        });
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["seq"], 4);
        assert_eq!(value["input"][0], "a\u{fffd}");
        assert_eq!(value["exit_code"], 0);
        assert!(value["signal"].is_null());
        assert_eq!(value["runtime"], 1.5);
        assert_eq!(value["start"], 10.0);
        assert_eq!(value["stdout"], "a\n");
    }
}
