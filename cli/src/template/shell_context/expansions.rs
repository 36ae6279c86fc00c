//! How the lexer reads text outside quotes (also inside `$(...)` and
//! `` `...` ``), inside double quotes, in `${...}` and in `$((...))`, and
//! what a `$` opens.

use super::{Frame, Item, Lexer, PlacementError, QuoteContext};

impl Lexer<'_> {
    /// `$` followed by `((`, `(`, `{` (and `'` where `ansi_c`): pushes the
    /// frame it opens and returns true; also consumes a special parameter
    /// such as `$$`.
    pub(super) fn dollar(&mut self, ansi_c: bool) -> Result<bool, PlacementError> {
        if self.is_value_at(1) {
            return Err(PlacementError::AfterDollar);
        }
        // A special parameter such as `$$` or `$#` is two characters.
        if self
            .byte_at(1)
            .is_some_and(|b| b"$?#!-@*".contains(&b) || b.is_ascii_digit())
        {
            self.advance(2);
            return Ok(true);
        }
        let (frame, len) = match (self.byte_at(1), self.byte_at(2)) {
            (Some(b'('), Some(b'(')) => (Frame::Arithmetic(0), 3),
            (Some(b'('), _) => (Frame::CommandSubstitution(0), 2),
            (Some(b'{'), _) => {
                let quotes_work = self.top() != &Frame::DoubleQuoted;
                (Frame::Parameter { quotes_work }, 2)
            }
            (Some(b'\''), _) if ansi_c => (Frame::AnsiC, 2),
            _ => return Ok(false),
        };
        self.stack.push(frame);
        self.advance(len);
        self.word_start = true;
        Ok(true)
    }

    /// One step outside quotes (also inside `$(...)` and `` `...` ``):
    /// quotes, substitutions, comments and here-document operators open
    /// here.
    pub(super) fn step_unquoted(&mut self) -> Result<(), PlacementError> {
        let byte = match self.items[self.position] {
            Item::Value => return self.place(QuoteContext::Unquoted),
            Item::Byte(b) => b,
        };
        let word_start = self.word_start;
        self.word_start = false;
        match byte {
            b'\\' => {
                if self.is_value_at(1) {
                    return Err(PlacementError::AfterBackslash);
                }
                self.advance(2);
            }
            b'\'' => {
                self.stack.push(Frame::SingleQuoted);
                self.advance(1);
            }
            b'"' => {
                self.stack.push(Frame::DoubleQuoted);
                self.advance(1);
            }
            b'`' => {
                if matches!(self.top(), Frame::Backquotes(_)) {
                    self.stack.pop();
                } else {
                    self.stack.push(Frame::Backquotes(false));
                }
                self.advance(1);
            }
            b'$' => {
                if !self.dollar(true)? {
                    self.advance(1);
                }
            }
            b'#' if word_start => {
                self.stack.push(Frame::Comment);
                self.advance(1);
            }
            b'(' => {
                if let Some(Frame::CommandSubstitution(depth)) = self.stack.last_mut() {
                    *depth += 1;
                }
                self.advance(1);
                self.word_start = true;
            }
            b')' => {
                match self.stack.last_mut() {
                    Some(Frame::CommandSubstitution(0)) => {
                        self.stack.pop();
                    }
                    Some(Frame::CommandSubstitution(depth)) => *depth -= 1,
                    _ => {}
                }
                self.advance(1);
                self.word_start = true;
            }
            b'<' if self.byte_at(1) == Some(b'<') => {
                if self.byte_at(2) == Some(b'<') {
                    // A here-string: an ordinary word follows.
                    self.advance(3);
                } else {
                    self.advance(2);
                    self.read_here_document_operator()?;
                }
                self.word_start = true;
            }
            b'\n' => {
                self.advance(1);
                self.word_start = true;
                self.start_pending_here_document();
            }
            b' ' | b'\t' | b';' | b'&' | b'|' | b'<' | b'>' => {
                self.advance(1);
                self.word_start = true;
            }
            _ => self.advance(1),
        }
        Ok(())
    }

    /// One step inside `"..."`.
    pub(super) fn step_double_quoted(&mut self) -> Result<(), PlacementError> {
        match self.items[self.position] {
            Item::Value => self.place(QuoteContext::DoubleQuoted)?,
            Item::Byte(b'\\') => {
                if self.is_value_at(1) {
                    return Err(PlacementError::AfterBackslash);
                }
                self.advance(2);
            }
            Item::Byte(b'"') => {
                self.stack.pop();
                self.advance(1);
            }
            Item::Byte(b'`') => {
                self.stack.push(Frame::Backquotes(false));
                self.advance(1);
            }
            Item::Byte(b'$') => {
                if !self.dollar(false)? {
                    self.advance(1);
                }
            }
            Item::Byte(_) => self.advance(1),
        }
        Ok(())
    }

    /// One step inside `${...}`; quotes work there unless it is itself
    /// inside double quotes (`quotes_work`).
    pub(super) fn step_parameter(&mut self, quotes_work: bool) -> Result<(), PlacementError> {
        match self.items[self.position] {
            Item::Value => self.place(QuoteContext::Parameter)?,
            Item::Byte(b'\\') => {
                if self.is_value_at(1) {
                    return Err(PlacementError::AfterBackslash);
                }
                self.advance(2);
            }
            Item::Byte(b'}') => {
                self.stack.pop();
                self.advance(1);
            }
            Item::Byte(b'\'') if quotes_work => {
                self.stack.push(Frame::SingleQuoted);
                self.advance(1);
            }
            Item::Byte(b'"') => {
                self.stack.push(Frame::DoubleQuoted);
                self.advance(1);
            }
            Item::Byte(b'`') => {
                self.stack.push(Frame::Backquotes(false));
                self.advance(1);
            }
            Item::Byte(b'$') => {
                if !self.dollar(false)? {
                    self.advance(1);
                }
            }
            Item::Byte(_) => self.advance(1),
        }
        Ok(())
    }

    /// One step inside `$((...))`, `depth` parentheses deep.
    pub(super) fn step_arithmetic(&mut self, depth: usize) -> Result<(), PlacementError> {
        match self.items[self.position] {
            Item::Value => self.place(QuoteContext::Arithmetic)?,
            Item::Byte(b'(') => {
                self.stack.pop();
                self.stack.push(Frame::Arithmetic(depth + 1));
                self.advance(1);
            }
            Item::Byte(b')') if depth == 0 && self.byte_at(1) == Some(b')') => {
                self.stack.pop();
                self.advance(2);
            }
            Item::Byte(b')') => {
                self.stack.pop();
                self.stack.push(Frame::Arithmetic(depth.saturating_sub(1)));
                self.advance(1);
            }
            Item::Byte(b'$') => {
                if !self.dollar(false)? {
                    self.advance(1);
                }
            }
            Item::Byte(b'`') => {
                self.stack.push(Frame::Backquotes(false));
                self.advance(1);
            }
            Item::Byte(_) => self.advance(1),
        }
        Ok(())
    }
}
