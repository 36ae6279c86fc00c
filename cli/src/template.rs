//! The command template: the command words with their replacement strings,
//! and how one job's command is made from it.
//!
//! A template without shell syntax runs directly (an argument vector, no
//! shell); each substituted value is then an argument of its own, which is
//! what shell quoting would give. A template with shell syntax runs through
//! `/bin/sh -c`, with every substituted value single-quoted. Either way an
//! input is data, never a command.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::CliError;
use crate::path_parts::PathPart;
use crate::quoting::{push_display_word, push_single_quoted};

/// What a replacement string stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// A part of the job's inputs: of input source `source` (1-based), or of
    /// every input source (`None`: `{}` and friends), one word each.
    Input {
        /// The input source, 1-based; `None` for all of them.
        source: Option<usize>,
        /// Which part of the input.
        part: PathPart,
    },
    /// `{#}`: the job number, from 1 in input order.
    JobNumber,
    /// `{%}`: the job slot, from 1 to the number of jobs running at once.
    Slot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Replace(Replacement),
}

/// Bytes that make a template shell syntax when they appear outside
/// replacement strings.
const SHELL_SYNTAX: &[u8] = b"|&;<>()$`\\\"'*?[#~=\n";

/// First words that only a shell understands: reserved words and builtins
/// that have no program of their own.
const SHELL_ONLY_COMMANDS: &[&[u8]] = &[
    b"!",
    b"{",
    b"}",
    b"if",
    b"then",
    b"else",
    b"elif",
    b"fi",
    b"case",
    b"esac",
    b"for",
    b"while",
    b"until",
    b"do",
    b"done",
    b"function",
    b"select",
    b".",
    b":",
    b"alias",
    b"bg",
    b"break",
    b"cd",
    b"command",
    b"continue",
    b"eval",
    b"exec",
    b"exit",
    b"export",
    b"fg",
    b"getopts",
    b"hash",
    b"jobs",
    b"local",
    b"read",
    b"readonly",
    b"return",
    b"set",
    b"shift",
    b"source",
    b"times",
    b"trap",
    b"type",
    b"ulimit",
    b"umask",
    b"unalias",
    b"unset",
    b"wait",
];

/// The values one job's command is made with.
#[derive(Debug, Clone, Copy)]
pub struct JobValues<'a> {
    /// The job number, from 1.
    pub seq: u64,
    /// The job slot, from 1.
    pub slot: usize,
    /// One value per input source.
    pub inputs: &'a [Vec<u8>],
}

/// How one job is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Run this argument vector directly.
    Argv(Vec<OsString>),
    /// Run this script with `/bin/sh -c`.
    Shell(Vec<u8>),
}

impl Invocation {
    /// The command as a shell command line: what `--dry-run` prints and the
    /// job log and results record.
    pub fn display(&self) -> Vec<u8> {
        match self {
            Invocation::Shell(script) => script.clone(),
            Invocation::Argv(argv) => {
                let mut line = Vec::new();
                for (i, arg) in argv.iter().enumerate() {
                    if i > 0 {
                        line.push(b' ');
                    }
                    push_display_word(&mut line, arg.as_bytes());
                }
                line
            }
        }
    }
}

/// A parsed command template.
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
    /// The words of a template that runs directly; `None` for one that runs
    /// through the shell.
    direct_words: Option<Vec<Vec<Piece>>>,
    uses_slot: bool,
}

impl Template {
    /// Parses the command words (joined with spaces, as GNU parallel does)
    /// for jobs with `sources` input sources.
    pub fn parse(words: &[OsString], sources: usize) -> Result<Template, CliError> {
        let mut text = Vec::new();
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                text.push(b' ');
            }
            text.extend_from_slice(word.as_bytes());
        }
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(CliError::NoCommand);
        }
        let mut pieces = split_pieces(&text);
        check_sources(&pieces, sources)?;
        if !pieces.iter().any(|p| matches!(p, Piece::Replace(_))) {
            pieces.push(Piece::Literal(b" ".to_vec()));
            pieces.push(Piece::Replace(Replacement::Input {
                source: None,
                part: PathPart::Whole,
            }));
        }
        let uses_slot = pieces.contains(&Piece::Replace(Replacement::Slot));
        let direct_words = Some(split_words(&pieces)).filter(|words| !needs_shell(&pieces, words));
        Ok(Template {
            pieces,
            direct_words,
            uses_slot,
        })
    }

    /// Whether jobs run through `/bin/sh -c`.
    #[cfg(test)]
    pub fn runs_through_shell(&self) -> bool {
        self.direct_words.is_none()
    }

    /// Whether the command depends on the job slot (`{%}`), which differs
    /// from run to run.
    pub fn uses_slot(&self) -> bool {
        self.uses_slot
    }

    /// How to start the job with these values.
    pub fn invocation(&self, job: &JobValues<'_>) -> Invocation {
        match &self.direct_words {
            Some(words) => Invocation::Argv(render_argv(words, job)),
            None => Invocation::Shell(render_script(&self.pieces, job)),
        }
    }
}

/// Splits the template text into literal text and replacement strings.
fn split_pieces(text: &[u8]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'{'
            && let Some((replacement, len)) = parse_replacement(&text[i..])
        {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Replace(replacement));
            i += len;
            continue;
        }
        literal.push(text[i]);
        i += 1;
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

/// The replacement string at the start of `text` (which starts with `{`)
/// and its length, if it is one.
fn parse_replacement(text: &[u8]) -> Option<(Replacement, usize)> {
    let close = text.iter().take(24).position(|&b| b == b'}')?;
    let inner = &text[1..close];
    let len = close + 1;
    let replacement = match inner {
        b"#" => Replacement::JobNumber,
        b"%" => Replacement::Slot,
        _ => {
            let digits = inner.iter().take_while(|b| b.is_ascii_digit()).count();
            let source = match digits {
                0 => None,
                _ => Some(std::str::from_utf8(&inner[..digits]).ok()?.parse().ok()?),
            };
            let part = match &inner[digits..] {
                b"" => PathPart::Whole,
                b"." => PathPart::WithoutExtension,
                b"/" => PathPart::Basename,
                b"//" => PathPart::Dirname,
                b"/." => PathPart::BasenameWithoutExtension,
                _ => return None,
            };
            Replacement::Input { source, part }
        }
    };
    Some((replacement, len))
}

fn check_sources(pieces: &[Piece], sources: usize) -> Result<(), CliError> {
    for piece in pieces {
        if let Piece::Replace(Replacement::Input {
            source: Some(index),
            part,
        }) = *piece
            && (index == 0 || index > sources)
        {
            let suffix = match part {
                PathPart::Whole => "",
                PathPart::WithoutExtension => ".",
                PathPart::Basename => "/",
                PathPart::Dirname => "//",
                PathPart::BasenameWithoutExtension => "/.",
            };
            return Err(CliError::UnknownInputSource {
                token: format!("{{{index}{suffix}}}"),
                index,
                available: sources,
            });
        }
    }
    Ok(())
}

/// The template's words, split at blanks outside replacement strings.
fn split_words(pieces: &[Piece]) -> Vec<Vec<Piece>> {
    let mut words = Vec::new();
    let mut word: Vec<Piece> = Vec::new();
    let mut literal = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Replace(r) => {
                if !literal.is_empty() {
                    word.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                word.push(Piece::Replace(*r));
            }
            Piece::Literal(text) => {
                for &byte in text {
                    if byte == b' ' || byte == b'\t' {
                        if !literal.is_empty() {
                            word.push(Piece::Literal(std::mem::take(&mut literal)));
                        }
                        if !word.is_empty() {
                            words.push(std::mem::take(&mut word));
                        }
                    } else {
                        literal.push(byte);
                    }
                }
            }
        }
    }
    if !literal.is_empty() {
        word.push(Piece::Literal(literal));
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn needs_shell(pieces: &[Piece], words: &[Vec<Piece>]) -> bool {
    let syntax = pieces.iter().any(|piece| match piece {
        Piece::Literal(text) => text.iter().any(|b| SHELL_SYNTAX.contains(b)),
        Piece::Replace(_) => false,
    });
    let shell_only_first_word = match words.first().map(Vec::as_slice) {
        Some([Piece::Literal(first)]) => SHELL_ONLY_COMMANDS.contains(&first.as_slice()),
        _ => false,
    };
    syntax || shell_only_first_word
}

/// Calls `each` with every value a replacement stands for, in order.
fn for_each_value(replacement: Replacement, job: &JobValues<'_>, mut each: impl FnMut(&[u8])) {
    match replacement {
        Replacement::Input {
            source: Some(index),
            part,
        } => {
            let value = job.inputs.get(index - 1).map_or(&[][..], Vec::as_slice);
            each(part.of(value));
        }
        Replacement::Input { source: None, part } => {
            for value in job.inputs {
                each(part.of(value));
            }
        }
        Replacement::JobNumber => each(job.seq.to_string().as_bytes()),
        Replacement::Slot => each(job.slot.to_string().as_bytes()),
    }
}

/// The argument vector of a directly run template. A replacement with
/// several values (`{}` with several input sources) gives one argument per
/// value, as its quoted values would in a shell.
fn render_argv(words: &[Vec<Piece>], job: &JobValues<'_>) -> Vec<OsString> {
    let mut argv = Vec::with_capacity(words.len() + job.inputs.len());
    for word in words {
        let mut current = Vec::new();
        for piece in word {
            match piece {
                Piece::Literal(text) => current.extend_from_slice(text),
                Piece::Replace(replacement) => {
                    let mut first = true;
                    for_each_value(*replacement, job, |value| {
                        if !first {
                            argv.push(OsString::from_vec(std::mem::take(&mut current)));
                        }
                        first = false;
                        current.extend_from_slice(value);
                    });
                }
            }
        }
        argv.push(OsString::from_vec(current));
    }
    argv
}

/// The script of a template that runs through the shell: every input value
/// single-quoted, several values separated by spaces.
fn render_script(pieces: &[Piece], job: &JobValues<'_>) -> Vec<u8> {
    let mut script = Vec::with_capacity(64);
    for piece in pieces {
        match piece {
            Piece::Literal(text) => script.extend_from_slice(text),
            Piece::Replace(Replacement::JobNumber) => {
                let _ = write!(script, "{}", job.seq);
            }
            Piece::Replace(Replacement::Slot) => {
                let _ = write!(script, "{}", job.slot);
            }
            Piece::Replace(replacement) => {
                let mut first = true;
                for_each_value(*replacement, job, |value| {
                    if !first {
                        script.push(b' ');
                    }
                    first = false;
                    push_single_quoted(&mut script, value);
                });
            }
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(words: &[&str], sources: usize) -> Template {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        Template::parse(&words, sources).unwrap()
    }

    fn job(inputs: &[&str]) -> Vec<Vec<u8>> {
        inputs.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn argv(t: &Template, inputs: &[&str]) -> Vec<String> {
        let inputs = job(inputs);
        match t.invocation(&JobValues {
            seq: 7,
            slot: 2,
            inputs: &inputs,
        }) {
            Invocation::Argv(argv) => argv.into_iter().map(|a| a.into_string().unwrap()).collect(),
            Invocation::Shell(script) => panic!("ran through the shell: {script:?}"),
        }
    }

    fn script(t: &Template, inputs: &[&str]) -> String {
        let inputs = job(inputs);
        match t.invocation(&JobValues {
            seq: 7,
            slot: 2,
            inputs: &inputs,
        }) {
            Invocation::Shell(script) => String::from_utf8(script).unwrap(),
            Invocation::Argv(argv) => panic!("ran directly: {argv:?}"),
        }
    }

    #[test]
    fn the_input_is_appended_when_no_replacement_string_is_used() {
        let t = template(&["echo", "-n"], 1);
        assert_eq!(argv(&t, &["a; rm -rf ~"]), ["echo", "-n", "a; rm -rf ~"]);
        let t = template(&["echo"], 2);
        assert_eq!(argv(&t, &["x", "y"]), ["echo", "x", "y"]);
    }

    #[test]
    fn replacement_strings_fill_in_parts_numbers_and_slots() {
        let t = template(&["cp", "{}", "out/{/.}.{#}.{%}", "{//}", "{.}"], 1);
        assert!(!t.runs_through_shell());
        assert_eq!(
            argv(&t, &["in/a b.txt"]),
            ["cp", "in/a b.txt", "out/a b.7.2", "in", "in/a b"]
        );
        let t = template(&["diff", "{2}", "{1/}"], 2);
        assert_eq!(argv(&t, &["d/one", "two"]), ["diff", "two", "one"]);
    }

    #[test]
    fn several_values_in_one_word_split_like_quoted_shell_words() {
        let t = template(&["echo", "<{}>"], 2);
        assert!(t.runs_through_shell());
        assert_eq!(script(&t, &["a", "b"]), "echo <'a' 'b'>");
        let t = template(&["echo", "x{}y"], 2);
        assert_eq!(argv(&t, &["a", "b"]), ["echo", "xa", "by"]);
    }

    #[test]
    fn shell_syntax_runs_through_the_shell_with_quoted_values() {
        let t = template(&["echo {} | tr a b"], 1);
        assert!(t.runs_through_shell());
        assert_eq!(script(&t, &["it's; ls"]), "echo 'it'\\''s; ls' | tr a b");
        assert!(template(&["cd", "/tmp"], 1).runs_through_shell());
        assert!(template(&["X=1", "env"], 1).runs_through_shell());
        assert!(template(&["printf", "%s\\n"], 1).runs_through_shell());
        assert!(!template(&["ls", "-l", "{}"], 1).runs_through_shell());
    }

    #[test]
    fn unknown_braces_are_literal_text() {
        let t = template(&["echo", "{x}", "{", "{1x}"], 1);
        assert_eq!(argv(&t, &["v"]), ["echo", "{x}", "{", "{1x}", "v"]);
    }

    #[test]
    fn a_missing_input_source_is_an_error() {
        let words = [OsString::from("echo"), OsString::from("{3.}")];
        let err = Template::parse(&words, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "replacement string {3.} refers to input source 3, but there are only 2"
        );
        assert!(Template::parse(&[OsString::from("echo {0}")], 1).is_err());
        assert!(matches!(
            Template::parse(&[OsString::from("  ")], 1),
            Err(CliError::NoCommand)
        ));
    }

    #[test]
    fn displays_as_a_command_line() {
        let t = template(&["echo"], 1);
        let inputs = job(&["a b"]);
        let shown = t
            .invocation(&JobValues {
                seq: 1,
                slot: 1,
                inputs: &inputs,
            })
            .display();
        assert_eq!(shown, b"echo 'a b'");
        assert!(template(&["echo", "{%}"], 1).uses_slot());
    }

    #[test]
    fn non_utf8_inputs_pass_as_bytes() {
        let t = template(&["echo"], 1);
        let inputs = vec![vec![0xff, 0xfe]];
        let Invocation::Argv(argv) = t.invocation(&JobValues {
            seq: 1,
            slot: 1,
            inputs: &inputs,
        }) else {
            panic!("ran through the shell")
        };
        assert_eq!(argv[1].as_bytes(), [0xff, 0xfe]);
    }
}
