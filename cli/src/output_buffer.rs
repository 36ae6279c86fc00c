//! What a job has written, until it is printed ([`OutputBuffer`]), and how
//! much of every job's output is held in memory ([`HeldOutput`]).
//!
//! A job's output is held in memory up to [`MEMORY_LIMIT`] bytes per
//! stream; beyond that it goes to an unnamed temporary file (in `$TMPDIR`,
//! else `/tmp`), so dummymp's memory stays bounded whatever the jobs write.
//! When no temporary file can be made or written (a full `$TMPDIR`), the
//! output stays in memory rather than being lost; the run says so once,
//! and starts no new job while more than [`HELD_MEMORY_BOUND`] bytes of
//! output are held in memory (see `runner`).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::rc::Rc;

/// The most bytes of one stream of one job held in memory; more go to a
/// temporary file.
pub const MEMORY_LIMIT: usize = 1 << 20;

/// While more bytes than this of all jobs' output are held in memory, no
/// new job starts (unless none runs: then nothing else could print them).
pub const HELD_MEMORY_BOUND: usize = 64 << 20;

/// How much is read back from a temporary file at a time.
const CHUNK: usize = 64 * 1024;

/// How many bytes of the jobs' output are held in memory, shared by the
/// [`OutputBuffer`] buffers made with [`OutputBuffer::counted_in`]; and the first
/// failure to move output to a temporary file.
#[derive(Debug, Clone, Default)]
pub struct HeldOutput(Rc<HeldState>);

#[derive(Debug, Default)]
struct HeldState {
    bytes: Cell<usize>,
    spill_error: RefCell<Option<String>>,
    /// Whether the spill failure was told.
    told: Cell<bool>,
    /// Whether new jobs wait for held output to be printed, as last told.
    holding_back: Cell<bool>,
    /// Whether that was told (once; with `-v`, every time).
    told_holding_back: Cell<bool>,
}

impl HeldOutput {
    /// The bytes held in memory now.
    pub(crate) fn bytes(&self) -> usize {
        self.0.bytes.get()
    }

    /// Whether more than [`HELD_MEMORY_BOUND`] bytes are held.
    pub(crate) fn over_bound(&self) -> bool {
        self.bytes() > HELD_MEMORY_BOUND
    }

    /// Whether new jobs wait for held output to be printed while `running`
    /// jobs run: while too much is held and one runs (with none running,
    /// nothing else could print it).
    pub(crate) fn holds_back(&self, running: usize) -> bool {
        running > 0 && self.over_bound()
    }

    /// Whether new jobs wait for held output to be printed, as last told
    /// by [`HeldOutput::news`].
    pub(crate) fn is_holding_back(&self) -> bool {
        self.0.holding_back.get()
    }

    /// What to tell after a step of the run with `running` jobs and more
    /// waiting to start when `queued`: a failure to use the temporary
    /// directory (once), and that new jobs wait for held output (the first
    /// time; every time with `verbose`). Also whether that wait began or
    /// ended.
    pub(crate) fn news(&self, running: usize, queued: bool, verbose: bool) -> (Vec<String>, bool) {
        let mut notes = Vec::new();
        if let Some(error) = self.untold_spill_failure() {
            notes.push(format!(
                "dummymp: warning: {error}: job output is kept in memory instead (none is \
                 lost); while more than {} MiB of it is held, no new job starts",
                HELD_MEMORY_BOUND >> 20
            ));
        }
        let holding_back = queued && self.holds_back(running);
        if holding_back == self.0.holding_back.replace(holding_back) {
            return (notes, false);
        }
        if holding_back && (verbose || !self.0.told_holding_back.replace(true)) {
            notes.push(format!(
                "dummymp: {} MiB of job output is held in memory, more than {} MiB: no new job \
                 starts until some of it is printed",
                self.bytes().div_ceil(1 << 20),
                HELD_MEMORY_BOUND >> 20
            ));
        }
        (notes, true)
    }

    /// The first failure to move output to a temporary file, the first
    /// time it is asked for after it happened; `None` after.
    fn untold_spill_failure(&self) -> Option<String> {
        if self.0.told.get() {
            return None;
        }
        let error = self.0.spill_error.borrow().clone()?;
        self.0.told.set(true);
        Some(error)
    }
}

/// What a job has written to one stream: the bytes not yet printed (all of
/// them when they are kept for `--results`), in memory up to
/// [`MEMORY_LIMIT`] and in a temporary file beyond, and how many it wrote
/// in all.
#[derive(Debug)]
pub struct OutputBuffer {
    /// The newest stored bytes.
    memory: Vec<u8>,
    /// Older stored bytes, when there were too many for memory.
    spool: Option<File>,
    /// The offset (in everything the job wrote) of the first stored byte.
    stored_from: u64,
    /// How many stored bytes are in the spool (they come before memory's).
    spooled: u64,
    /// Bytes up to this offset have been printed.
    printed: u64,
    total: u64,
    /// The offset of the last newline written so far.
    last_newline: Option<u64>,
    /// Bytes looked at while looking for newlines (each byte at most once).
    newline_scan: u64,
    memory_limit: usize,
    /// After the temporary file could not be made or written: memory is
    /// not spilled again before it holds this much (twice what it held
    /// then), so that a full disk costs a few tries, not one per read.
    retry_spill_at: usize,
    /// Where the bytes held in memory are counted with every other job's.
    held: Option<HeldOutput>,
}

impl Default for OutputBuffer {
    fn default() -> OutputBuffer {
        OutputBuffer::with_memory_limit(MEMORY_LIMIT)
    }
}

impl OutputBuffer {
    /// Holds at most `memory_limit` bytes in memory.
    pub(crate) fn with_memory_limit(memory_limit: usize) -> OutputBuffer {
        OutputBuffer {
            memory: Vec::new(),
            spool: None,
            stored_from: 0,
            spooled: 0,
            printed: 0,
            total: 0,
            last_newline: None,
            newline_scan: 0,
            memory_limit,
            retry_spill_at: 0,
            held: None,
        }
    }

    /// A `OutputBuffer` whose bytes in memory count in `held`.
    pub(crate) fn counted_in(held: &HeldOutput) -> OutputBuffer {
        let mut buffer = OutputBuffer::default();
        buffer.held = Some(held.clone());
        buffer
    }

    /// Counts the bytes held in memory, which were `before`.
    fn count_memory(&self, before: usize) {
        if let Some(held) = &self.held {
            let bytes = &held.0.bytes;
            bytes.set(bytes.get().saturating_sub(before) + self.memory.len());
        }
    }

    /// Takes in bytes the job wrote.
    pub(crate) fn push(&mut self, data: &[u8]) {
        // Each byte is looked at once, from the end of what came: finding
        // the last newline never rescans older bytes.
        match data.iter().rposition(|&b| b == b'\n') {
            Some(position) => {
                self.newline_scan += (data.len() - position) as u64;
                self.last_newline = Some(self.total + position as u64);
            }
            None => self.newline_scan += data.len() as u64,
        }
        let before = self.memory.len();
        self.memory.extend_from_slice(data);
        self.total += data.len() as u64;
        if self.memory.len() > self.memory_limit.max(self.retry_spill_at) {
            self.spill();
        }
        self.count_memory(before);
    }

    /// Moves what memory holds to the temporary file; when that fails,
    /// everything stays in memory (nothing is lost) and the failure is
    /// recorded for the one warning.
    fn spill(&mut self) {
        let file = match &mut self.spool {
            Some(file) => file,
            None => match tempfile::tempfile() {
                Ok(file) => self.spool.insert(file),
                Err(error) => {
                    return self.spill_failed(format!(
                        "cannot make a temporary file in {}: {error}",
                        std::env::temp_dir().display()
                    ));
                }
            },
        };
        if let Err(error) = file.write_all(&self.memory) {
            // A full disk: what could not be written stays in memory; the
            // file keeps what it had.
            let _ = file.seek(SeekFrom::Start(self.spooled));
            let _ = file.set_len(self.spooled);
            return self.spill_failed(format!(
                "cannot write a temporary file in {}: {error}",
                std::env::temp_dir().display()
            ));
        }
        self.spooled += self.memory.len() as u64;
        self.memory.clear();
        self.retry_spill_at = 0;
    }

    fn spill_failed(&mut self, error: String) {
        self.retry_spill_at = self.memory.len().saturating_mul(2);
        if let Some(held) = &self.held {
            held.0.spill_error.borrow_mut().get_or_insert(error);
        }
    }

    /// Every byte the job wrote, when they were kept (read back from the
    /// temporary file, if any).
    #[cfg(test)]
    pub(crate) fn kept(&self) -> Vec<u8> {
        let mut all = Vec::new();
        // Reading back a file we wrote: an error leaves what was read.
        let _ = self.for_each_chunk(self.stored_from, self.total, |chunk| {
            all.extend_from_slice(chunk);
            Ok(())
        });
        all
    }

    /// Calls `each` with the kept bytes in order, a chunk at a time.
    pub(crate) fn for_each_kept_chunk(
        &self,
        each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.for_each_chunk(self.stored_from, self.total, each)
    }

    /// How many bytes the job wrote.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// How many bytes were looked at to find newlines (at most one look
    /// per byte written).
    #[cfg(test)]
    pub(crate) fn newline_scan(&self) -> u64 {
        self.newline_scan
    }

    /// Whether part of the output is in a temporary file.
    #[cfg(test)]
    fn is_spooled(&self) -> bool {
        self.spooled > 0
    }

    /// The bytes not printed yet, as a range of offsets.
    pub(crate) fn unprinted(&self) -> (u64, u64) {
        (self.printed, self.total)
    }

    /// Bytes up to this offset have been printed.
    pub(crate) fn printed(&self) -> u64 {
        self.printed
    }

    /// The end of the whole lines not printed yet, if there are any.
    pub(crate) fn end_of_unprinted_lines(&self) -> Option<u64> {
        self.last_newline
            .map(|newline| newline + 1)
            .filter(|&end| end > self.printed)
    }

    /// Calls `each` with the stored bytes from `from` to `to`, in order.
    pub(crate) fn for_each_chunk(
        &self,
        from: u64,
        to: u64,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let from = from.max(self.stored_from);
        let spool_end = self.stored_from + self.spooled;
        if from < spool_end
            && let Some(file) = &self.spool
        {
            let mut buffer = vec![0u8; CHUNK];
            let mut position = from;
            let end = to.min(spool_end);
            while position < end {
                let len = ((end - position) as usize).min(CHUNK);
                file.read_exact_at(&mut buffer[..len], position - self.stored_from)?;
                each(&buffer[..len])?;
                position += len as u64;
            }
        }
        if to > spool_end {
            let start = (from.max(spool_end) - spool_end) as usize;
            let end = (to - spool_end) as usize;
            if let Some(bytes) = self.memory.get(start..end)
                && !bytes.is_empty()
            {
                each(bytes)?;
            }
        }
        Ok(())
    }

    /// Marks the bytes up to `end` as printed; drops them unless
    /// `keep_all`.
    pub(crate) fn mark_printed(&mut self, end: u64, keep_all: bool) {
        self.printed = self.printed.max(end);
        if keep_all {
            return;
        }
        let spool_end = self.stored_from + self.spooled;
        if self.printed >= spool_end && self.spooled > 0 {
            if let Some(file) = &mut self.spool {
                // Emptying a file we own; should it fail, the file only
                // keeps bytes that are never read again.
                let _ = file.set_len(0);
                let _ = file.seek(SeekFrom::Start(0));
            }
            self.stored_from = spool_end;
            self.spooled = 0;
        }
        if self.spooled == 0 {
            let before = self.memory.len();
            let drop = ((self.printed - self.stored_from) as usize).min(before);
            self.memory.drain(..drop);
            self.stored_from += drop as u64;
            self.count_memory(before);
        }
    }
}

impl Drop for OutputBuffer {
    fn drop(&mut self) {
        let before = self.memory.len();
        self.memory = Vec::new();
        self.count_memory(before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_output_drops_printed_bytes_unless_kept() {
        let mut c = OutputBuffer::default();
        c.push(b"one\ntw");
        assert_eq!(c.end_of_unprinted_lines(), Some(4));
        c.mark_printed(4, false);
        assert_eq!(c.memory, b"tw");
        assert_eq!(c.end_of_unprinted_lines(), None);
        assert_eq!(c.total(), 6);
        let mut kept = OutputBuffer::default();
        kept.push(b"one\ntw");
        kept.mark_printed(4, true);
        assert_eq!(kept.unprinted(), (4, 6));
        assert_eq!(kept.kept(), b"one\ntw");
    }

    #[test]
    fn output_beyond_the_memory_limit_goes_to_a_file_and_comes_back_whole() {
        let mut c = OutputBuffer::with_memory_limit(10);
        let data: Vec<u8> = (0..100u8).collect();
        for chunk in data.chunks(7) {
            c.push(chunk);
        }
        assert!(c.is_spooled());
        assert!(c.memory.len() <= 10);
        assert_eq!(c.kept(), data);
        let mut read = Vec::new();
        c.for_each_chunk(30, 95, |chunk| {
            read.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(read, &data[30..95]);
        c.mark_printed(100, false);
        assert!(!c.is_spooled(), "printed bytes are dropped from the file");
        c.push(b"more");
        assert_eq!(c.kept(), b"more");
    }

    /// Issue: `--line-buffer` rescanned the whole unfinished line on every
    /// read (40 MB without a newline took 6.6 s). Every byte must be looked
    /// at once, however often lines are asked for.
    #[test]
    fn finding_lines_looks_at_each_byte_once() {
        let mut c = OutputBuffer::with_memory_limit(1 << 16);
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..160 {
            c.push(&chunk);
            assert_eq!(c.end_of_unprinted_lines(), None);
        }
        let written = 160 * chunk.len() as u64;
        assert!(
            c.newline_scan() <= written,
            "{} > {written}",
            c.newline_scan()
        );
        c.push(b"end\nrest");
        assert_eq!(c.end_of_unprinted_lines(), Some(written + 4));
        assert!(c.newline_scan() <= written + 8);
    }

    #[test]
    fn held_bytes_are_counted_across_buffers_until_printed_or_dropped() {
        let held = HeldOutput::default();
        let mut one = OutputBuffer::counted_in(&held);
        let mut two = OutputBuffer::counted_in(&held);
        one.push(b"abc\n");
        two.push(b"defgh");
        assert_eq!(held.bytes(), 9);
        one.mark_printed(4, false);
        assert_eq!(held.bytes(), 5);
        // Moved (as a held job's output is), still counted.
        let moved = std::mem::take(&mut two);
        assert_eq!(held.bytes(), 5);
        drop(moved);
        assert_eq!(held.bytes(), 0);
        assert!(!held.over_bound());
    }

    #[test]
    fn new_jobs_wait_only_while_too_much_is_held_and_a_job_runs() {
        let held = HeldOutput::default();
        let mut big = OutputBuffer::counted_in(&held);
        big.memory_limit = usize::MAX;
        big.push(&vec![b'x'; HELD_MEMORY_BOUND + 1]);
        assert!(held.holds_back(1));
        assert!(!held.holds_back(0), "with none running, one may start");
        let (notes, changed) = held.news(1, true, false);
        assert!(changed && held.is_holding_back());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("65 MiB of job output is held"),
            "{notes:?}"
        );
        assert_eq!(held.news(1, true, false), (vec![], false), "no change");
        assert_eq!(held.news(1, false, false), (vec![], true), "nothing waits");
        // Told once without -v.
        assert_eq!(held.news(1, true, false), (vec![], true));
        assert!(!held.news(1, true, true).1, "no change");
        drop(big);
        assert!(!held.holds_back(1));
        assert_eq!(held.news(1, true, false), (vec![], true));
        let mut big = OutputBuffer::counted_in(&held);
        big.memory_limit = usize::MAX;
        big.push(&vec![b'x'; HELD_MEMORY_BOUND + 1]);
        assert_eq!(held.news(1, true, true).0.len(), 1, "every time with -v");
    }

    #[test]
    fn a_spill_that_fails_keeps_everything_and_is_told_once() {
        let held = HeldOutput::default();
        let mut c = OutputBuffer::counted_in(&held);
        c.memory_limit = 4;
        // A spill file that cannot be written (opened read-only).
        c.spool = Some(File::open("/dev/null").unwrap());
        let data: Vec<u8> = (0..100u8).collect();
        for chunk in data.chunks(7) {
            c.push(chunk);
        }
        assert_eq!(c.kept(), data, "nothing lost");
        assert_eq!(held.bytes(), 100, "all of it in memory");
        let told = held.untold_spill_failure().expect("the failure is told");
        assert!(
            told.starts_with("cannot write a temporary file in"),
            "{told}"
        );
        assert_eq!(held.untold_spill_failure(), None, "once");
        // Tried again only as memory doubles: 4 tries for 100 bytes.
        assert!(c.retry_spill_at >= 100, "{}", c.retry_spill_at);
    }
}
