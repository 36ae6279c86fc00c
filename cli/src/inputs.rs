//! The jobs' inputs: the combinations of the `:::` and `::::` input sources
//! (linked sources side by side), or the records of standard input, read
//! as they are needed; then split into columns (`--colsep`), grouped
//! several arguments to a job (`-N`, `-X`, `-m`) and shuffled (`--shuf`).
//!
//! Inputs stay bytes from end to end: a record that is not UTF-8 reaches
//! its job unchanged. A NUL byte cannot be passed in an argument: without
//! `-0` it is replaced by the two characters `\0`, with one warning, as GNU
//! parallel does.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use regex::bytes::Regex;

use crate::command_line::{InputSource, SourceSpec};
use crate::error::CliError;

/// How much standard input one read takes in.
const READ_CHUNK: usize = 64 * 1024;

/// The most jobs `--shuf` shuffles (their order is held in memory).
pub const MAX_SHUFFLED_JOBS: u64 = 1 << 28;

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

fn read_source(spec: SourceSpec, separator: u8) -> Result<Vec<Vec<u8>>, CliError> {
    match spec {
        SourceSpec::Arguments(values) => Ok(values.into_iter().map(|v| v.into_vec()).collect()),
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
/// last group varies fastest. Linked sources form one group whose n-th
/// member is every source's n-th value, a shorter source starting over
/// (as GNU parallel's `--link` does).
#[derive(Debug, Clone)]
pub struct Combinations {
    sources: Vec<Vec<Vec<u8>>>,
    /// Each group: the indices of its sources, and its length.
    groups: Vec<(Vec<usize>, u64)>,
    total: u64,
}

impl Combinations {
    /// Reads every source (each argument file once, now).
    pub(crate) fn read(sources: Vec<InputSource>, separator: u8) -> Result<Combinations, CliError> {
        let links: Vec<bool> = sources.iter().map(|s| s.linked).collect();
        let values = sources
            .into_iter()
            .map(|source| read_source(source.spec, separator))
            .collect::<Result<Vec<_>, _>>()?;
        Combinations::linked(values, &links)
    }

    /// The combinations of these sources' values.
    #[cfg(test)]
    pub(crate) fn new(sources: Vec<Vec<Vec<u8>>>) -> Result<Combinations, CliError> {
        let links = vec![false; sources.len()];
        Combinations::linked(sources, &links)
    }

    /// The combinations of these sources' values, `links[i]` saying whether
    /// source `i` is linked to source `i - 1`.
    pub(crate) fn linked(
        sources: Vec<Vec<Vec<u8>>>,
        links: &[bool],
    ) -> Result<Combinations, CliError> {
        let mut groups: Vec<(Vec<usize>, u64)> = Vec::new();
        for (index, values) in sources.iter().enumerate() {
            let len = values.len() as u64;
            match groups.last_mut() {
                Some((members, group_len)) if links.get(index).copied().unwrap_or(false) => {
                    members.push(index);
                    // A source without values leaves nothing to combine.
                    *group_len = if len == 0 || *group_len == 0 {
                        0
                    } else {
                        (*group_len).max(len)
                    };
                }
                _ => groups.push((vec![index], len)),
            }
        }
        let total = groups.iter().try_fold(1u64, |total, (_, len)| {
            total.checked_mul(*len).ok_or(CliError::TooManyJobs)
        })?;
        Ok(Combinations {
            sources,
            groups,
            total,
        })
    }

    /// How many combinations there are.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The number of input sources.
    pub(crate) fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// The combination at `index` (from 0), one value per source.
    pub(crate) fn at(&self, index: u64) -> Option<Vec<Vec<u8>>> {
        if index >= self.total {
            return None;
        }
        let mut rest = index;
        let mut inputs = vec![Vec::new(); self.sources.len()];
        for (members, len) in self.groups.iter().rev() {
            // `len` is not zero: a group without values makes `total` zero.
            let position = rest % len;
            rest /= len;
            for &source in members {
                let values = &self.sources[source];
                inputs[source] = values[(position % values.len() as u64) as usize].clone();
            }
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

    /// Takes the next ready record.
    pub(crate) fn next_record(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }
}

/// How many bytes an argument (its values) adds to a command line.
pub type ArgumentCost = Box<dyn Fn(&[Vec<u8>]) -> usize>;

/// How many arguments and bytes one command line may hold (`-N`, `-X`,
/// `-m`, `-s`), with what each argument adds to it.
pub struct LineLimit {
    /// The most bytes of a command line.
    pub max_chars: usize,
    /// The length of the command without any argument.
    pub base: usize,
    /// How many bytes an argument (its values) adds to the command line.
    pub cost: ArgumentCost,
}

impl std::fmt::Debug for LineLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineLimit")
            .field("max_chars", &self.max_chars)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// How arguments become jobs.
#[derive(Debug, Default)]
pub struct InputShape {
    /// `--colsep`: each value is split into columns, each an input value
    /// of its own (trimmed of blanks at both ends).
    pub column_separator: Option<Regex>,
    /// `-N`: at most this many arguments per job.
    pub max_args: Option<usize>,
    /// `-X`, `-m`, `-s`: as many arguments per job as fit on the line.
    pub line_limit: Option<LineLimit>,
    /// `--shuf`: jobs in random order.
    pub shuffle: bool,
}

impl InputShape {
    fn groups_arguments(&self) -> bool {
        self.max_args.is_some() || self.line_limit.is_some()
    }
}

/// Where arguments come from.
#[derive(Debug)]
enum Arguments {
    Combinations {
        combinations: Combinations,
        /// With `--shuf`: the order of the combinations.
        order: Option<Vec<u64>>,
        next: u64,
    },
    Stdin {
        records: StdinRecords,
        shuffled: bool,
    },
}

/// One argument looked at ahead.
enum Ahead {
    Ready(Vec<Vec<u8>>),
    NotYet,
    End,
}

/// A job formed from the arguments ahead.
enum Formed {
    Job {
        values: Vec<Vec<u8>>,
        arguments: usize,
    },
    Wait,
    End,
}

/// Where the jobs' inputs come from, and how they are shaped into jobs.
#[derive(Debug)]
pub struct JobInputs {
    arguments: Arguments,
    shape: InputShape,
}

impl JobInputs {
    /// The inputs for `sources`: their combinations, or standard input
    /// when there are none.
    pub(crate) fn new(sources: Vec<InputSource>, separator: u8) -> Result<JobInputs, CliError> {
        let arguments = if sources.is_empty() {
            Arguments::Stdin {
                records: StdinRecords::new(separator),
                shuffled: false,
            }
        } else {
            Arguments::Combinations {
                combinations: Combinations::read(sources, separator)?,
                order: None,
                next: 0,
            }
        };
        Ok(JobInputs {
            arguments,
            shape: InputShape::default(),
        })
    }

    /// Shapes the arguments into jobs as `shape` says.
    pub(crate) fn set_shape(&mut self, shape: InputShape) -> Result<(), CliError> {
        if shape.shuffle
            && let Arguments::Combinations {
                combinations,
                order,
                ..
            } = &mut self.arguments
        {
            let total = combinations.total();
            if total > MAX_SHUFFLED_JOBS {
                return Err(CliError::TooManyJobs);
            }
            let mut permutation: Vec<u64> = (0..total).collect();
            fastrand::shuffle(&mut permutation);
            *order = Some(permutation);
        }
        self.shape = shape;
        Ok(())
    }

    /// The number of input sources (values per argument, before columns).
    pub(crate) fn source_count(&self) -> usize {
        match &self.arguments {
            Arguments::Combinations { combinations, .. } => combinations.source_count(),
            Arguments::Stdin { .. } => 1,
        }
    }

    /// The total number of jobs, when it is known in advance.
    pub(crate) fn known_total(&self) -> Option<u64> {
        let Arguments::Combinations { combinations, .. } = &self.arguments else {
            return None;
        };
        match (self.shape.max_args, &self.shape.line_limit) {
            (_, Some(_)) => None,
            (Some(n), None) => Some(combinations.total().div_ceil(n.max(1) as u64)),
            (None, None) => Some(combinations.total()),
        }
    }

    /// The argument `offset` places after the next one.
    fn ahead(&self, offset: usize) -> Ahead {
        match &self.arguments {
            Arguments::Combinations {
                combinations,
                order,
                next,
            } => {
                let position = next + offset as u64;
                let index = match order {
                    Some(order) => {
                        match usize::try_from(position).ok().and_then(|p| order.get(p)) {
                            Some(&index) => index,
                            None => return Ahead::End,
                        }
                    }
                    None => position,
                };
                combinations.at(index).map_or(Ahead::End, Ahead::Ready)
            }
            Arguments::Stdin { records, .. } => {
                if self.shape.shuffle && !records.at_eof() {
                    return Ahead::NotYet;
                }
                match records.peek(offset) {
                    Some(record) => Ahead::Ready(vec![record.to_vec()]),
                    None if records.at_eof() => Ahead::End,
                    None => Ahead::NotYet,
                }
            }
        }
    }

    /// The values of one argument, split into columns with `--colsep`.
    fn argument_values(&self, argument: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let Some(separator) = &self.shape.column_separator else {
            return argument;
        };
        argument
            .iter()
            .flat_map(|value| {
                separator
                    .split(value)
                    .map(|column| column.trim_ascii().to_vec())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The next job's values from the arguments `start` places ahead.
    fn form(&self, start: usize) -> Formed {
        let mut values = Vec::new();
        let mut arguments = 0;
        let mut length = self.shape.line_limit.as_ref().map_or(0, |limit| limit.base);
        loop {
            if self
                .shape
                .max_args
                .is_some_and(|max| arguments >= max.max(1))
            {
                break;
            }
            match self.ahead(start + arguments) {
                Ahead::Ready(argument) => {
                    let argument = self.argument_values(argument);
                    if let Some(limit) = &self.shape.line_limit {
                        let cost = (limit.cost)(&argument);
                        if arguments > 0 && length + cost > limit.max_chars {
                            break;
                        }
                        length += cost;
                    }
                    values.extend(argument);
                    arguments += 1;
                    if !self.shape.groups_arguments() {
                        break;
                    }
                }
                // A group is handed out only when it is full or the input
                // has ended.
                Ahead::NotYet => return Formed::Wait,
                Ahead::End => break,
            }
        }
        if arguments == 0 {
            Formed::End
        } else {
            Formed::Job { values, arguments }
        }
    }

    fn consume(&mut self, arguments: usize) {
        match &mut self.arguments {
            Arguments::Combinations { next, .. } => *next += arguments as u64,
            Arguments::Stdin { records, .. } => {
                for _ in 0..arguments {
                    records.next_record();
                }
            }
        }
    }

    /// The next job's inputs, if they are available now.
    pub(crate) fn next_inputs(&mut self) -> Option<Vec<Vec<u8>>> {
        match self.form(0) {
            Formed::Job { values, arguments } => {
                self.consume(arguments);
                Some(values)
            }
            Formed::Wait | Formed::End => None,
        }
    }

    /// The values of the next `count` jobs (fewer if the input has fewer),
    /// without taking them: standard input is read as far as needed.
    pub(crate) fn preview(
        &mut self,
        count: u64,
        scratch: &mut [u8],
    ) -> Result<Vec<Vec<Vec<u8>>>, CliError> {
        let mut jobs = Vec::new();
        let mut offset = 0;
        while (jobs.len() as u64) < count {
            match self.form(offset) {
                Formed::Job { values, arguments } => {
                    jobs.push(values);
                    offset += arguments;
                }
                Formed::Wait => self.read_stdin_once(scratch)?,
                Formed::End => break,
            }
        }
        Ok(jobs)
    }

    /// Whether every job's inputs have been handed out.
    pub(crate) fn exhausted(&self) -> bool {
        matches!(self.form(0), Formed::End)
    }

    /// Whether more standard input has to be read before more jobs are
    /// known: only when the next job cannot be formed from the records read
    /// so far, so that input is read as jobs need it, not all at once.
    pub(crate) fn wants_stdin(&self) -> bool {
        matches!(&self.arguments, Arguments::Stdin { records, .. } if !records.at_eof())
            && matches!(self.form(0), Formed::Wait)
    }

    /// Reads once from standard input (when the inputs come from it).
    pub(crate) fn read_stdin_once(&mut self, scratch: &mut [u8]) -> Result<(), CliError> {
        let shuffle = self.shape.shuffle;
        if let Arguments::Stdin { records, shuffled } = &mut self.arguments {
            records.read_once(scratch)?;
            if shuffle && records.at_eof() && !*shuffled {
                fastrand::shuffle(records.ready.make_contiguous());
                *shuffled = true;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[&str]) -> Vec<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
    }

    fn inputs_of(sources: &[&[&str]]) -> JobInputs {
        JobInputs {
            arguments: Arguments::Combinations {
                combinations: Combinations::new(sources.iter().map(|s| bytes(s)).collect())
                    .unwrap(),
                order: None,
                next: 0,
            },
            shape: InputShape::default(),
        }
    }

    fn all_jobs(inputs: &mut JobInputs) -> Vec<Vec<String>> {
        std::iter::from_fn(|| inputs.next_inputs())
            .map(|values| {
                values
                    .into_iter()
                    .map(|v| String::from_utf8(v).unwrap())
                    .collect()
            })
            .collect()
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

    /// Pins GNU parallel's `--link` and `:::+`: `parallel --link echo :::
    /// 1 2 3 ::: a b` prints `1 a`, `2 b`, `3 a`; `parallel echo ::: 1 2 3
    /// :::+ a b c ::: X Y` prints `1 a X`, `1 a Y`, `2 b X`, ...
    #[test]
    fn linked_sources_go_side_by_side_and_shorter_ones_start_over() {
        let c = Combinations::linked(
            vec![bytes(&["1", "2", "3"]), bytes(&["a", "b"])],
            &[false, true],
        )
        .unwrap();
        let all: Vec<_> = (0..c.total()).filter_map(|i| c.at(i)).collect();
        assert_eq!(
            all,
            [bytes(&["1", "a"]), bytes(&["2", "b"]), bytes(&["3", "a"])]
        );
        let c = Combinations::linked(
            vec![
                bytes(&["1", "2", "3"]),
                bytes(&["a", "b", "c"]),
                bytes(&["X", "Y"]),
            ],
            &[false, true, false],
        )
        .unwrap();
        assert_eq!(c.total(), 6);
        assert_eq!(c.at(1), Some(bytes(&["1", "a", "Y"])));
        assert_eq!(c.at(2), Some(bytes(&["2", "b", "X"])));
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

    /// Pins GNU parallel's `-N2 echo {1}-{2} ::: a b c d e`: jobs `a b`,
    /// `c d`, `e`.
    #[test]
    fn max_args_groups_arguments() {
        let mut inputs = inputs_of(&[&["a", "b", "c", "d", "e"]]);
        inputs
            .set_shape(InputShape {
                max_args: Some(2),
                ..InputShape::default()
            })
            .unwrap();
        assert_eq!(inputs.known_total(), Some(3));
        assert_eq!(
            all_jobs(&mut inputs),
            [vec!["a", "b"], vec!["c", "d"], vec!["e"]]
        );
        assert!(inputs.exhausted());
    }

    #[test]
    fn a_line_limit_fills_each_job() {
        let mut inputs = inputs_of(&[&["aa", "bb", "cc", "dd", "ee"]]);
        inputs
            .set_shape(InputShape {
                line_limit: Some(LineLimit {
                    max_chars: 10,
                    base: 4,
                    cost: Box::new(|values: &[Vec<u8>]| values[0].len() + 1),
                }),
                ..InputShape::default()
            })
            .unwrap();
        assert_eq!(inputs.known_total(), None);
        assert_eq!(
            all_jobs(&mut inputs),
            [vec!["aa", "bb"], vec!["cc", "dd"], vec!["ee"]]
        );
    }

    /// Pins GNU parallel's `--colsep ,` on `a,b c` and ` d , e`: columns
    /// `a`, `b c` and `d`, `e` (trimmed).
    #[test]
    fn column_separators_split_values_into_columns() {
        let mut inputs = inputs_of(&[&["a,b c", " d , e"]]);
        inputs
            .set_shape(InputShape {
                column_separator: Some(Regex::new(",").unwrap()),
                ..InputShape::default()
            })
            .unwrap();
        assert_eq!(all_jobs(&mut inputs), [vec!["a", "b c"], vec!["d", "e"]]);
    }

    #[test]
    fn shuffling_keeps_every_job_once() {
        let values: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let mut inputs = inputs_of(&[&refs]);
        inputs
            .set_shape(InputShape {
                shuffle: true,
                ..InputShape::default()
            })
            .unwrap();
        let mut got: Vec<String> = all_jobs(&mut inputs).into_iter().flatten().collect();
        got.sort_by_key(|v| v.parse::<u32>().unwrap());
        assert_eq!(got, values);
    }

    #[test]
    fn preview_does_not_take_the_jobs() {
        let mut inputs = inputs_of(&[&["a", "b", "c"]]);
        let mut scratch = vec![0; 16];
        assert_eq!(
            inputs.preview(2, &mut scratch).unwrap(),
            [bytes(&["a"]), bytes(&["b"])]
        );
        assert_eq!(inputs.preview(9, &mut scratch).unwrap().len(), 3);
        assert_eq!(inputs.next_inputs(), Some(bytes(&["a"])));
    }

    #[test]
    fn an_unreadable_argument_file_is_named() {
        let err = Combinations::read(
            vec![InputSource::combined(SourceSpec::File(
                "/nonexistent/args.txt".into(),
            ))],
            b'\n',
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/args.txt"), "{err}");
    }
}
