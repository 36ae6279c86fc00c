//! How the lexer reads here-documents: the `<<` operator and its
//! delimiter, the body that starts after the next newline, and the line
//! that ends it.

use super::{Frame, HereDocument, Item, Lexer, PlacementError, QuoteContext};

impl Lexer<'_> {
    /// One step in a here-document's body: a value lands in it; in an
    /// expanding one, `\`, `` ` `` and `$` are read as in double quotes.
    pub(super) fn step_here_document(
        &mut self,
        document: &HereDocument,
    ) -> Result<(), PlacementError> {
        let byte = match self.items[self.position] {
            Item::Value => return self.place(QuoteContext::HereDocument(document.clone())),
            Item::Byte(b) => b,
        };
        if !document.expanding {
            self.advance(1);
            return Ok(());
        }
        match byte {
            b'\\' => {
                if self.is_value_at(1) {
                    return Err(PlacementError::AfterBackslash);
                }
                // A backslash-newline joins lines; the newline is handled
                // as the end of a line all the same, which only makes the
                // delimiter check stricter.
                if self.byte_at(1) == Some(b'\n') {
                    self.advance(1);
                } else {
                    self.advance(2);
                }
            }
            b'`' => {
                self.stack.push(Frame::Backquotes(false));
                self.advance(1);
            }
            b'$' => {
                if !self.dollar(false)? {
                    self.advance(1);
                }
            }
            _ => self.advance(1),
        }
        Ok(())
    }

    /// Reads the delimiter after `<<` (or `<<-`) and queues the
    /// here-document, whose body starts after the next newline.
    pub(super) fn read_here_document_operator(&mut self) -> Result<(), PlacementError> {
        let strip_tabs = self.byte_at(0) == Some(b'-');
        if strip_tabs {
            self.advance(1);
        }
        while matches!(self.byte_at(0), Some(b' ' | b'\t')) {
            self.advance(1);
        }
        let mut delimiter = Vec::new();
        let mut quoted = false;
        loop {
            match self.items.get(self.position) {
                None => break,
                Some(Item::Value) => return Err(PlacementError::InHereDocumentDelimiter),
                Some(Item::Byte(b)) => match *b {
                    b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
                    b'\\' => {
                        quoted = true;
                        if self.is_value_at(1) {
                            return Err(PlacementError::InHereDocumentDelimiter);
                        }
                        if let Some(next) = self.byte_at(1) {
                            delimiter.push(next);
                        }
                        self.advance(2);
                    }
                    quote @ (b'\'' | b'"') => {
                        quoted = true;
                        self.advance(1);
                        loop {
                            match self.items.get(self.position) {
                                None => break,
                                Some(Item::Value) => {
                                    return Err(PlacementError::InHereDocumentDelimiter);
                                }
                                Some(Item::Byte(b)) if *b == quote => {
                                    self.advance(1);
                                    break;
                                }
                                Some(Item::Byte(b)) => {
                                    delimiter.push(*b);
                                    self.advance(1);
                                }
                            }
                        }
                    }
                    other => {
                        delimiter.push(other);
                        self.advance(1);
                    }
                },
            }
        }
        if !delimiter.is_empty() {
            self.pending_here_documents.push_back(HereDocument {
                delimiter,
                strip_tabs,
                expanding: !quoted,
            });
        }
        Ok(())
    }

    /// After a newline: the body of the next queued here-document starts,
    /// unless one is being read.
    pub(super) fn start_pending_here_document(&mut self) {
        if self.here_document_frame.is_some() {
            return;
        }
        if let Some(document) = self.pending_here_documents.pop_front() {
            self.here_document_frame = Some(self.stack.len());
            self.stack.push(Frame::HereDocument(document));
            self.here_document_line.clear();
            self.here_document_line_has_value = false;
        }
    }

    /// At a newline inside a here-document body: ends the document when
    /// the line is its delimiter.
    pub(super) fn end_here_document_line(&mut self) {
        self.position += 1;
        let Some(frame) = self.here_document_frame else {
            return;
        };
        let Some(Frame::HereDocument(document)) = self.stack.get(frame) else {
            return;
        };
        let mut line = &self.here_document_line[..];
        if document.strip_tabs {
            while let Some(rest) = line.strip_prefix(b"\t") {
                line = rest;
            }
        }
        let ends = !self.here_document_line_has_value && line == document.delimiter.as_slice();
        self.here_document_line.clear();
        self.here_document_line_has_value = false;
        if ends {
            self.stack.truncate(frame);
            self.here_document_frame = None;
            self.word_start = true;
            self.start_pending_here_document();
        }
    }
}
