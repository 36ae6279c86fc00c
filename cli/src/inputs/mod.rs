//! The jobs' inputs: the combinations of the `:::` and `::::` input sources
//! (linked sources side by side), or the records of standard input, read
//! as they are needed; then split into columns (`--colsep`), grouped
//! several arguments to a job (`-N`, `-X`, `-m`) and shuffled (`--shuf`).
//!
//! Inputs stay bytes from end to end: a record that is not UTF-8 reaches
//! its job unchanged. A NUL byte cannot be passed in an argument: without
//! `-0` it is replaced by the two characters `\0`, with one warning, as GNU
//! parallel does.
//!
//! Where the values come from is [`combinations`] (the `:::` and `::::`
//! sources) or [`records`] (standard input, and the splitting of any
//! input into records); this file shapes them into jobs.

mod combinations;
mod records;

use regex::bytes::Regex;

use crate::command_line::InputSource;
use crate::error::CliError;
use combinations::Combinations;
use records::StdinRecords;

/// The most jobs `--shuf` shuffles (their order is held in memory).
pub const MAX_SHUFFLED_JOBS: u64 = 1 << 28;

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
                records.shuffle();
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
}
