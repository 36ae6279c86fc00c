//! The command template: the command words with their replacement strings,
//! and how one job's command is made from it.
//!
//! A template without shell syntax runs directly (an argument vector, no
//! shell); each substituted value is then an argument of its own, which is
//! what shell quoting would give. A template with shell syntax runs through
//! `/bin/sh -c`, each value quoted for the quoting context it lands in
//! ([`crate::shell_context`]): bare when it holds nothing a shell
//! interprets, else single-quoted outside quotes, escaped inside double
//! quotes, closed-escaped-reopened inside single quotes. Either way an
//! input is data, never a command; where no quoting could make it so (text
//! in `$((...))` or `${...}`, a here-document line equal to its delimiter)
//! the job is refused.

use std::ffi::OsString;
use std::ops::Range;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::CliError;
use crate::path_parts::PathPart;
use crate::quoting::{
    escape_for_backquotes, is_plain_word, push_inside_double_quotes,
    push_inside_expanding_here_document, push_inside_single_quotes, push_shell_word,
};
use crate::shell_context::{HereDocument, Item, Placement, QuoteContext, placements};

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
    fn is_all_inputs(self) -> bool {
        matches!(self, Replacement::Input { source: None, .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
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

/// The values one job's command is made with.
#[derive(Debug, Clone, Copy)]
pub struct JobValues<'a> {
    /// The job number, from 1.
    pub seq: u64,
    /// The job slot, from 1.
    pub slot: usize,
    /// The job's input values: one per input source, or, with `-N`, `-X`,
    /// `-m` or `--colsep`, every argument's (or column's) value in order.
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

/// How the command words are read (the options that change it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateOptions {
    /// How many input values each job has, for checking `{n}`; `None`
    /// when it is not known in advance (`--colsep`).
    pub sources: Option<usize>,
    /// `-q`: every command word is one argument, whatever it holds; the
    /// command runs without a shell.
    pub quote_command: bool,
    /// `-X`: a word with `{}` in it is repeated for every value, instead of
    /// `{}` standing for all values.
    pub context_replace: bool,
}

impl TemplateOptions {
    /// Plain options for jobs with `sources` input values.
    #[cfg(test)]
    pub(crate) fn for_sources(sources: usize) -> TemplateOptions {
        TemplateOptions {
            sources: Some(sources),
            quote_command: false,
            context_replace: false,
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
    /// `-q`: the command line shows every word quoted as a whole.
    quote_words: bool,
    /// `-X`: the pieces of the words that are repeated for every value.
    context_words: Vec<Range<usize>>,
    /// `-X` in a directly run template: the indices of the words that are
    /// repeated.
    context_direct_words: Vec<usize>,
    uses_slot: bool,
}

impl Template {
    /// Parses the command words (joined with spaces, as GNU parallel does)
    /// for jobs with `sources` input values.
    #[cfg(test)]
    pub(crate) fn parse(words: &[OsString], sources: usize) -> Result<Template, CliError> {
        Template::parse_with(words, TemplateOptions::for_sources(sources))
    }

    /// Parses the command words with `options`.
    pub(crate) fn parse_with(
        words: &[OsString],
        options: TemplateOptions,
    ) -> Result<Template, CliError> {
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
        refuse_perl_expressions(&text)?;
        if options.quote_command {
            return Template::parse_quoted(words, options);
        }
        let mut pieces = split_pieces(&text);
        if let Some(sources) = options.sources {
            check_sources(&pieces, sources)?;
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Replace(..))) {
            pieces.push(Piece::Literal(b" ".to_vec()));
            pieces.push(all_inputs());
        }
        place_values(&mut pieces)?;
        let uses_slot = uses_slot(&pieces);
        let direct_words = Some(split_words(&pieces)).filter(|words| !needs_shell(&pieces, words));
        let (pieces, context_words) = if options.context_replace {
            split_context_words(pieces)
        } else {
            (pieces, Vec::new())
        };
        let context_direct_words = match (&direct_words, options.context_replace) {
            (Some(words), true) => context_word_indices(words),
            _ => Vec::new(),
        };
        Ok(Template {
            pieces,
            direct_words,
            quote_words: false,
            context_words,
            context_direct_words,
            uses_slot,
        })
    }

    /// `-q`: each word is one argument of a directly run command.
    fn parse_quoted(words: &[OsString], options: TemplateOptions) -> Result<Template, CliError> {
        let mut direct: Vec<Vec<Piece>> = words
            .iter()
            .map(|word| split_pieces(word.as_bytes()))
            .collect();
        let flat: Vec<Piece> = direct.iter().flatten().cloned().collect();
        if let Some(sources) = options.sources {
            check_sources(&flat, sources)?;
        }
        if !flat.iter().any(|p| matches!(p, Piece::Replace(..))) {
            direct.push(vec![all_inputs()]);
        }
        let uses_slot = direct.iter().any(|word| uses_slot(word));
        let context_direct_words = if options.context_replace {
            context_word_indices(&direct)
        } else {
            Vec::new()
        };
        Ok(Template {
            pieces: Vec::new(),
            direct_words: Some(direct),
            quote_words: true,
            context_words: Vec::new(),
            context_direct_words,
            uses_slot,
        })
    }

    /// Whether jobs run through `/bin/sh -c`.
    #[cfg(test)]
    pub(crate) fn runs_through_shell(&self) -> bool {
        self.direct_words.is_none()
    }

    /// Whether the command depends on the job slot (`{%}`), which differs
    /// from run to run.
    pub(crate) fn uses_slot(&self) -> bool {
        self.uses_slot
    }

    /// How to start the job with these values.
    pub(crate) fn invocation(&self, job: &JobValues<'_>) -> Result<Invocation, RefusedValue> {
        match &self.direct_words {
            Some(words) => Ok(Invocation::Argv(self.render_argv(words, job))),
            None => Ok(Invocation::Shell(
                self.render_script(job, Quoting::ByContext)?,
            )),
        }
    }

    /// The job's command as a shell command line: what `--dry-run` and `-v`
    /// print and the job log and results record. For a template without
    /// quotes it is the command GNU parallel shows for the same job.
    pub(crate) fn command_line(&self, job: &JobValues<'_>) -> Result<Vec<u8>, RefusedValue> {
        match (&self.direct_words, self.quote_words) {
            (Some(words), true) => Ok(quoted_words(&self.render_argv(words, job))),
            _ => self.render_script(job, Quoting::ByContext),
        }
    }

    /// The command line GNU parallel would log for this job: like
    /// [`Template::command_line`], but with every value quoted as if it
    /// stood outside quotes (GNU parallel does not look at the quoting
    /// context). Used to recognise GNU parallel's job logs.
    pub(crate) fn gnu_command_line(&self, job: &JobValues<'_>) -> Vec<u8> {
        match (&self.direct_words, self.quote_words) {
            (Some(words), true) => quoted_words(&self.render_argv(words, job)),
            // Unquoted rendering refuses nothing.
            _ => self
                .render_script(job, Quoting::AsIfUnquoted)
                .unwrap_or_default(),
        }
    }

    /// The argument vector of a directly run template. A replacement with
    /// several values (`{}` with several input values) gives one argument
    /// per value, as its quoted values would in a shell; with `-X` a word
    /// holding `{}` is repeated for every value.
    fn render_argv(&self, words: &[Vec<Piece>], job: &JobValues<'_>) -> Vec<OsString> {
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
    fn render_script(
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

/// How values are quoted in a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// For the context each one lands in.
    ByContext,
    /// As if each stood outside quotes (what GNU parallel does).
    AsIfUnquoted,
}

fn all_inputs() -> Piece {
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

fn uses_slot(pieces: &[Piece]) -> bool {
    pieces
        .iter()
        .any(|p| matches!(p, Piece::Replace(Replacement::Slot, _)))
}

/// `{= perl expression =}` is GNU parallel's Perl replacement string;
/// there is no Perl here, and passing it on literally would hide that.
fn refuse_perl_expressions(text: &[u8]) -> Result<(), CliError> {
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
fn place_values(pieces: &mut [Piece]) -> Result<(), CliError> {
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

fn check_sources(pieces: &[Piece], sources: usize) -> Result<(), CliError> {
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
fn split_words(pieces: &[Piece]) -> Vec<Vec<Piece>> {
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
fn split_context_words(pieces: Vec<Piece>) -> (Vec<Piece>, Vec<Range<usize>>) {
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
fn context_word_indices(words: &[Vec<Piece>]) -> Vec<usize> {
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

fn needs_shell(pieces: &[Piece], words: &[Vec<Piece>]) -> bool {
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
fn quoted_words(argv: &[OsString]) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn template(words: &[&str], sources: usize) -> Template {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        Template::parse(&words, sources).unwrap()
    }

    fn template_with(words: &[&str], options: TemplateOptions) -> Template {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        Template::parse_with(&words, options).unwrap()
    }

    fn job(inputs: &[&str]) -> Vec<Vec<u8>> {
        inputs.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn values<'a>(inputs: &'a [Vec<u8>]) -> JobValues<'a> {
        JobValues {
            seq: 7,
            slot: 2,
            inputs,
        }
    }

    fn argv(t: &Template, inputs: &[&str]) -> Vec<String> {
        let inputs = job(inputs);
        match t.invocation(&values(&inputs)).unwrap() {
            Invocation::Argv(argv) => argv.into_iter().map(|a| a.into_string().unwrap()).collect(),
            Invocation::Shell(script) => panic!("ran through the shell: {script:?}"),
        }
    }

    fn script(t: &Template, inputs: &[&str]) -> String {
        let inputs = job(inputs);
        match t.invocation(&values(&inputs)).unwrap() {
            Invocation::Shell(script) => String::from_utf8(script).unwrap(),
            Invocation::Argv(argv) => panic!("ran directly: {argv:?}"),
        }
    }

    fn shown(t: &Template, inputs: &[&str]) -> String {
        let inputs = job(inputs);
        String::from_utf8(t.command_line(&values(&inputs)).unwrap()).unwrap()
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
        assert_eq!(script(&t, &["a", "b c"]), "echo <a 'b c'>");
        let t = template(&["echo", "x{}y"], 2);
        assert_eq!(argv(&t, &["a", "b"]), ["echo", "xa", "by"]);
    }

    /// Pins GNU parallel's logged commands for `'echo {}; exit 0'` and
    /// `'echo {} | tr a-z A-Z'` (observed in GNU parallel 20221122 job
    /// logs): plain values bare, others single-quoted.
    #[test]
    fn values_outside_quotes_are_quoted_only_when_needed() {
        let t = template(&["echo {}; exit 0"], 1);
        assert_eq!(script(&t, &["a"]), "echo a; exit 0");
        assert_eq!(script(&t, &["b c"]), "echo 'b c'; exit 0");
        assert_eq!(script(&t, &["it's"]), "echo 'it'\"'\"'s'; exit 0");
        let t = template(&["echo {} | tr a-z A-Z"], 1);
        assert_eq!(script(&t, &["b c"]), "echo 'b c' | tr a-z A-Z");
        assert!(template(&["cd", "/tmp"], 1).runs_through_shell());
        assert!(template(&["X=1", "env"], 1).runs_through_shell());
        assert!(template(&["printf", "%s\\n"], 1).runs_through_shell());
        assert!(!template(&["ls", "-l", "{}"], 1).runs_through_shell());
    }

    #[test]
    fn values_inside_quotes_are_escaped_for_those_quotes() {
        let t = template(&["echo \"file: {}\""], 1);
        assert_eq!(script(&t, &["a"]), "echo \"file: a\"");
        assert_eq!(
            script(&t, &["$(x) `y` \"z\""]),
            r#"echo "file: \$(x) \`y\` \"z\"""#
        );
        let t = template(&["echo 'file: {}'"], 1);
        assert_eq!(script(&t, &["it's"]), r"echo 'file: it'\''s'");
        let t = template(&["echo `echo {}`"], 1);
        assert_eq!(script(&t, &["a$b"]), r"echo `echo 'a\$b'`");
    }

    #[test]
    fn values_that_no_quoting_makes_safe_are_refused() {
        let t = template(&["echo $(( {} + 1 ))"], 1);
        assert_eq!(script(&t, &["-41"]), "echo $(( -41 + 1 ))");
        let inputs = job(&["a[$(touch x)]"]);
        let err = t.invocation(&values(&inputs)).unwrap_err();
        assert!(err.to_string().contains("only integers"), "{err}");
        let t = template(&["cat <<EOF\n{}\nEOF"], 1);
        assert_eq!(script(&t, &["x\ny"]), "cat <<EOF\nx\ny\nEOF");
        let inputs = job(&["x\nEOF\ntouch pwned"]);
        assert!(t.invocation(&values(&inputs)).is_err());
        let words = [OsString::from("echo \\{}")];
        assert!(matches!(
            Template::parse(&words, 1),
            Err(CliError::UnsafeTemplate { .. })
        ));
    }

    #[test]
    fn perl_expressions_are_refused() {
        let words = [OsString::from("echo"), OsString::from("{= $_=uc($_) =}")];
        let err = Template::parse(&words, 1).unwrap_err();
        assert!(err.to_string().contains("{= $_=uc($_) =}"), "{err}");
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
        let unknown = TemplateOptions {
            sources: None,
            ..TemplateOptions::for_sources(1)
        };
        assert!(Template::parse_with(&[OsString::from("echo {9}")], unknown).is_ok());
    }

    /// Pins GNU parallel's `--dry-run` output: `echo 'a b'`, `touch c`.
    #[test]
    fn displays_as_a_command_line() {
        let t = template(&["echo"], 1);
        assert_eq!(shown(&t, &["a b"]), "echo 'a b'");
        assert_eq!(shown(&t, &["a,b"]), "echo 'a,b'");
        let t = template(&["echo", "a,b"], 1);
        assert_eq!(
            shown(&t, &["x"]),
            "echo a,b x",
            "template text is shown as written"
        );
        assert!(template(&["echo", "{%}"], 1).uses_slot());
    }

    /// Pins GNU parallel's `-q`: `parallel -q --dry-run echo 'a b' '{}' 'x;y'
    /// ::: 'p q'` prints `echo 'a b' 'p q' 'x;y'`.
    #[test]
    fn quote_command_keeps_every_word_one_argument() {
        let options = TemplateOptions {
            quote_command: true,
            ..TemplateOptions::for_sources(1)
        };
        let t = template_with(&["echo", "a b", "{}", "x;y"], options);
        assert!(!t.runs_through_shell());
        assert_eq!(argv(&t, &["p q"]), ["echo", "a b", "p q", "x;y"]);
        assert_eq!(shown(&t, &["p q"]), "echo 'a b' 'p q' 'x;y'");
        let t = template_with(&["printf", "%s\\n", "pre{}post"], options);
        assert_eq!(shown(&t, &["b c"]), "printf '%s\\n' 'preb cpost'");
    }

    /// Pins GNU parallel's `-X` (`echo preapost prebpost`) and `-m`
    /// (`echo prea bpost`).
    #[test]
    fn context_replace_repeats_the_word() {
        let x = TemplateOptions {
            context_replace: true,
            ..TemplateOptions::for_sources(1)
        };
        let t = template_with(&["echo", "pre{}post"], x);
        assert_eq!(argv(&t, &["a", "b"]), ["echo", "preapost", "prebpost"]);
        assert_eq!(shown(&t, &["a", "c d"]), "echo preapost pre'c d'post");
        let t = template_with(&["echo \"<{}>\" | cat"], x);
        assert_eq!(script(&t, &["a", "b"]), "echo \"<a>\" \"<b>\" | cat");
        let t = template(&["echo", "pre{}post"], 1);
        assert_eq!(shown(&t, &["a", "b"]), "echo prea bpost");
    }

    #[test]
    fn non_utf8_inputs_pass_as_bytes() {
        let t = template(&["echo"], 1);
        let inputs = vec![vec![0xff, 0xfe]];
        let Invocation::Argv(argv) = t.invocation(&values(&inputs)).unwrap() else {
            panic!("ran through the shell")
        };
        assert_eq!(argv[1].as_bytes(), [0xff, 0xfe]);
    }

    #[test]
    fn gnu_command_lines_quote_as_if_outside_quotes() {
        let t = template(&["echo \"{}\""], 1);
        let inputs = job(&["a b"]);
        assert_eq!(t.gnu_command_line(&values(&inputs)), b"echo \"'a b'\"");
        assert_eq!(t.command_line(&values(&inputs)).unwrap(), b"echo \"a b\"");
    }
}
