//! Making one job's command from a parsed template: the argument vector
//! of a template that runs directly, or the script of one that runs
//! through `/bin/sh -c`, each value quoted for its context; a value that
//! no quoting can make safe where it lands is refused.

use std::ffi::OsString;
use std::ops::Range;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::parse::{Piece, Replacement};
use super::quoting::{
    escape_for_backquotes, is_plain_word, push_inside_double_quotes,
    push_inside_expanding_here_document, push_inside_single_quotes, push_shell_word,
};
use super::shell_context::{HereDocument, QuoteContext};
use super::{JobValues, Template};

/// A job whose values cannot be placed safely in its command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to run it: the value {value} cannot be put {place} safely ({rule})")]
pub struct RefusedValue {
    /// The value, shown quoted and shortened.
    pub value: String,
    /// Where it would have gone.
    pub place: &'static str,
    /// What is accepted there.
    pub rule: &'static str,
}

impl RefusedValue {
    fn new(value: &[u8], place: &'static str, rule: &'static str) -> RefusedValue {
        let mut shown = Vec::new();
        push_shell_word(&mut shown, &value[..value.len().min(60)]);
        RefusedValue {
            value: String::from_utf8_lossy(&shown).into_owned(),
            place,
            rule,
        }
    }
}

/// How values are quoted in a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quoting {
    /// For the context each one lands in.
    ByContext,
    /// As if each stood outside quotes (what GNU parallel does).
    AsIfUnquoted,
}
impl Template {
    /// The argument vector of a directly run template. A replacement with
    /// several values (`{}` with several input values) gives one argument
    /// per value, as its quoted values would in a shell; with `-X` a word
    /// holding `{}` is repeated for every value.
    pub(super) fn render_argv(&self, words: &[Vec<Piece>], job: &JobValues<'_>) -> Vec<OsString> {
        let mut argv = Vec::with_capacity(words.len() + job.inputs.len());
        for (index, word) in words.iter().enumerate() {
            if self.context_direct_words.contains(&index) {
                for value in job.inputs {
                    let one = std::slice::from_ref(value);
                    let mut current = Vec::new();
                    render_word_into_argv(word, job, Some(one), &mut argv, &mut current);
                    argv.push(OsString::from_vec(current));
                }
                continue;
            }
            let mut current = Vec::new();
            render_word_into_argv(word, job, None, &mut argv, &mut current);
            argv.push(OsString::from_vec(current));
        }
        argv
    }

    /// The script of a template that runs through the shell.
    pub(super) fn render_script(
        &self,
        job: &JobValues<'_>,
        quoting: Quoting,
    ) -> Result<Vec<u8>, RefusedValue> {
        let mut script = Vec::with_capacity(64);
        let mut here_document_values = Vec::new();
        let mut index = 0;
        while index < self.pieces.len() {
            if let Some(range) = self.context_words.iter().find(|r| r.start == index) {
                for (i, value) in job.inputs.iter().enumerate() {
                    if i > 0 {
                        script.push(b' ');
                    }
                    let one = std::slice::from_ref(value);
                    for piece in &self.pieces[range.clone()] {
                        render_piece(
                            piece,
                            job,
                            Some(one),
                            quoting,
                            &mut script,
                            &mut here_document_values,
                        )?;
                    }
                }
                index = range.end;
                continue;
            }
            render_piece(
                &self.pieces[index],
                job,
                None,
                quoting,
                &mut script,
                &mut here_document_values,
            )?;
            index += 1;
        }
        check_here_document_lines(&script, &here_document_values)?;
        Ok(script)
    }
}

/// Calls `each` with every value a replacement stands for, in order;
/// `only` replaces the job's values for replacements of all of them (one
/// repetition of a `-X` word).
fn for_each_value(
    replacement: Replacement,
    job: &JobValues<'_>,
    only: Option<&[Vec<u8>]>,
    mut each: impl FnMut(&[u8]),
) {
    match replacement {
        Replacement::Input {
            source: Some(index),
            part,
        } => {
            let value = job.inputs.get(index - 1).map_or(&[][..], Vec::as_slice);
            each(part.of(value));
        }
        Replacement::Input { source: None, part } => {
            for value in only.unwrap_or(job.inputs) {
                each(part.of(value));
            }
        }
        Replacement::JobNumber => each(job.seq.to_string().as_bytes()),
        Replacement::Slot => each(job.slot.to_string().as_bytes()),
    }
}

/// Appends one word of a directly run template to `current`, pushing a
/// finished argument to `argv` between the values of a replacement with
/// several of them.
fn render_word_into_argv(
    word: &[Piece],
    job: &JobValues<'_>,
    only: Option<&[Vec<u8>]>,
    argv: &mut Vec<OsString>,
    current: &mut Vec<u8>,
) {
    for piece in word {
        match piece {
            Piece::Literal(text) => current.extend_from_slice(text),
            Piece::Replace(replacement, _) => {
                let mut first = true;
                for_each_value(*replacement, job, only, |value| {
                    if !first {
                        argv.push(OsString::from_vec(std::mem::take(current)));
                    }
                    first = false;
                    current.extend_from_slice(value);
                });
            }
        }
    }
}

/// Every argument quoted as one shell word, separated by spaces (`-q`).
pub(super) fn quoted_words(argv: &[OsString]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        push_shell_word(&mut line, arg.as_bytes());
    }
    line
}

/// Appends one piece of a script; a value in a here-document is recorded
/// (its byte range and the document) for the delimiter check.
fn render_piece(
    piece: &Piece,
    job: &JobValues<'_>,
    only: Option<&[Vec<u8>]>,
    quoting: Quoting,
    script: &mut Vec<u8>,
    here_document_values: &mut Vec<(Range<usize>, HereDocument)>,
) -> Result<(), RefusedValue> {
    let (replacement, placement) = match piece {
        Piece::Literal(text) => {
            script.extend_from_slice(text);
            return Ok(());
        }
        Piece::Replace(replacement, placement) => (*replacement, placement),
    };
    let context = match quoting {
        Quoting::ByContext => &placement.context,
        Quoting::AsIfUnquoted => &QuoteContext::Unquoted,
    };
    let mut text = Vec::new();
    let mut refused = None;
    let mut first = true;
    for_each_value(replacement, job, only, |value| {
        if !first {
            text.push(b' ');
        }
        first = false;
        if let Err(error) = quote_for(context, value, &mut text) {
            refused.get_or_insert(error);
        }
    });
    if let Some(error) = refused {
        return Err(error);
    }
    let backquotes = match quoting {
        Quoting::ByContext => placement.backquotes,
        Quoting::AsIfUnquoted => 0,
    };
    for _ in 0..backquotes {
        text = escape_for_backquotes(&text);
    }
    let start = script.len();
    script.extend_from_slice(&text);
    if let QuoteContext::HereDocument(document) = context {
        here_document_values.push((start..script.len(), document.clone()));
    }
    Ok(())
}

/// Appends `value` quoted for `context`.
fn quote_for(context: &QuoteContext, value: &[u8], out: &mut Vec<u8>) -> Result<(), RefusedValue> {
    match context {
        QuoteContext::Unquoted => push_shell_word(out, value),
        QuoteContext::DoubleQuoted => push_inside_double_quotes(out, value),
        QuoteContext::SingleQuoted => push_inside_single_quotes(out, value),
        QuoteContext::AnsiC => {
            // Close the $'...', add the value as a word, open it again.
            out.push(b'\'');
            push_shell_word(out, value);
            out.extend_from_slice(b"$'");
        }
        QuoteContext::Comment => {
            // A newline would end the comment; the shell ignores the rest.
            let flat: Vec<u8> = value
                .iter()
                .map(|&b| if b == b'\n' { b' ' } else { b })
                .collect();
            push_shell_word(out, &flat);
        }
        QuoteContext::Arithmetic => {
            let digits = value.strip_prefix(b"-").unwrap_or(value);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(RefusedValue::new(
                    value,
                    "in $((...))",
                    "only integers are accepted there",
                ));
            }
            out.extend_from_slice(value);
        }
        QuoteContext::Parameter => {
            if !value.is_empty() && !is_plain_word(value) {
                return Err(RefusedValue::new(
                    value,
                    "in ${...}",
                    "only letters, digits and _ - . / + are accepted there",
                ));
            }
            out.extend_from_slice(value);
        }
        QuoteContext::HereDocument(document) if document.expanding => {
            push_inside_expanding_here_document(out, value);
        }
        QuoteContext::HereDocument(_) => out.extend_from_slice(value),
    }
    Ok(())
}

/// Refuses a script in which a line that holds part of a value would end
/// its here-document early (it equals the delimiter).
fn check_here_document_lines(
    script: &[u8],
    values: &[(Range<usize>, HereDocument)],
) -> Result<(), RefusedValue> {
    for (range, document) in values {
        let line_start = script[..range.start]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = script[range.end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(script.len(), |i| range.end + i);
        for line in script[line_start..line_end].split(|&b| b == b'\n') {
            let mut line = line;
            if document.strip_tabs {
                while let Some(rest) = line.strip_prefix(b"\t") {
                    line = rest;
                }
            }
            if line == document.delimiter.as_slice() {
                return Err(RefusedValue::new(
                    &script[range.clone()],
                    "in this here-document",
                    "no line may equal its delimiter",
                ));
            }
        }
    }
    Ok(())
}
