//! `--results NAME`: every job's output saved, as JSON lines when NAME
//! ends in `.jsonl`, else in a directory laid out as GNU parallel lays it
//! out: `NAME/1/VALUE1/2/VALUE2/` holding `seq`, `stdout` and `stderr`.
//!
//! The JSON lines are written by serde (`serde_json`), the output streamed
//! from its buffer. In them, bytes that are not UTF-8 (in inputs, commands or
//! output) are replaced with U+FFFD; the directory files hold the bytes as
//! they are. In directory names a `/` in a value becomes `\_` and a `\`
//! becomes `\\`, as in GNU parallel; names are cut at 255 bytes. Unlike
//! GNU parallel, an empty value is `\e`, `.` is `\.` and `..` is `\.\.`, so
//! that no job writes outside its own directory.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::error::CliError;
use crate::output_buffer::OutputBuffer;

/// The longest file name most file systems take.
const MAX_NAME: usize = 255;

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
    pub stdout: &'a OutputBuffer,
    /// Its standard error.
    pub stderr: &'a OutputBuffer,
}

/// One line of a `.jsonl` results file, as serde writes it (the fields
/// in this order).
#[derive(Serialize)]
struct JsonLine<'a> {
    seq: u64,
    input: Vec<Cow<'a, str>>,
    command: Cow<'a, str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    /// Seconds since the Unix epoch.
    start: f64,
    /// Seconds.
    runtime: f64,
    stdout: OutputText<'a>,
    stderr: OutputText<'a>,
}

/// A job's output as a JSON string, written a chunk at a time (it may be
/// far larger than memory holds: see `output_buffer`), invalid UTF-8
/// replaced with U+FFFD; a character cut between two chunks is put back
/// together.
struct OutputText<'a> {
    buffer: &'a OutputBuffer,
    /// Reading the buffer back from its temporary file failed: the string
    /// is cut short there, and the line is not written.
    read_error: Cell<Option<io::Error>>,
}

impl<'a> OutputText<'a> {
    fn new(buffer: &'a OutputBuffer) -> OutputText<'a> {
        OutputText {
            buffer,
            read_error: Cell::new(None),
        }
    }

    /// The error reading the output back, if there was one.
    fn take_read_error(&self) -> io::Result<()> {
        self.read_error.take().map_or(Ok(()), Err)
    }
}

impl Serialize for OutputText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // serde_json escapes what `Display` writes as it comes: the output
        // is never gathered into one string.
        serializer.collect_str(self)
    }
}

impl fmt::Display for OutputText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut carry: Vec<u8> = Vec::new();
        let mut write_failed = false;
        let read = self.buffer.for_each_kept_chunk(|chunk| {
            let joined: Cow<[u8]> = if carry.is_empty() {
                Cow::Borrowed(chunk)
            } else {
                let mut joined = std::mem::take(&mut carry);
                joined.extend_from_slice(chunk);
                Cow::Owned(joined)
            };
            let mut end = joined.len();
            if let Err(error) = std::str::from_utf8(&joined)
                && error.error_len().is_none()
            {
                // An incomplete character at the end: keep it for the next
                // chunk.
                end = error.valid_up_to();
            }
            carry = joined[end..].to_vec();
            f.write_str(&String::from_utf8_lossy(&joined[..end]))
                .map_err(|fmt::Error| {
                    write_failed = true;
                    io::Error::other("the JSON line could not be written")
                })
        });
        if write_failed {
            return Err(fmt::Error);
        }
        if let Err(error) = read {
            // Not a formatting error: serde_json would take it for one of
            // its writer's. Reported after the line.
            self.read_error.set(Some(error));
            return Ok(());
        }
        f.write_str(&String::from_utf8_lossy(&carry))
    }
}

/// Writes the JSON line for `result`, newline included.
pub(crate) fn write_result(out: &mut impl Write, result: &JobResult<'_>) -> io::Result<()> {
    let seconds = |time: SystemTime| {
        time.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    };
    let line = JsonLine {
        seq: result.seq,
        input: result
            .inputs
            .iter()
            .map(|value| String::from_utf8_lossy(value))
            .collect(),
        command: String::from_utf8_lossy(result.command),
        exit_code: result.exit_code,
        signal: result.signal,
        timed_out: result.timed_out,
        start: seconds(result.start),
        runtime: result.runtime.as_secs_f64(),
        stdout: OutputText::new(result.stdout),
        stderr: OutputText::new(result.stderr),
    };
    serde_json::to_writer(&mut *out, &line)?;
    line.stdout.take_read_error()?;
    line.stderr.take_read_error()?;
    out.write_all(b"\n")
}

/// A directory name for `value`: `/` as `\_`, `\` as `\\`, the names `.`
/// and `..` and the empty name escaped, at most 255 bytes.
pub(crate) fn directory_name(value: &[u8]) -> Vec<u8> {
    match value {
        b"" => return b"\\e".to_vec(),
        b"." => return b"\\.".to_vec(),
        b".." => return b"\\.\\.".to_vec(),
        _ => {}
    }
    let mut name = Vec::with_capacity(value.len());
    for &byte in value {
        let escaped: &[u8] = match byte {
            b'/' => b"\\_",
            b'\\' => b"\\\\",
            _ => std::slice::from_ref(&byte),
        };
        if name.len() + escaped.len() > MAX_NAME {
            break;
        }
        name.extend_from_slice(escaped);
    }
    name
}

/// Where the results go.
#[derive(Debug)]
enum Target {
    JsonLines(File),
    Directory,
}

/// Saves every job's output.
#[derive(Debug)]
pub struct ResultsWriter {
    target: Target,
    path: PathBuf,
}

impl ResultsWriter {
    /// Opens the results: creates (or empties) a `.jsonl` file, appending
    /// with `append`; or makes the directory.
    pub(crate) fn open(path: &Path, append: bool) -> Result<ResultsWriter, CliError> {
        let name = path.as_os_str().to_string_lossy();
        let lower = name.to_ascii_lowercase();
        if [".csv", ".tsv", ".json"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            return Err(CliError::ResultsFormat(name.into_owned()));
        }
        let open_error = |source| CliError::ResultsOpen {
            path: path.to_path_buf(),
            source,
        };
        let target = if lower.ends_with(".jsonl") {
            let mut options = OpenOptions::new();
            if append {
                options.append(true).create(true);
            } else {
                options.write(true).create(true).truncate(true);
            }
            Target::JsonLines(options.open(path).map_err(open_error)?)
        } else {
            std::fs::create_dir_all(path).map_err(open_error)?;
            Target::Directory
        };
        Ok(ResultsWriter {
            target,
            path: path.to_path_buf(),
        })
    }

    /// Records `result`.
    pub(crate) fn record(&mut self, result: &JobResult<'_>) -> Result<(), CliError> {
        let written = match &self.target {
            Target::JsonLines(file) => {
                let mut out = BufWriter::with_capacity(256 * 1024, file);
                write_result(&mut out, result)
                    .and_then(|()| out.flush())
                    .map_err(|source| (self.path.clone(), source))
            }
            Target::Directory => self.write_directory(result),
        };
        written.map_err(|(path, source)| CliError::ResultsWrite { path, source })
    }

    /// Writes a job's directory; an error names the path that failed.
    fn write_directory(&self, result: &JobResult<'_>) -> Result<(), (PathBuf, io::Error)> {
        use std::os::unix::ffi::OsStrExt;
        let mut dir = self.path.clone();
        for (index, value) in result.inputs.iter().enumerate() {
            for name in [(index + 1).to_string().into_bytes(), directory_name(value)] {
                dir.push(std::ffi::OsStr::from_bytes(&name));
                make_directory(&dir).map_err(|e| (dir.clone(), e))?;
            }
        }
        let seq = dir.join("seq");
        std::fs::write(&seq, result.seq.to_string()).map_err(|e| (seq, e))?;
        for (name, buffer) in [("stdout", result.stdout), ("stderr", result.stderr)] {
            let path = dir.join(name);
            let written = File::create(&path).and_then(|file| {
                let mut file = BufWriter::with_capacity(64 * 1024, file);
                buffer.for_each_kept_chunk(|chunk| file.write_all(chunk))?;
                file.flush()
            });
            written.map_err(|e| (path, e))?;
        }
        Ok(())
    }
}

/// Makes directory `path` unless it is one already.
fn make_directory(path: &Path) -> io::Result<()> {
    match std::fs::create_dir(path) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            if path.is_dir() {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "it exists and is not a directory",
                ))
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(bytes: &[u8], memory_limit: usize) -> OutputBuffer {
        let mut c = OutputBuffer::with_memory_limit(memory_limit);
        for chunk in bytes.chunks(3) {
            c.push(chunk);
        }
        c
    }

    fn result<'a>(
        inputs: &'a [Vec<u8>],
        out: &'a OutputBuffer,
        err: &'a OutputBuffer,
    ) -> JobResult<'a> {
        JobResult {
            seq: 4,
            inputs,
            command: b"echo a",
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(10),
            runtime: Duration::from_millis(1500),
            stdout: out,
            stderr: err,
        }
    }

    #[test]
    fn one_json_object_per_line() {
        let inputs = vec![b"a\xff".to_vec()];
        // "é" is cut between chunks of 3 bytes and between memory and file.
        let out = buffer("aé\"\nbé".as_bytes(), 4);
        let err = buffer(b"", 4);
        let mut line = Vec::new();
        write_result(&mut line, &result(&inputs, &out, &err)).unwrap();
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["seq"], 4);
        assert_eq!(value["input"][0], "a\u{fffd}");
        assert_eq!(value["exit_code"], 0);
        assert!(value["signal"].is_null());
        assert_eq!(value["runtime"], 1.5);
        assert_eq!(value["start"], 10.0);
        assert_eq!(value["stdout"], "aé\"\nbé");
        assert_eq!(value["stderr"], "");
    }

    /// Pins the bytes of a line: the fields in this order, non-ASCII
    /// characters as they are, control characters escaped, numbers as
    /// serde_json writes them (the line was written by hand before it went
    /// through serde, byte for byte the same).
    #[test]
    fn a_line_is_written_byte_for_byte() {
        let inputs = vec![b"caf\xc3\xa9".to_vec(), b"t\tab\x01".to_vec()];
        let out = buffer("\u{1f600} \"q\" \\ \u{7f}\n".as_bytes(), 5);
        let err = buffer(b"\xff\xe2\x82", 2);
        let mut job = result(&inputs, &out, &err);
        job.exit_code = None;
        job.signal = Some(15);
        job.timed_out = true;
        job.start = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        job.runtime = Duration::from_nanos(2_000_000_001);
        let mut line = Vec::new();
        write_result(&mut line, &job).unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"seq\":4,\"input\":[\"caf\u{e9}\",\"t\\tab\\u0001\"],\"command\":\"echo a\",\
             \"exit_code\":null,\"signal\":15,\"timed_out\":true,\"start\":1700000000.1234567,\
             \"runtime\":2.000000001,\"stdout\":\"\u{1f600} \\\"q\\\" \\\\ \u{7f}\\n\",\
             \"stderr\":\"\u{fffd}\u{fffd}\"}\n"
        );
    }

    /// Pins GNU parallel's directory names: `b/c` -> `b\_c`, `a\b` ->
    /// `a\\b`, values cut at 255 bytes.
    #[test]
    fn directory_names_escape_slashes_and_backslashes() {
        assert_eq!(directory_name(b"a"), b"a");
        assert_eq!(directory_name(b"b/c"), b"b\\_c");
        assert_eq!(directory_name(b"a\\b"), b"a\\\\b");
        assert_eq!(directory_name(b".."), b"\\.\\.");
        assert_eq!(directory_name(b""), b"\\e");
        assert_eq!(directory_name(&[b'l'; 300]).len(), 255);
        assert_eq!(
            directory_name(&[b'/'; 300]).len(),
            254,
            "an escape is never cut"
        );
    }

    /// Pins GNU parallel's layout: `--results out echo ::: a b ::: 1`
    /// writes `out/1/a/2/1/{seq,stdout,stderr}`, `seq` holding `1`.
    #[test]
    fn a_directory_gets_gnu_parallels_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let mut writer = ResultsWriter::open(&root, false).unwrap();
        let inputs = vec![b"a".to_vec(), b"1".to_vec()];
        let (out, err) = (buffer(b"a 1\n", 2), buffer(b"oops", 100));
        writer.record(&result(&inputs, &out, &err)).unwrap();
        let job = root.join("1/a/2/1");
        assert_eq!(std::fs::read(job.join("seq")).unwrap(), b"4");
        assert_eq!(std::fs::read(job.join("stdout")).unwrap(), b"a 1\n");
        assert_eq!(std::fs::read(job.join("stderr")).unwrap(), b"oops");
        for refused in ["x.csv", "x.tsv", "x.json"] {
            assert!(matches!(
                ResultsWriter::open(&dir.path().join(refused), false),
                Err(CliError::ResultsFormat(_))
            ));
        }
    }
}
