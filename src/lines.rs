//! Cutting a byte stream into chunks of whole lines, in time linear in the
//! bytes (each byte is looked at once), with a bound on a line's length.

/// A line is passed on in pieces once it grows past this many bytes.
pub(crate) const MAX_LINE_LEN: usize = 1 << 20;

/// Holds the unfinished last line of a stream.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Takes in `data` and hands every chunk of whole lines it completes to
    /// `emit` (several lines at once when they came together). An
    /// unfinished line longer than [`MAX_LINE_LEN`] is handed on as it is.
    pub(crate) fn push(&mut self, data: &[u8], mut emit: impl FnMut(Vec<u8>)) {
        match data.iter().rposition(|&b| b == b'\n') {
            Some(last_newline) => {
                let mut chunk = std::mem::take(&mut self.pending);
                chunk.extend_from_slice(&data[..=last_newline]);
                emit(chunk);
                self.pending.extend_from_slice(&data[last_newline + 1..]);
            }
            None => self.pending.extend_from_slice(data),
        }
        if self.pending.len() >= MAX_LINE_LEN {
            emit(std::mem::take(&mut self.pending));
        }
    }

    /// Hands on an unfinished last line as it is.
    pub(crate) fn flush(&mut self, mut emit: impl FnMut(Vec<u8>)) {
        if !self.pending.is_empty() {
            emit(std::mem::take(&mut self.pending));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_come_out_whatever_the_pieces() {
        let mut buffer = LineBuffer::default();
        let mut out = Vec::new();
        for piece in [&b"ab"[..], b"c\nde", b"f\ng\nh", b""] {
            buffer.push(piece, |chunk| out.push(chunk));
        }
        assert_eq!(out, vec![b"abc\n".to_vec(), b"def\ng\n".to_vec()]);
        buffer.flush(|chunk| out.push(chunk));
        assert_eq!(out.last().unwrap(), b"h");
    }

    #[test]
    fn an_overlong_line_is_cut_into_bounded_pieces() {
        let mut buffer = LineBuffer::default();
        let mut sizes = Vec::new();
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..40 {
            buffer.push(&block, |chunk| sizes.push(chunk.len()));
        }
        assert!(!sizes.is_empty());
        assert!(sizes.iter().all(|&n| n <= MAX_LINE_LEN + block.len()));
    }
}
