//! The combinations of the `:::` and `::::` input sources: every value of
//! each source read once, then each job's values computed from its index
//! (linked sources side by side).

use std::io::{self, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use super::records::split_records;
use crate::command_line::{InputSource, SourceSpec};
use crate::error::CliError;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[&str]) -> Vec<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
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
