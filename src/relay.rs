//! The parent's side of relaying: log records from a task go to the
//! parent's `log` logger, output lines to the parent's stdout and stderr (or
//! into the task's report).
//!
//! Everything is relayed from the one thread that drives the queue, and each
//! message is written with a single call on the locked stream, so two tasks'
//! bytes never share a line.

use std::os::fd::{AsFd, BorrowedFd};

use log::{Level, Record};

use crate::protocol::LogRecord;
use crate::task::OutputMode;
use crate::task::Stream;

/// Hands a task's log record to this process's logger, keeping level,
/// target, module, file and line, with the message prefixed `[PID n] `.
pub(crate) fn relay_log(pid: u32, record: &LogRecord) {
    let level = Level::iter()
        .find(|l| *l as u8 == record.level)
        .unwrap_or(Level::Info);
    let logger = log::logger();
    logger.log(
        &Record::builder()
            .level(level)
            .target(&record.target)
            .module_path(record.module_path.as_deref())
            .file(record.file.as_deref())
            .line(record.line)
            .args(format_args!("[PID {pid}] {}", record.message))
            .build(),
    );
}

/// Where a task's output goes when it is captured.
pub(crate) struct Captured<'a> {
    pub stdout: &'a mut Vec<u8>,
    pub stderr: &'a mut Vec<u8>,
}

/// Relays `data` (whole lines, except perhaps the task's very last bytes)
/// that a task wrote to `stream`.
pub(crate) fn relay_output(
    pid: u32,
    stream: Stream,
    data: &[u8],
    mode: OutputMode,
    captured: Captured<'_>,
) {
    let prefix = match mode {
        OutputMode::Captured => {
            let sink = match stream {
                Stream::Stdout => captured.stdout,
                Stream::Stderr => captured.stderr,
            };
            sink.extend_from_slice(data);
            return;
        }
        OutputMode::Tagged => format!("[PID {pid}] "),
        OutputMode::Untagged => String::new(),
    };
    let text = tag_lines(prefix.as_bytes(), data);
    // Nowhere to report a closed stdout to; the task's result still counts.
    let _ = match stream {
        Stream::Stdout => {
            let out = std::io::stdout().lock();
            write_all(out.as_fd(), &text)
        }
        Stream::Stderr => {
            let err = std::io::stderr().lock();
            write_all(err.as_fd(), &text)
        }
    };
}

/// Writes all of `data` to `fd` with as few calls as the system allows,
/// waiting while a non-blocking descriptor is full (a terminal or pipe
/// shared with a program that made it non-blocking), so that nothing is
/// lost and no line is split between two writers.
///
/// ```
/// use std::os::fd::AsFd;
/// dummymp::engine::write_all(std::io::stdout().as_fd(), b"one whole line\n")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_all(fd: BorrowedFd<'_>, data: &[u8]) -> std::io::Result<()> {
    crate::platform::write_all(fd, data)
}

/// Puts `prefix` before every line of `data` and ends the last one.
fn tag_lines(prefix: &[u8], data: &[u8]) -> Vec<u8> {
    let lines = data.split_inclusive(|&b| b == b'\n');
    let mut text = Vec::with_capacity(data.len() + prefix.len() * 4 + 1);
    for line in lines {
        text.extend_from_slice(prefix);
        text.extend_from_slice(line);
    }
    if text.last() != Some(&b'\n') {
        text.push(b'\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_tagged_and_ended() {
        assert_eq!(tag_lines(b"[PID 7] ", b"a\nb\n"), b"[PID 7] a\n[PID 7] b\n");
        assert_eq!(tag_lines(b"[PID 7] ", b"a\nb"), b"[PID 7] a\n[PID 7] b\n");
        assert_eq!(tag_lines(b"", b"\n"), b"\n");
    }

    #[test]
    fn captured_output_is_kept_verbatim() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        for (stream, data) in [
            (Stream::Stdout, &b"a\n"[..]),
            (Stream::Stderr, b"e"),
            (Stream::Stdout, b"b"),
        ] {
            relay_output(
                1,
                stream,
                data,
                OutputMode::Captured,
                Captured {
                    stdout: &mut out,
                    stderr: &mut err,
                },
            );
        }
        assert_eq!(out, b"a\nb");
        assert_eq!(err, b"e");
    }
}
