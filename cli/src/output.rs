//! Printing the jobs' output: grouped per job (the default) or line by line
//! (`--line-buffer`), optionally tagged with the job's input (`--tag`),
//! preceded by the job's command (`-v`) and in input order
//! (`--keep-order`).
//!
//! In group mode a job's output is printed as it wrote it, all of its
//! standard output then all of its standard error, when it ends (as GNU
//! parallel does, a last line without a newline stays so). In line-buffer
//! mode whole lines are printed as they come, and a last line without a
//! newline gets one when its job ends, so that lines of different jobs
//! never mix.
//!
//! What a job wrote is held in an [`OutputBuffer`] until it is printed
//! (see `output_buffer` for where it is kept).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use dummymp::Stream;
use indicatif::ProgressBar;

use crate::output_buffer::OutputBuffer;

/// How much is gathered before a write, at a time.
const CHUNK: usize = 64 * 1024;

/// When a job's output is printed (`--group`, the default, or
/// `--line-buffer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputGrouping {
    /// All of it when the job ends: its standard output, then its standard
    /// error.
    Group,
    /// Whole lines as they come; a last line without a newline gets one when
    /// the job ends.
    LineBuffer,
}

/// The `--tag` prefix of a job with these input values: the values
/// separated by spaces, then a tab (as GNU parallel writes it).
pub(crate) fn tag_prefix(inputs: &[Vec<u8>]) -> Vec<u8> {
    let mut tag = Vec::new();
    for (i, value) in inputs.iter().enumerate() {
        if i > 0 {
            tag.push(b' ');
        }
        tag.extend_from_slice(value);
    }
    tag.push(b'\t');
    tag
}

/// The output of a finished job waiting for its turn (`--keep-order`).
#[derive(Debug)]
struct Held {
    tag: Vec<u8>,
    command: Option<Vec<u8>>,
    stdout: OutputBuffer,
    stderr: OutputBuffer,
}

/// Prints the jobs' output to our standard output and error.
#[derive(Debug)]
pub struct Printer {
    grouping: OutputGrouping,
    keep_order: bool,
    keep_all: bool,
    verbose: bool,
    /// With `--keep-order`: the job whose output is printed next.
    next_seq: u64,
    held: BTreeMap<u64, Held>,
    /// With `-v`: the command lines not printed yet, by job.
    announced: HashMap<u64, Vec<u8>>,
    bar: Option<ProgressBar>,
}

impl Printer {
    /// A printer for `grouping`; `keep_all` keeps every byte in the
    /// [`OutputBuffer`]s (for `--results`).
    pub(crate) fn new(grouping: OutputGrouping, keep_order: bool, keep_all: bool) -> Printer {
        Printer {
            grouping,
            keep_order,
            keep_all,
            verbose: false,
            next_seq: 1,
            held: BTreeMap::new(),
            announced: HashMap::new(),
            bar: None,
        }
    }

    /// `-v`: print each job's command (given to [`Printer::announce`])
    /// before its output.
    pub(crate) fn set_verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
    }

    /// Whether each job's command is printed before its output.
    pub(crate) fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// With `-v`: job `seq` started with this command line, to be printed
    /// on standard output before its output.
    pub(crate) fn announce(&mut self, seq: u64, command: &[u8]) {
        if self.verbose {
            let mut line = command.to_vec();
            line.push(b'\n');
            self.announced.insert(seq, line);
        }
    }

    /// Writes one line (a warning, a `-v` note) to standard error, around
    /// the progress bar. A standard error that cannot be written is no
    /// reason to stop the run.
    pub(crate) fn note(&self, line: &str) {
        let mut text = line.as_bytes().to_vec();
        text.push(b'\n');
        let _ = self.emit(|| write_fd(io::stderr().as_fd(), &text));
    }

    /// Clears the progress bar around every write, and draws it again
    /// after.
    pub(crate) fn set_bar(&mut self, bar: ProgressBar) {
        self.bar = Some(bar);
    }

    /// Whether job `seq`'s lines may be printed while it runs.
    fn prints_live(&self, seq: u64) -> bool {
        self.grouping == OutputGrouping::LineBuffer && (!self.keep_order || seq == self.next_seq)
    }

    /// In line-buffer mode, prints the whole lines job `seq` wrote to
    /// `stream` since the last call, if it is the job's turn.
    pub(crate) fn print_lines(
        &mut self,
        seq: u64,
        tag: &[u8],
        stream: Stream,
        buffer: &mut OutputBuffer,
    ) -> io::Result<()> {
        if !self.prints_live(seq) {
            return Ok(());
        }
        let Some(end) = buffer.end_of_unprinted_lines() else {
            return Ok(());
        };
        let command = self.announced.remove(&seq);
        let from = buffer.printed();
        self.emit(|| {
            if let Some(command) = &command {
                let mut out = StreamWriter::new(Stream::Stdout, tag);
                out.write(command)?;
                out.flush()?;
            }
            let mut out = StreamWriter::new(stream, tag);
            buffer.for_each_chunk(from, end, |chunk| out.write(chunk))?;
            out.flush()
        })?;
        buffer.mark_printed(end, self.keep_all);
        Ok(())
    }

    /// Prints (or, when it is not its turn yet, holds) what job `seq` wrote
    /// and was not printed yet. With `--keep-order`, returns the job whose
    /// turn it is now when that changed, so that its lines can be printed.
    pub(crate) fn finish_job(
        &mut self,
        seq: u64,
        tag: &[u8],
        stdout: &mut OutputBuffer,
        stderr: &mut OutputBuffer,
    ) -> io::Result<Option<u64>> {
        let command = self.announced.remove(&seq);
        if self.keep_order && seq != self.next_seq {
            self.held.insert(
                seq,
                Held {
                    tag: tag.to_vec(),
                    command,
                    stdout: std::mem::take(stdout),
                    stderr: std::mem::take(stderr),
                },
            );
            return Ok(None);
        }
        self.print_job(tag, command.as_deref(), stdout, stderr)?;
        if !self.keep_order {
            return Ok(None);
        }
        self.next_seq = seq + 1;
        self.print_held_in_turn().map(Some)
    }

    /// Records that job `seq` will print nothing (it was skipped); returns
    /// the job whose turn it is now when that changed.
    pub(crate) fn skip_job(&mut self, seq: u64) -> io::Result<Option<u64>> {
        if !self.keep_order {
            return Ok(None);
        }
        if seq != self.next_seq {
            self.held.insert(
                seq,
                Held {
                    tag: Vec::new(),
                    command: None,
                    stdout: OutputBuffer::default(),
                    stderr: OutputBuffer::default(),
                },
            );
            return Ok(None);
        }
        self.next_seq = seq + 1;
        self.print_held_in_turn().map(Some)
    }

    /// Prints held output whose turn has come; returns the next turn.
    fn print_held_in_turn(&mut self) -> io::Result<u64> {
        while let Some(mut held) = self.held.remove(&self.next_seq) {
            self.print_held(&mut held)?;
            self.next_seq += 1;
        }
        Ok(self.next_seq)
    }

    /// Prints everything still held, in order, whatever turns are missing
    /// (jobs that never ran because the run stopped early).
    pub(crate) fn flush_held(&mut self) -> io::Result<()> {
        while let Some((_, mut held)) = self.held.pop_first() {
            self.print_held(&mut held)?;
        }
        Ok(())
    }

    fn print_held(&mut self, held: &mut Held) -> io::Result<()> {
        let Held {
            tag,
            command,
            stdout,
            stderr,
        } = held;
        self.print_job(tag, command.as_deref(), stdout, stderr)
    }

    /// Prints the rest of a job's output: the command (`-v`), standard
    /// output, standard error.
    fn print_job(
        &mut self,
        tag: &[u8],
        command: Option<&[u8]>,
        stdout: &mut OutputBuffer,
        stderr: &mut OutputBuffer,
    ) -> io::Result<()> {
        let complete = self.grouping == OutputGrouping::LineBuffer;
        let ((out_from, out_to), (err_from, err_to)) = (stdout.unprinted(), stderr.unprinted());
        if command.is_none() && out_from == out_to && err_from == err_to {
            return Ok(());
        }
        {
            let (stdout, stderr) = (&*stdout, &*stderr);
            self.emit(|| {
                let mut out = StreamWriter::new(Stream::Stdout, tag);
                if let Some(command) = command {
                    out.write(command)?;
                }
                stdout.for_each_chunk(out_from, out_to, |chunk| out.write(chunk))?;
                if complete {
                    out.complete_line();
                }
                out.flush()?;
                let mut err = StreamWriter::new(Stream::Stderr, tag);
                stderr.for_each_chunk(err_from, err_to, |chunk| err.write(chunk))?;
                if complete {
                    err.complete_line();
                }
                err.flush()
            })?;
        }
        stdout.mark_printed(out_to, self.keep_all);
        stderr.mark_printed(err_to, self.keep_all);
        Ok(())
    }

    /// Runs `write`, with the progress bar cleared while it runs.
    fn emit(&self, write: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.suspend(write),
            _ => write(),
        }
    }
}

/// Writes one stream of a job's output, tagging every line, a chunk at a
/// time.
struct StreamWriter<'a> {
    stream: Stream,
    tag: &'a [u8],
    buffer: Vec<u8>,
    at_line_start: bool,
}

impl<'a> StreamWriter<'a> {
    fn new(stream: Stream, tag: &'a [u8]) -> StreamWriter<'a> {
        StreamWriter {
            stream,
            tag,
            buffer: Vec::new(),
            at_line_start: true,
        }
    }

    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.append(chunk);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Adds `chunk` to what is written next, the tag before every line.
    fn append(&mut self, chunk: &[u8]) {
        if self.tag.is_empty() {
            self.buffer.extend_from_slice(chunk);
            if let Some(&last) = chunk.last() {
                self.at_line_start = last == b'\n';
            }
            return;
        }
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            if self.at_line_start {
                self.buffer.extend_from_slice(self.tag);
            }
            self.buffer.extend_from_slice(line);
            self.at_line_start = line.last() == Some(&b'\n');
        }
    }

    /// Ends an unfinished last line with a newline.
    fn complete_line(&mut self) {
        if !self.at_line_start {
            self.buffer.push(b'\n');
            self.at_line_start = true;
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let written = match self.stream {
            Stream::Stdout => write_fd(io::stdout().as_fd(), &self.buffer),
            Stream::Stderr => write_fd(io::stderr().as_fd(), &self.buffer),
        };
        self.buffer.clear();
        written
    }
}

/// Writes all of `data` to `fd`, waiting while a non-blocking descriptor is
/// full (the library's writer, which the engine's relay uses too).
pub(crate) fn write_fd(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
    dummymp::engine::write_all(fd, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a `StreamWriter` would write, gathered instead of written.
    fn tagged(tag: &[u8], chunks: &[&[u8]], complete: bool) -> Vec<u8> {
        let mut writer = StreamWriter::new(Stream::Stdout, tag);
        for chunk in chunks {
            writer.append(chunk);
        }
        if complete {
            writer.complete_line();
        }
        writer.buffer
    }

    /// Pins GNU parallel's `--tag`: `a 1<TAB>x` for inputs `a` and `1`, and
    /// no newline added after an unfinished last line in group mode.
    #[test]
    fn tags_join_inputs_with_spaces_and_prefix_every_line() {
        assert_eq!(tag_prefix(&[b"a".to_vec(), b"1".to_vec()]), b"a 1\t");
        assert_eq!(tagged(b"a\t", &[b"x\ny\n"], false), b"a\tx\na\ty\n");
        assert_eq!(tagged(b"a\t", &[b"x\n", b"y"], false), b"a\tx\na\ty");
        assert_eq!(tagged(b"a\t", &[b"x", b"y\nz"], true), b"a\txy\na\tz\n");
        assert_eq!(tagged(b"", &[b""], true), b"");
    }

    #[test]
    fn keep_order_holds_later_jobs_until_their_turn() {
        let mut printer = Printer::new(OutputGrouping::Group, true, false);
        let mut out = OutputBuffer::default();
        let mut err = OutputBuffer::default();
        // Job 2 ends first: held, nothing printed, no turn change.
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

    #[test]
    fn verbose_keeps_the_command_until_the_job_prints() {
        let mut printer = Printer::new(OutputGrouping::Group, true, false);
        printer.announce(1, b"echo a");
        assert!(printer.announced.is_empty(), "not verbose: nothing kept");
        printer.set_verbose(true);
        printer.announce(2, b"echo b");
        let mut out = OutputBuffer::default();
        let mut err = OutputBuffer::default();
        printer.finish_job(2, b"", &mut out, &mut err).unwrap();
        assert_eq!(printer.held[&2].command.as_deref(), Some(&b"echo b\n"[..]));
    }
}
