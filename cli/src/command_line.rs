//! Splits the words after the options into the command and its input
//! sources: `COMMAND... ::: ARGS... ::: ARGS... :::: FILES...`, where
//! `:::+` and `::::+` link a source to the one before it (their values are
//! taken side by side, not combined).

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::CliError;

/// Separates the command from a group of literal arguments.
pub const ARGUMENTS_SEPARATOR: &str = ":::";
/// Separates the command from argument files.
pub const FILES_SEPARATOR: &str = "::::";
/// Like [`ARGUMENTS_SEPARATOR`], linking the group to the source before.
pub const LINKED_ARGUMENTS_SEPARATOR: &str = ":::+";
/// Like [`FILES_SEPARATOR`], linking the files to the source before.
pub const LINKED_FILES_SEPARATOR: &str = "::::+";

/// Where the values of one input source come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The arguments after one `:::`.
    Arguments(Vec<OsString>),
    /// One file named after `::::` (`-` is standard input), one value per
    /// line (per NUL-terminated record with `-0`).
    File(PathBuf),
}

/// One input source and how it combines with the one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSource {
    /// Where its values come from.
    pub spec: SourceSpec,
    /// Whether it is linked to the source before it (`:::+`, `::::+`,
    /// `--link`): the n-th values of linked sources go together.
    pub linked: bool,
}

impl InputSource {
    /// A source combined with the ones before it.
    pub(crate) fn combined(spec: SourceSpec) -> InputSource {
        InputSource {
            spec,
            linked: false,
        }
    }
}

/// The command words and the input sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The words before the first separator.
    pub command: Vec<OsString>,
    /// The input sources, in order; empty when the inputs come from
    /// standard input.
    pub sources: Vec<InputSource>,
}

enum Reading {
    Command,
    Arguments,
    Files { linked: bool },
}

impl CommandLine {
    /// Splits `words` at `:::` and `::::`.
    pub(crate) fn split(words: Vec<OsString>) -> Result<CommandLine, CliError> {
        let mut command = Vec::new();
        let mut sources = Vec::new();
        let mut reading = Reading::Command;
        let mut files_expected = false;
        for word in words {
            let linked_arguments = word == LINKED_ARGUMENTS_SEPARATOR;
            let linked_files = word == LINKED_FILES_SEPARATOR;
            if word == ARGUMENTS_SEPARATOR || linked_arguments {
                if files_expected {
                    return Err(missing_file());
                }
                sources.push(InputSource {
                    spec: SourceSpec::Arguments(Vec::new()),
                    linked: linked_arguments,
                });
                reading = Reading::Arguments;
            } else if word == FILES_SEPARATOR || linked_files {
                if files_expected {
                    return Err(missing_file());
                }
                files_expected = true;
                reading = Reading::Files {
                    linked: linked_files,
                };
            } else {
                match reading {
                    Reading::Command => command.push(word),
                    Reading::Arguments => {
                        if let Some(InputSource {
                            spec: SourceSpec::Arguments(values),
                            ..
                        }) = sources.last_mut()
                        {
                            values.push(word);
                        }
                    }
                    Reading::Files { linked } => {
                        files_expected = false;
                        sources.push(InputSource {
                            spec: SourceSpec::File(PathBuf::from(word)),
                            linked,
                        });
                    }
                }
            }
        }
        if files_expected {
            return Err(missing_file());
        }
        if command.is_empty() {
            return Err(CliError::NoCommand);
        }
        Ok(CommandLine { command, sources })
    }
}

fn missing_file() -> CliError {
    CliError::Usage(format!(
        "{FILES_SEPARATOR} must be followed by at least one argument file"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn splits_command_arguments_and_files() {
        let line = CommandLine::split(words("echo -n {} ::: a b ::: 1 :::: f g")).unwrap();
        assert_eq!(line.command, words("echo -n {}"));
        assert_eq!(
            line.sources,
            vec![
                InputSource::combined(SourceSpec::Arguments(words("a b"))),
                InputSource::combined(SourceSpec::Arguments(words("1"))),
                InputSource::combined(SourceSpec::File("f".into())),
                InputSource::combined(SourceSpec::File("g".into())),
            ]
        );
    }

    #[test]
    fn without_separators_everything_is_the_command() {
        let line = CommandLine::split(words("wc -l")).unwrap();
        assert_eq!(line.command, words("wc -l"));
        assert!(line.sources.is_empty());
    }

    #[test]
    fn an_empty_group_is_a_source_without_values() {
        let line = CommandLine::split(words("echo :::")).unwrap();
        assert_eq!(
            line.sources,
            vec![InputSource::combined(SourceSpec::Arguments(vec![]))]
        );
    }

    #[test]
    fn plus_separators_link_a_source_to_the_one_before() {
        let line = CommandLine::split(words("echo ::: a b :::+ 1 2 ::::+ f")).unwrap();
        let linked: Vec<bool> = line.sources.iter().map(|s| s.linked).collect();
        assert_eq!(linked, [false, true, true]);
        assert_eq!(line.sources[2].spec, SourceSpec::File("f".into()));
    }

    #[test]
    fn refuses_a_missing_command_or_file() {
        assert!(matches!(
            CommandLine::split(words("::: a b")),
            Err(CliError::NoCommand)
        ));
        assert!(matches!(
            CommandLine::split(vec![]),
            Err(CliError::NoCommand)
        ));
        assert!(matches!(
            CommandLine::split(words("cat ::::")),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            CommandLine::split(words("cat :::: ::: a")),
            Err(CliError::Usage(_))
        ));
    }
}
