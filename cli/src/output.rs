//! Printing the jobs' output: grouped per job (the default) or line by line
//! (`--line-buffer`), optionally tagged with the job's input (`--tag`) and
//! in input order (`--keep-order`).
//!
//! Every write to our standard output or error holds whole lines of one job
//! (or, in group mode, all of one job's output on that stream), so the
//! output of two jobs never shares a line.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use indicatif::ProgressBar;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;

/// When a job's output is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// All of it when the job ends: its standard output, then its standard
    /// error.
    Group,
    /// Whole lines as they come; a last line without a newline gets one when
    /// the job ends.
    LineBuffer,
}

/// One of a job's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Its standard output, printed to ours.
    Stdout,
    /// Its standard error, printed to ours.
    Stderr,
}

/// What a job has written to one stream: the bytes not yet printed (all of
/// them when they are kept for `--results`), and how many it wrote in all.
#[derive(Debug, Default)]
pub struct Captured {
    bytes: Vec<u8>,
    printed: usize,
    total: u64,
}

impl Captured {
    /// Takes in bytes the job wrote.
    pub fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        self.total += data.len() as u64;
    }

    /// Every byte the job wrote, when they were kept.
    pub fn kept(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes the job wrote.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn unprinted(&self) -> &[u8] {
        &self.bytes[self.printed..]
    }

    /// Marks `len` more bytes as printed; drops them unless `keep_all`.
    fn mark_printed(&mut self, len: usize, keep_all: bool) {
        self.printed += len;
        if !keep_all {
            self.bytes.drain(..self.printed);
            self.printed = 0;
        }
    }
}

/// The output of a finished job waiting for its turn (`--keep-order`).
#[derive(Debug)]
struct Held {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Prints the jobs' output to our standard output and error.
#[derive(Debug)]
pub struct Printer {
    mode: OutputMode,
    keep_order: bool,
    keep_all: bool,
    /// With `--keep-order`: the job whose output is printed next.
    next_seq: u64,
    held: BTreeMap<u64, Held>,
    bar: Option<ProgressBar>,
}

impl Printer {
    /// A printer for `mode`; `keep_all` keeps every byte in the
    /// [`Captured`] buffers (for `--results`).
    pub fn new(mode: OutputMode, keep_order: bool, keep_all: bool) -> Printer {
        Printer {
            mode,
            keep_order,
            keep_all,
            next_seq: 1,
            held: BTreeMap::new(),
            bar: None,
        }
    }

    /// Clears the progress bar around every write, and draws it again
    /// after.
    pub fn set_bar(&mut self, bar: ProgressBar) {
        self.bar = Some(bar);
    }

    /// Whether job `seq`'s lines may be printed while it runs.
    fn prints_live(&self, seq: u64) -> bool {
        self.mode == OutputMode::LineBuffer && (!self.keep_order || seq == self.next_seq)
    }

    /// In line-buffer mode, prints the whole lines job `seq` wrote to
    /// `stream` since the last call, if it is the job's turn.
    pub fn print_lines(
        &mut self,
        seq: u64,
        tag: &[u8],
        stream: Stream,
        captured: &mut Captured,
    ) -> io::Result<()> {
        if !self.prints_live(seq) {
            return Ok(());
        }
        let unprinted = captured.unprinted();
        let Some(last_newline) = unprinted.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let lines = &unprinted[..=last_newline];
        let text = tagged(tag, lines);
        self.write(&[(stream, &text)])?;
        captured.mark_printed(last_newline + 1, self.keep_all);
        Ok(())
    }

    /// Prints (or, when it is not its turn yet, holds) what job `seq` wrote
    /// and was not printed yet. With `--keep-order`, returns the job whose
    /// turn it is now when that changed, so that its lines can be printed.
    pub fn finish_job(
        &mut self,
        seq: u64,
        tag: &[u8],
        stdout: &mut Captured,
        stderr: &mut Captured,
    ) -> io::Result<Option<u64>> {
        let complete = self.mode == OutputMode::LineBuffer || !tag.is_empty();
        let out = finish_text(tag, stdout.unprinted(), complete).into_owned();
        let err = finish_text(tag, stderr.unprinted(), complete).into_owned();
        let (out_len, err_len) = (stdout.unprinted().len(), stderr.unprinted().len());
        stdout.mark_printed(out_len, self.keep_all);
        stderr.mark_printed(err_len, self.keep_all);
        if self.keep_order && seq != self.next_seq {
            self.held.insert(
                seq,
                Held {
                    stdout: out,
                    stderr: err,
                },
            );
            return Ok(None);
        }
        self.write(&[(Stream::Stdout, &out), (Stream::Stderr, &err)])?;
        if !self.keep_order {
            return Ok(None);
        }
        self.next_seq = seq + 1;
        self.print_held_in_turn().map(Some)
    }

    /// Records that job `seq` will print nothing (it was skipped); returns
    /// the job whose turn it is now when that changed.
    pub fn skip_job(&mut self, seq: u64) -> io::Result<Option<u64>> {
        if !self.keep_order {
            return Ok(None);
        }
        if seq != self.next_seq {
            self.held.insert(
                seq,
                Held {
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                },
            );
            return Ok(None);
        }
        self.next_seq = seq + 1;
        self.print_held_in_turn().map(Some)
    }

    /// Prints held output whose turn has come; returns the next turn.
    fn print_held_in_turn(&mut self) -> io::Result<u64> {
        while let Some(held) = self.held.remove(&self.next_seq) {
            self.write(&[
                (Stream::Stdout, &held.stdout),
                (Stream::Stderr, &held.stderr),
            ])?;
            self.next_seq += 1;
        }
        Ok(self.next_seq)
    }

    /// Prints everything still held, in order, whatever turns are missing
    /// (jobs that never ran because the run stopped early).
    pub fn flush_held(&mut self) -> io::Result<()> {
        while let Some((_, held)) = self.held.pop_first() {
            self.write(&[
                (Stream::Stdout, &held.stdout),
                (Stream::Stderr, &held.stderr),
            ])?;
        }
        Ok(())
    }

    fn write(&self, parts: &[(Stream, &[u8])]) -> io::Result<()> {
        if parts.iter().all(|(_, text)| text.is_empty()) {
            return Ok(());
        }
        let write_all = || {
            for &(stream, text) in parts {
                match stream {
                    Stream::Stdout => write_fd(io::stdout().as_fd(), text)?,
                    Stream::Stderr => write_fd(io::stderr().as_fd(), text)?,
                }
            }
            Ok(())
        };
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.suspend(write_all),
            _ => write_all(),
        }
    }
}

/// `lines` with `tag` before each line (borrowed when there is no tag).
fn tagged<'a>(tag: &[u8], lines: &'a [u8]) -> Cow<'a, [u8]> {
    if tag.is_empty() {
        return Cow::Borrowed(lines);
    }
    let mut text = Vec::with_capacity(lines.len() + tag.len() * 4);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        text.extend_from_slice(tag);
        text.extend_from_slice(line);
    }
    Cow::Owned(text)
}

/// The rest of a job's output at its end: tagged, and with a newline after
/// an unfinished last line when `complete`.
fn finish_text<'a>(tag: &[u8], rest: &'a [u8], complete: bool) -> Cow<'a, [u8]> {
    let mut text = tagged(tag, rest);
    if complete && text.last().is_some_and(|&b| b != b'\n') {
        text.to_mut().push(b'\n');
    }
    text
}

/// Writes all of `data` to `fd`, waiting while a non-blocking descriptor is
/// full.
pub fn write_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                match poll(&mut fds, None) {
                    Ok(_) | Err(Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_prefix_every_line_and_complete_the_last() {
        assert_eq!(&*tagged(b"a\t", b"x\ny\n"), b"a\tx\na\ty\n");
        assert_eq!(&*finish_text(b"a\t", b"x\ny", true), b"a\tx\na\ty\n");
        assert_eq!(&*finish_text(b"", b"x\ny", false), b"x\ny");
        assert_eq!(&*finish_text(b"", b"", true), b"");
    }

    #[test]
    fn captured_output_drops_printed_bytes_unless_kept() {
        let mut c = Captured::default();
        c.push(b"one\ntw");
        c.mark_printed(4, false);
        assert_eq!(c.unprinted(), b"tw");
        assert_eq!(c.total(), 6);
        let mut kept = Captured::default();
        kept.push(b"one\ntw");
        kept.mark_printed(4, true);
        assert_eq!(kept.unprinted(), b"tw");
        assert_eq!(kept.kept(), b"one\ntw");
    }

    #[test]
    fn keep_order_holds_later_jobs_until_their_turn() {
        let mut printer = Printer::new(OutputMode::Group, true, false);
        let mut out = Captured::default();
        let mut err = Captured::default();
        // Job 2 ends first: held, nothing printed, no turn change.
        out.push(b"");
        assert_eq!(
            printer.finish_job(2, b"", &mut out, &mut err).unwrap(),
            None
        );
        assert!(printer.held.contains_key(&2));
        // Job 1 is skipped: its turn passes, job 2's (empty) output goes.
        assert_eq!(printer.skip_job(1).unwrap(), Some(3));
        assert!(printer.held.is_empty());
        assert!(!printer.prints_live(3), "group mode never prints live");
    }
}
