//! The jobs' inputs: the cartesian product of the `:::` and `::::` input
//! sources, or the records of standard input, read as they are needed.
//!
//! Inputs stay bytes from end to end: a record that is not UTF-8 reaches
//! its job unchanged.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::command_line::SourceSpec;
use crate::error::CliError;

/// How much standard input one read takes in.
const READ_CHUNK: usize = 64 * 1024;

/// Splits `data` into records ended by `separator`; a last record without
/// one counts too.
pub fn split_records(data: &[u8], separator: u8) -> Vec<Vec<u8>> {
    let mut records: Vec<Vec<u8>> = data
        .split(|&b| b == separator)
        .map(<[u8]>::to_vec)
        .collect();
    if data.last().is_none_or(|&b| b == separator) {
        records.pop();
    }
    records
}

fn read_source(spec: SourceSpec, separator: u8) -> Result<Vec<Vec<u8>>, CliError> {
    match spec {
        SourceSpec::Arguments(values) => Ok(values.into_iter().map(OsString::into_vec).collect()),
        SourceSpec::File(path) if path == Path::new("-") => {
            let mut data = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut data)
                .map_err(CliError::Stdin)?;
            Ok(split_records(&data, separator))
        }
        SourceSpec::File(path) => match std::fs::read(&path) {
            Ok(data) => Ok(split_records(&data, separator)),
            Err(source) => Err(CliError::ArgumentFile { path, source }),
        },
    }
}

/// Every combination of the values of the input sources, by index; the
/// last source varies fastest.
#[derive(Debug, Clone)]
pub struct Combinations {
    sources: Vec<Vec<Vec<u8>>>,
    total: u64,
}

impl Combinations {
    /// Reads every source (each argument file once, now).
    pub fn read(specs: Vec<SourceSpec>, separator: u8) -> Result<Combinations, CliError> {
        let sources = specs
            .into_iter()
            .map(|spec| read_source(spec, separator))
            .collect::<Result<Vec<_>, _>>()?;
        Combinations::new(sources)
    }

    /// The combinations of these sources' values.
    pub fn new(sources: Vec<Vec<Vec<u8>>>) -> Result<Combinations, CliError> {
        let total = sources.iter().try_fold(1u64, |total, values| {
            total
                .checked_mul(values.len() as u64)
                .ok_or(CliError::TooManyJobs)
        })?;
        Ok(Combinations { sources, total })
    }

    /// How many combinations there are.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The number of input sources.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// The combination at `index` (from 0), one value per source.
    pub fn at(&self, index: u64) -> Option<Vec<Vec<u8>>> {
        if index >= self.total {
            return None;
        }
        let mut rest = index;
        let mut inputs = vec![Vec::new(); self.sources.len()];
        for (slot, values) in inputs.iter_mut().zip(&self.sources).rev() {
            let len = values.len() as u64;
            // `len` is not zero: a source without values makes `total` zero.
            *slot = values[(rest % len) as usize].clone();
            rest /= len;
        }
        Some(inputs)
    }
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
    pub fn new(separator: u8) -> StdinRecords {
        StdinRecords {
            separator,
            partial: Vec::new(),
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// Reads once from standard input (blocking unless it was reported
    /// readable) and splits what came into records.
    pub fn read_once(&mut self, scratch: &mut [u8]) -> Result<(), CliError> {
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

    /// Splits `data` (empty at end of input) into records.
    fn take_in(&mut self, data: &[u8]) {
        if data.is_empty() {
            self.eof = true;
            if !self.partial.is_empty() {
                self.ready.push_back(std::mem::take(&mut self.partial));
            }
            return;
        }
        let mut rest = data;
        while let Some(end) = rest.iter().position(|&b| b == self.separator) {
            let mut record = std::mem::take(&mut self.partial);
            record.extend_from_slice(&rest[..end]);
            self.ready.push_back(record);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// Reads (blocking) until `count` records are ready or the input ends.
    pub fn read_until(&mut self, count: usize, scratch: &mut [u8]) -> Result<(), CliError> {
        while self.ready.len() < count && !self.eof {
            self.read_once(scratch)?;
        }
        Ok(())
    }

    /// Whether standard input has ended.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// How many records are ready.
    pub fn ready_count(&self) -> usize {
        self.ready.len()
    }

    /// The ready record at `index` (0: the next one).
    pub fn peek(&self, index: usize) -> Option<&[u8]> {
        self.ready.get(index).map(Vec::as_slice)
    }

    /// Takes the next ready record.
    pub fn next_record(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }
}

/// Where the jobs' inputs come from.
#[derive(Debug)]
pub enum JobInputs {
    /// The combinations of `:::`/`::::` sources, all known in advance.
    Combinations {
        /// The combinations.
        combinations: Combinations,
        /// The index of the next one to hand out.
        next: u64,
    },
    /// The records of standard input, one job each.
    Stdin(StdinRecords),
}

impl JobInputs {
    /// The inputs for `sources`: the combinations of the sources, or
    /// standard input when there are none.
    pub fn new(sources: Vec<SourceSpec>, separator: u8) -> Result<JobInputs, CliError> {
        if sources.is_empty() {
            Ok(JobInputs::Stdin(StdinRecords::new(separator)))
        } else {
            Ok(JobInputs::Combinations {
                combinations: Combinations::read(sources, separator)?,
                next: 0,
            })
        }
    }

    /// The number of input sources (values per job).
    pub fn source_count(&self) -> usize {
        match self {
            JobInputs::Combinations { combinations, .. } => combinations.source_count(),
            JobInputs::Stdin(_) => 1,
        }
    }

    /// The total number of jobs, when it is known.
    pub fn known_total(&self) -> Option<u64> {
        match self {
            JobInputs::Combinations { combinations, .. } => Some(combinations.total()),
            JobInputs::Stdin(_) => None,
        }
    }

    /// The next job's inputs, if they are available now.
    pub fn next_inputs(&mut self) -> Option<Vec<Vec<u8>>> {
        match self {
            JobInputs::Combinations { combinations, next } => {
                let inputs = combinations.at(*next)?;
                *next += 1;
                Some(inputs)
            }
            JobInputs::Stdin(records) => records.next_record().map(|record| vec![record]),
        }
    }

    /// Whether every job's inputs have been handed out.
    pub fn exhausted(&self) -> bool {
        match self {
            JobInputs::Combinations { combinations, next } => *next >= combinations.total(),
            JobInputs::Stdin(records) => records.at_eof() && records.ready_count() == 0,
        }
    }

    /// Whether more standard input has to be read before more jobs are
    /// known: only once every record read so far has been handed out, so
    /// that input is read as jobs need it, not all at once.
    pub fn wants_stdin(&self) -> bool {
        matches!(self, JobInputs::Stdin(records) if !records.at_eof() && records.ready_count() == 0)
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

    #[test]
    fn combinations_vary_the_last_source_fastest() {
        let c = Combinations::new(vec![bytes(&["a", "b"]), bytes(&["1", "2", "3"])]).unwrap();
        assert_eq!(c.total(), 6);
        assert_eq!(c.at(0), Some(bytes(&["a", "1"])));
        assert_eq!(c.at(2), Some(bytes(&["a", "3"])));
        assert_eq!(c.at(3), Some(bytes(&["b", "1"])));
        assert_eq!(c.at(6), None);
        let empty = Combinations::new(vec![bytes(&["a"]), vec![]]).unwrap();
        assert_eq!(empty.total(), 0);
        assert_eq!(empty.at(0), None);
    }

    #[test]
    fn too_many_combinations_are_refused() {
        let many: Vec<Vec<u8>> = (0..65536).map(|i: u32| i.to_le_bytes().to_vec()).collect();
        let sources = vec![many.clone(), many.clone(), many.clone(), many.clone(), many];
        assert!(matches!(
            Combinations::new(sources),
            Err(CliError::TooManyJobs)
        ));
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

    #[test]
    fn an_unreadable_argument_file_is_named() {
        let err = Combinations::read(
            vec![SourceSpec::File("/nonexistent/args.txt".into())],
            b'\n',
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/args.txt"), "{err}");
    }
}
