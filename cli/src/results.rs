//! `--results NAME`: every job's output saved, as JSON lines when NAME
//! ends in `.jsonl`, else in a directory laid out as GNU parallel lays it
//! out: `NAME/1/VALUE1/2/VALUE2/` holding `seq`, `stdout` and `stderr`.
//!
//! In the JSON lines, bytes that are not UTF-8 (in inputs, commands or
//! output) are replaced with U+FFFD; the directory files hold the bytes as
//! they are. In directory names a `/` in a value becomes `\_` and a `\`
//! becomes `\\`, as in GNU parallel; names are cut at 255 bytes. Unlike
//! GNU parallel, an empty value is `\e`, `.` is `\.` and `..` is `\.\.`, so
//! that no job writes outside its own directory.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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

/// A JSON string of `bytes`, quotes included (invalid UTF-8 replaced).
fn json_string(bytes: &[u8]) -> String {
    // Serialising a string cannot fail; an empty string is a harmless
    // fallback all the same.
    serde_json::to_string(&String::from_utf8_lossy(bytes)).unwrap_or_else(|_| "\"\"".into())
}

/// Writes `buffer` as a JSON string, a chunk at a time: a UTF-8
/// character cut between two chunks is put back together.
fn write_json_output(out: &mut impl Write, buffer: &OutputBuffer) -> std::io::Result<()> {
    out.write_all(b"\"")?;
    let mut carry: Vec<u8> = Vec::new();
    buffer.for_each_kept_chunk(|chunk| {
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
        let text = json_string(&joined[..end]);
        out.write_all(&text.as_bytes()[1..text.len() - 1])
    })?;
    if !carry.is_empty() {
        let text = json_string(&carry);
        out.write_all(&text.as_bytes()[1..text.len() - 1])?;
    }
    out.write_all(b"\"")
}

/// Writes the JSON line for `result`, newline included.
pub(crate) fn write_result(out: &mut impl Write, result: &JobResult<'_>) -> std::io::Result<()> {
    let seconds = |time: SystemTime| {
        time.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    };
    let number = |value: Option<i32>| value.map_or_else(|| "null".to_string(), |v| v.to_string());
    let inputs: Vec<String> = result.inputs.iter().map(|v| json_string(v)).collect();
    write!(
        out,
        "{{\"seq\":{},\"input\":[{}],\"command\":{},\"exit_code\":{},\"signal\":{},\
         \"timed_out\":{},\"start\":{},\"runtime\":{},\"stdout\":",
        result.seq,
        inputs.join(","),
        json_string(result.command),
        number(result.exit_code),
        number(result.signal),
        result.timed_out,
        serde_json::Value::from(seconds(result.start)),
        serde_json::Value::from(result.runtime.as_secs_f64()),
    )?;
    write_json_output(out, result.stdout)?;
    out.write_all(b",\"stderr\":")?;
    write_json_output(out, result.stderr)?;
    out.write_all(b"}\n")
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
