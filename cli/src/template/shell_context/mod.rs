//! Finds the shell quoting context each replacement string of a template
//! lands in (outside quotes, in double or single quotes, in a
//! here-document, in `$((...))`, in a comment...), so that its value can be
//! quoted for exactly that context.
//!
//! This is a small lexer of POSIX shell syntax, not a parser: it follows
//! quotes, `$(...)`, `` `...` ``, `${...}`, `$((...))`, `$'...'`,
//! comments and here-documents, which is what decides how the characters
//! of a value are read. Where a value could not be quoted safely whatever
//! it holds (right after a `\` or a `$`, or in a here-document's
//! delimiter) the template is refused.
//!
//! This file holds the contexts, the lexer's state and the step that
//! dispatches on where it is; [`expansions`] reads text outside quotes, in
//! double quotes, in `${...}` and `$((...))` (and what a `$` opens);
//! [`here_document`] reads here-documents.

mod expansions;
mod here_document;

use std::collections::VecDeque;

/// The quoting context a value lands in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteContext {
    /// Outside quotes (also inside `$(...)` and `` `...` ``).
    Unquoted,
    /// Inside `"..."`.
    DoubleQuoted,
    /// Inside `'...'`.
    SingleQuoted,
    /// Inside `$'...'`.
    AnsiC,
    /// Inside a `#` comment.
    Comment,
    /// Inside `$((...))`: only integers are accepted.
    Arithmetic,
    /// Inside `${...}`: only plain values are accepted.
    Parameter,
    /// In the body of a here-document.
    HereDocument(HereDocument),
}

/// A here-document: how its body ends and whether it is expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HereDocument {
    /// The line that ends it.
    pub delimiter: Vec<u8>,
    /// `<<-`: leading tabs are stripped before lines are compared.
    pub strip_tabs: bool,
    /// Whether `$`, `` ` `` and `\` are special in its body (the delimiter
    /// was not quoted).
    pub expanding: bool,
}

/// Where one value lands: its context, and inside how many levels of
/// backquoted command substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The innermost quoting context.
    pub context: QuoteContext,
    /// How many `` `...` `` enclose it (each adds a level of backslash
    /// processing).
    pub backquotes: usize,
}

/// One item of a template, for the lexer: a byte of literal text, or a
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A byte of the template's text.
    Byte(u8),
    /// A replacement string.
    Value,
}

/// Why a template cannot take values safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// A replacement string right after a `\` (the backslash would apply
    /// to the value's first character).
    #[error("right after a backslash, which would apply to the value's first character")]
    AfterBackslash,
    /// A replacement string right after a `$` (it would make the value a
    /// variable name).
    #[error("right after a $, which would make the value a variable name")]
    AfterDollar,
    /// A replacement string in backquotes after a backslash in them (the
    /// shell takes some backslashes out before it reads the command).
    #[error(
        "inside `...` after a backslash, where the shell reads it differently; use $(...) instead"
    )]
    AfterBackslashInBackquotes,
    /// A replacement string in a here-document's delimiter.
    #[error("in a here-document's delimiter")]
    InHereDocumentDelimiter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    /// Outside quotes: the template's top level.
    Top,
    /// Inside `$(...)`, with the depth of unmatched `(` in it.
    CommandSubstitution(usize),
    /// Inside `` `...` ``; true once a backslash was seen in it (the shell
    /// removes some backslashes there before it reads the command, so what
    /// follows may be read differently).
    Backquotes(bool),
    DoubleQuoted,
    SingleQuoted,
    AnsiC,
    Comment,
    /// Inside `${...}`; `quotes_work` when it is not inside double quotes.
    Parameter {
        quotes_work: bool,
    },
    /// Inside `$((...))`, with the depth of unmatched `(` in it.
    Arithmetic(usize),
    /// The body of a here-document (the whole stack above it belongs to
    /// it).
    HereDocument(HereDocument),
}

/// The lexer's state.
struct Lexer<'a> {
    items: &'a [Item],
    position: usize,
    stack: Vec<Frame>,
    word_start: bool,
    pending_here_documents: VecDeque<HereDocument>,
    /// The raw line of the here-document body being read (from the frame
    /// at `here_document_frame`), and whether a value is in it.
    here_document_line: Vec<u8>,
    here_document_line_has_value: bool,
    here_document_frame: Option<usize>,
    placements: Vec<Placement>,
}

/// The placement of every value of `items`, in order.
pub(crate) fn placements(items: &[Item]) -> Result<Vec<Placement>, PlacementError> {
    let mut lexer = Lexer {
        items,
        position: 0,
        stack: vec![Frame::Top],
        word_start: true,
        pending_here_documents: VecDeque::new(),
        here_document_line: Vec::new(),
        here_document_line_has_value: false,
        here_document_frame: None,
        placements: Vec::new(),
    };
    while lexer.position < items.len() {
        lexer.step()?;
    }
    Ok(lexer.placements)
}

impl Lexer<'_> {
    fn top(&self) -> &Frame {
        // The stack always holds `Top`; a frame is popped only above it.
        self.stack.last().unwrap_or(&Frame::Top)
    }

    fn byte_at(&self, offset: usize) -> Option<u8> {
        match self.items.get(self.position + offset) {
            Some(Item::Byte(b)) => Some(*b),
            _ => None,
        }
    }

    fn is_value_at(&self, offset: usize) -> bool {
        matches!(self.items.get(self.position + offset), Some(Item::Value))
    }

    fn backquote_levels(&self) -> usize {
        self.stack
            .iter()
            .filter(|f| matches!(f, Frame::Backquotes(_)))
            .count()
    }

    /// Consumes `count` items (bytes), keeping the here-document's line and
    /// noting backslashes inside backquotes.
    fn advance(&mut self, count: usize) {
        for _ in 0..count {
            if let Some(Item::Byte(b)) = self.items.get(self.position) {
                if self.here_document_frame.is_some() && *b != b'\n' {
                    self.here_document_line.push(*b);
                }
                if *b == b'\\'
                    && let Some(Frame::Backquotes(escaped)) = self
                        .stack
                        .iter_mut()
                        .rev()
                        .find(|f| matches!(f, Frame::Backquotes(_)))
                {
                    *escaped = true;
                }
            }
            self.position += 1;
        }
    }

    fn place(&mut self, context: QuoteContext) -> Result<(), PlacementError> {
        if self.stack.contains(&Frame::Backquotes(true)) {
            return Err(PlacementError::AfterBackslashInBackquotes);
        }
        self.placements.push(Placement {
            context,
            backquotes: self.backquote_levels(),
        });
        if self.here_document_frame.is_some() {
            self.here_document_line_has_value = true;
        }
        self.position += 1;
        self.word_start = false;
        Ok(())
    }

    fn step(&mut self) -> Result<(), PlacementError> {
        // A newline ends a here-document line wherever the lexer is in it.
        if self.here_document_frame.is_some() && self.byte_at(0) == Some(b'\n') {
            self.end_here_document_line();
            return Ok(());
        }
        match self.top().clone() {
            Frame::Top | Frame::CommandSubstitution(_) | Frame::Backquotes(_) => {
                self.step_unquoted()
            }
            Frame::DoubleQuoted => self.step_double_quoted(),
            Frame::SingleQuoted => {
                match self.items[self.position] {
                    Item::Value => self.place(QuoteContext::SingleQuoted)?,
                    Item::Byte(b'\'') => {
                        self.stack.pop();
                        self.advance(1);
                    }
                    Item::Byte(_) => self.advance(1),
                }
                Ok(())
            }
            Frame::AnsiC => {
                match self.items[self.position] {
                    Item::Value => self.place(QuoteContext::AnsiC)?,
                    Item::Byte(b'\\') => {
                        if self.is_value_at(1) {
                            return Err(PlacementError::AfterBackslash);
                        }
                        self.advance(2);
                    }
                    Item::Byte(b'\'') => {
                        self.stack.pop();
                        self.advance(1);
                    }
                    Item::Byte(_) => self.advance(1),
                }
                Ok(())
            }
            Frame::Comment => {
                match self.items[self.position] {
                    Item::Value => self.place(QuoteContext::Comment)?,
                    Item::Byte(b'\n') => {
                        // The newline itself belongs to the frame below.
                        self.stack.pop();
                    }
                    Item::Byte(_) => self.advance(1),
                }
                Ok(())
            }
            Frame::Parameter { quotes_work } => self.step_parameter(quotes_work),
            Frame::Arithmetic(depth) => self.step_arithmetic(depth),
            Frame::HereDocument(document) => self.step_here_document(&document),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items of `text`, where `{}` marks a value.
    fn items(text: &str) -> Vec<Item> {
        let mut items = Vec::new();
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(b"{}") {
                items.push(Item::Value);
                rest = after;
            } else {
                items.push(Item::Byte(rest[0]));
                rest = &rest[1..];
            }
        }
        items
    }

    fn contexts(text: &str) -> Vec<QuoteContext> {
        placements(&items(text))
            .unwrap()
            .into_iter()
            .map(|p| p.context)
            .collect()
    }

    #[test]
    fn quotes_decide_the_context() {
        use QuoteContext::*;
        assert_eq!(
            contexts(r#"echo {} "a {}" 'b {}' $'c {}' d"{}"e"#),
            [Unquoted, DoubleQuoted, SingleQuoted, AnsiC, DoubleQuoted]
        );
        assert_eq!(
            contexts(r#"echo "it's {}" 'say "{}"' "\"{}""#),
            [DoubleQuoted, SingleQuoted, DoubleQuoted]
        );
        assert_eq!(
            contexts(r#"echo "$(echo "{}" {})" '{}'"#),
            [DoubleQuoted, Unquoted, SingleQuoted]
        );
    }

    #[test]
    fn substitutions_comments_and_arithmetic() {
        use QuoteContext::*;
        assert_eq!(
            contexts("echo $((1 + {})) ${x:-{}} a#{} # {}\necho {}"),
            [Arithmetic, Parameter, Unquoted, Comment, Unquoted]
        );
        let placed = placements(&items("echo `echo {}` \"`echo '{}'`\"")).unwrap();
        assert_eq!(placed[0].backquotes, 1);
        assert_eq!(placed[1].context, SingleQuoted);
        assert_eq!(placed[1].backquotes, 1);
        assert_eq!(
            contexts("echo $(case x in (a) echo {};; esac) {}"),
            [Unquoted, Unquoted]
        );
    }

    #[test]
    fn here_documents() {
        let placed = contexts("cat <<EOF; echo {}\nline {}\nEOF\necho {}");
        assert_eq!(placed[0], QuoteContext::Unquoted);
        let QuoteContext::HereDocument(document) = &placed[1] else {
            panic!("{placed:?}")
        };
        assert_eq!(document.delimiter, b"EOF");
        assert!(document.expanding && !document.strip_tabs);
        assert_eq!(placed[2], QuoteContext::Unquoted);
        let placed = contexts("cat <<-'END' <<\"X\"\n\t{}\n\tEND\n{}\nX\n'{}'");
        let QuoteContext::HereDocument(first) = &placed[0] else {
            panic!("{placed:?}")
        };
        assert!(first.strip_tabs && !first.expanding);
        let QuoteContext::HereDocument(second) = &placed[1] else {
            panic!("{placed:?}")
        };
        assert_eq!(second.delimiter, b"X");
        assert_eq!(placed[2], QuoteContext::SingleQuoted);
        assert_eq!(
            contexts("cat <<<{}; echo '{}'"),
            [QuoteContext::Unquoted, QuoteContext::SingleQuoted]
        );
    }

    #[test]
    fn values_that_cannot_be_quoted_safely_are_refused() {
        for (text, error) in [
            (r"echo \{}", PlacementError::AfterBackslash),
            (r#"echo "\{}""#, PlacementError::AfterBackslash),
            (r"echo $'\{}'", PlacementError::AfterBackslash),
            ("echo ${}", PlacementError::AfterDollar),
            ("echo \"${}\"", PlacementError::AfterDollar),
            ("cat <<{}\nx\n", PlacementError::InHereDocumentDelimiter),
            ("cat <<'a{}'\nx\n", PlacementError::InHereDocumentDelimiter),
            (
                "echo \"`echo \\\"{}\\\"`\"",
                PlacementError::AfterBackslashInBackquotes,
            ),
            (
                "echo `echo \\`echo {}\\``",
                PlacementError::AfterBackslashInBackquotes,
            ),
        ] {
            assert_eq!(placements(&items(text)), Err(error), "{text}");
        }
        assert!(placements(&items(r"echo \\{}")).is_ok());
        assert!(placements(&items(r"echo `echo \$x` {}")).is_ok());
        assert!(placements(&items("echo $${} $#{}")).is_ok());
        assert!(placements(&items("echo '\\{}' '${}'")).is_ok());
    }
}
