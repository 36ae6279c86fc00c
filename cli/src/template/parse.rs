//! Reading a template: its text split into literal text and replacement
//! strings (`{}`, `{1/.}`, `{#}`, `{%}`), each placed in the quoting
//! context it lands in; its words; and whether it needs a shell.

use std::ops::Range;

use super::path_parts::PathPart;
use super::shell_context::{Item, Placement, QuoteContext, placements};
use crate::error::CliError;

/// What a replacement string stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// A part of the job's inputs: of input value `source` (1-based), or of
    /// every input value (`None`: `{}` and friends), one word each.
    Input {
        /// The input value, 1-based; `None` for all of them.
        source: Option<usize>,
        /// Which part of the input.
        part: PathPart,
    },
    /// `{#}`: the job number, from 1 in input order.
    JobNumber,
    /// `{%}`: the job slot, from 1 to the number of jobs running at once.
    Slot,
}

impl Replacement {
    /// Whether it stands for every input value (`{}` and friends).
    pub(super) fn is_all_inputs(self) -> bool {
        matches!(self, Replacement::Input { source: None, .. })
    }
}

/// A piece of a template: literal text, or a replacement string and where
/// it lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Literal(Vec<u8>),
    Replace(Replacement, Placement),
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

/// `{}` outside quotes: what a template without replacement strings gets
/// at its end.
pub(super) fn all_inputs() -> Piece {
    Piece::Replace(
        Replacement::Input {
            source: None,
            part: PathPart::Whole,
        },
        Placement {
            context: QuoteContext::Unquoted,
            backquotes: 0,
        },
    )
}

/// Whether the pieces hold `{%}`.
pub(super) fn uses_slot(pieces: &[Piece]) -> bool {
    pieces
        .iter()
        .any(|p| matches!(p, Piece::Replace(Replacement::Slot, _)))
}

/// `{= perl expression =}` is GNU parallel's Perl replacement string;
/// there is no Perl here, and passing it on literally would hide that.
pub(super) fn refuse_perl_expressions(text: &[u8]) -> Result<(), CliError> {
    let Some(open) = text.windows(2).position(|w| w == b"{=") else {
        return Ok(());
    };
    let Some(length) = text[open + 2..].windows(2).position(|w| w == b"=}") else {
        return Ok(());
    };
    let expression = &text[open..open + 2 + length + 2];
    Err(CliError::PerlExpression(
        String::from_utf8_lossy(expression).into_owned(),
    ))
}

/// Splits the template text into literal text and replacement strings
/// (placed outside quotes until [`place_values`] finds their contexts).
pub(super) fn split_pieces(text: &[u8]) -> Vec<Piece> {
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
            pieces.push(Piece::Replace(
                replacement,
                Placement {
                    context: QuoteContext::Unquoted,
                    backquotes: 0,
                },
            ));
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

/// Finds the quoting context of every replacement string.
pub(super) fn place_values(pieces: &mut [Piece]) -> Result<(), CliError> {
    let mut items = Vec::new();
    for piece in pieces.iter() {
        match piece {
            Piece::Literal(text) => items.extend(text.iter().map(|&b| Item::Byte(b))),
            Piece::Replace(..) => items.push(Item::Value),
        }
    }
    let placed = placements(&items).map_err(|reason| CliError::UnsafeTemplate {
        reason: reason.to_string(),
    })?;
    let mut placed = placed.into_iter();
    for piece in pieces.iter_mut() {
        if let Piece::Replace(_, placement) = piece
            && let Some(found) = placed.next()
        {
            *placement = found;
        }
    }
    Ok(())
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

/// Refuses `{n}` (and its parts) for an input source there is not (`n`
/// is 0 or more than `sources`).
pub(super) fn check_sources(pieces: &[Piece], sources: usize) -> Result<(), CliError> {
    for piece in pieces {
        if let Piece::Replace(
            Replacement::Input {
                source: Some(index),
                part,
            },
            _,
        ) = *piece
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
pub(super) fn split_words(pieces: &[Piece]) -> Vec<Vec<Piece>> {
    let mut words = Vec::new();
    let mut word: Vec<Piece> = Vec::new();
    let mut literal = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Replace(..) => {
                if !literal.is_empty() {
                    word.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                word.push(piece.clone());
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

/// `-X` in a script: splits the literal pieces at blanks, so that every
/// blank-separated word is a run of whole pieces, and returns the runs
/// that hold `{}` (or another replacement of all values).
pub(super) fn split_context_words(pieces: Vec<Piece>) -> (Vec<Piece>, Vec<Range<usize>>) {
    let mut split = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => {
                let mut start = 0;
                for (i, &byte) in text.iter().enumerate() {
                    if matches!(byte, b' ' | b'\t' | b'\n') {
                        if i > start {
                            split.push(Piece::Literal(text[start..i].to_vec()));
                        }
                        split.push(Piece::Literal(vec![byte]));
                        start = i + 1;
                    }
                }
                if start < text.len() {
                    split.push(Piece::Literal(text[start..].to_vec()));
                }
            }
            replace => split.push(replace),
        }
    }
    let is_blank = |piece: &Piece| matches!(piece, Piece::Literal(text) if text.len() == 1 && matches!(text[0], b' ' | b'\t' | b'\n'));
    let mut words = Vec::new();
    let mut start = None;
    for (i, piece) in split.iter().enumerate() {
        if is_blank(piece) {
            if let Some(s) = start.take() {
                words.push(s..i);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push(s..split.len());
    }
    words.retain(|range| {
        split[range.clone()]
            .iter()
            .any(|p| matches!(p, Piece::Replace(r, _) if r.is_all_inputs()))
    });
    (split, words)
}

/// `-X` in a directly run template: the words holding `{}`.
pub(super) fn context_word_indices(words: &[Vec<Piece>]) -> Vec<usize> {
    words
        .iter()
        .enumerate()
        .filter(|(_, word)| {
            word.iter()
                .any(|p| matches!(p, Piece::Replace(r, _) if r.is_all_inputs()))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Whether the template needs `/bin/sh -c`: shell syntax outside its
/// replacement strings, or a first word only a shell knows.
pub(super) fn needs_shell(pieces: &[Piece], words: &[Vec<Piece>]) -> bool {
    let syntax = pieces.iter().any(|piece| match piece {
        Piece::Literal(text) => text.iter().any(|b| SHELL_SYNTAX.contains(b)),
        Piece::Replace(..) => false,
    });
    let shell_only_first_word = match words.first().map(Vec::as_slice) {
        Some([Piece::Literal(first)]) => SHELL_ONLY_COMMANDS.contains(&first.as_slice()),
        _ => false,
    };
    syntax || shell_only_first_word
}
