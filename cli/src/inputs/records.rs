//! The records of the inputs: an argument file or standard input split at
//! a separator (a newline, or NUL with `-0`), standard input read a chunk
//! at a time as jobs need it. A NUL byte cannot be passed in an argument:
//! without `-0` it is replaced by the two characters `\0`, with one
//! warning, as GNU parallel does.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::CliError;

/// How much standard input one read takes in.
const READ_CHUNK: usize = 64 * 1024;

/// Whether the NUL warning was printed.
static NUL_WARNED: AtomicBool = AtomicBool::new(false);

/// `record` with every NUL byte replaced by `\0` (a NUL cannot be passed in
/// an argument); warns once per run.
fn replace_nul_bytes(record: Vec<u8>) -> Vec<u8> {
    if !record.contains(&0) {
        return record;
    }
    if !NUL_WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "dummymp: warning: the input holds NUL bytes, which cannot be passed in \
             arguments: each was replaced by \\0 (use -0 for NUL-separated input)"
        );
    }
    let mut replaced = Vec::with_capacity(record.len() + 8);
    for byte in record {
        if byte == 0 {
            replaced.extend_from_slice(b"\\0");
        } else {
            replaced.push(byte);
        }
    }
    replaced
}

/// Splits `data` into records ended by `separator`; a last record without
/// one counts too. With a separator other than NUL, NUL bytes become `\0`.
pub(crate) fn split_records(data: &[u8], separator: u8) -> Vec<Vec<u8>> {
    let mut records: Vec<Vec<u8>> = data
        .split(|&b| b == separator)
        .map(<[u8]>::to_vec)
        .collect();
    if data.last().is_none_or(|&b| b == separator) {
        records.pop();
    }
    if separator != 0 {
        records = records.into_iter().map(replace_nul_bytes).collect();
    }
    records
}

/// The records of standard input, read a chunk at a time.
#[derive(Debug)]
pub struct StdinRecords {
    separator: u8,
    partial: Vec<u8>,
    ready: VecDeque<Vec<u8>>,
    eof: bool,
}

impl StdinRecords {
    /// Records separated by `separator`.
    pub(crate) fn new(separator: u8) -> StdinRecords {
        StdinRecords {
            separator,
            partial: Vec::new(),
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// Reads once from standard input (blocking unless it was reported
    /// readable) and splits what came into records.
    pub(crate) fn read_once(&mut self, scratch: &mut [u8]) -> Result<(), CliError> {
        let stdin = io::stdin();
        let limit = READ_CHUNK.min(scratch.len());
        let n = loop {
            // Straight from the descriptor: a buffer in between could hold
            // data that `poll` does not see.
            match rustix::io::read(stdin.as_fd(), &mut scratch[..limit]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(CliError::Stdin(e.into())),
            }
        };
        self.take_in(&scratch[..n]);
        Ok(())
    }

    fn push_record(&mut self, record: Vec<u8>) {
        let record = if self.separator == 0 {
            record
        } else {
            replace_nul_bytes(record)
        };
        self.ready.push_back(record);
    }

    /// Splits `data` (empty at end of input) into records.
    fn take_in(&mut self, data: &[u8]) {
        if data.is_empty() {
            self.eof = true;
            if !self.partial.is_empty() {
                let last = std::mem::take(&mut self.partial);
                self.push_record(last);
            }
            return;
        }
        let mut rest = data;
        while let Some(end) = rest.iter().position(|&b| b == self.separator) {
            let mut record = std::mem::take(&mut self.partial);
            record.extend_from_slice(&rest[..end]);
            self.push_record(record);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// Whether standard input has ended.
    pub(crate) fn at_eof(&self) -> bool {
        self.eof
    }

    /// How many records are ready.
    #[cfg(test)]
    pub(crate) fn ready_count(&self) -> usize {
        self.ready.len()
    }

    /// The ready record at `index` (0: the next one).
    pub(crate) fn peek(&self, index: usize) -> Option<&[u8]> {
        self.ready.get(index).map(Vec::as_slice)
    }

    /// Puts the ready records in random order (`--shuf`, once standard
    /// input has ended).
    pub(crate) fn shuffle(&mut self) {
        fastrand::shuffle(self.ready.make_contiguous());
    }

    /// Takes the next ready record.
    pub(crate) fn next_record(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[&str]) -> Vec<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
    }

    #[test]
    fn records_keep_empty_lines_and_an_unterminated_last_one() {
        assert_eq!(split_records(b"a\n\nb\n", b'\n'), bytes(&["a", "", "b"]));
        assert_eq!(split_records(b"a\nb", b'\n'), bytes(&["a", "b"]));
        assert_eq!(split_records(b"", b'\n'), bytes(&[]));
        assert_eq!(split_records(b"x y\0z\0", 0), bytes(&["x y", "z"]));
    }

    /// Pins GNU parallel's handling of NUL without -0: `printf 'a\0b\n' |
    /// parallel echo` prints `a\0b` (backslash, zero).
    #[test]
    fn nul_bytes_without_null_separation_become_backslash_zero() {
        assert_eq!(
            split_records(b"a\0b\nc\0\0d\n", b'\n'),
            bytes(&["a\\0b", "c\\0\\0d"])
        );
        let mut records = StdinRecords::new(b'\n');
        records.take_in(b"x\0y\n");
        assert_eq!(records.next_record(), Some(b"x\\0y".to_vec()));
    }

    #[test]
    fn stdin_records_are_split_across_chunks() {
        let mut records = StdinRecords::new(b'\n');
        records.take_in(b"one\ntw");
        assert_eq!(records.ready_count(), 1);
        records.take_in(b"o\nthr\xffee");
        assert_eq!(records.peek(1), Some(&b"two"[..]));
        records.take_in(b"");
        assert!(records.at_eof());
        assert_eq!(records.next_record(), Some(b"one".to_vec()));
        assert_eq!(records.next_record(), Some(b"two".to_vec()));
        assert_eq!(records.next_record(), Some(b"thr\xffee".to_vec()));
        assert_eq!(records.next_record(), None);
    }
}
