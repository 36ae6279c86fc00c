//! Splits the words after the options into the command and its input
//! sources: `COMMAND... ::: ARGS... ::: ARGS... :::: FILES...`.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::CliError;

/// Separates the command from a group of literal arguments.
pub const ARGUMENTS_SEPARATOR: &str = ":::";
/// Separates the command from argument files.
pub const FILES_SEPARATOR: &str = "::::";

/// Where the values of one input source come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The arguments after one `:::`.
    Arguments(Vec<OsString>),
    /// One file named after `::::` (`-` is standard input), one value per
    /// line (per NUL-terminated record with `-0`).
    File(PathBuf),
}

/// The command words and the input sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The words before the first separator.
    pub command: Vec<OsString>,
    /// The input sources, in order; empty when the inputs come from
    /// standard input.
    pub sources: Vec<SourceSpec>,
}

enum Reading {
    Command,
    Arguments,
    Files,
}

impl CommandLine {
    /// Splits `words` at `:::` and `::::`.
    pub fn split(words: Vec<OsString>) -> Result<CommandLine, CliError> {
        let mut command = Vec::new();
        let mut sources = Vec::new();
        let mut reading = Reading::Command;
        let mut files_expected = false;
        for word in words {
            if word == ARGUMENTS_SEPARATOR {
                sources.push(SourceSpec::Arguments(Vec::new()));
                reading = Reading::Arguments;
            } else if word == FILES_SEPARATOR {
                if files_expected {
                    return Err(missing_file());
                }
                files_expected = true;
                reading = Reading::Files;
            } else {
                match reading {
                    Reading::Command => command.push(word),
                    Reading::Arguments => {
                        if let Some(SourceSpec::Arguments(values)) = sources.last_mut() {
                            values.push(word);
                        }
                    }
                    Reading::Files => {
                        files_expected = false;
                        sources.push(SourceSpec::File(PathBuf::from(word)));
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
                SourceSpec::Arguments(words("a b")),
                SourceSpec::Arguments(words("1")),
                SourceSpec::File("f".into()),
                SourceSpec::File("g".into()),
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
        assert_eq!(line.sources, vec![SourceSpec::Arguments(vec![])]);
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
    }
}
