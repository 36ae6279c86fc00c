//! Shell quoting of values, so that a value is always one word.

/// Appends `value` to `out` in single quotes, as one shell word whatever
/// it holds (a `'` becomes `'\''`).
pub fn push_single_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.reserve(value.len() + 2);
    out.push(b'\'');
    for &byte in value {
        if byte == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(byte);
        }
    }
    out.push(b'\'');
}

/// Whether `byte` never needs quoting in a shell word.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_-./,:@%+=".contains(&byte)
}

/// Appends `value` to `out` as it would be typed in a shell: unquoted when
/// it is made of plain characters only, else single-quoted. Used to show an
/// argument vector as a command line.
pub fn push_display_word(out: &mut Vec<u8>, value: &[u8]) {
    if !value.is_empty() && value.iter().copied().all(is_plain) {
        out.extend_from_slice(value);
    } else {
        push_single_quoted(out, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_single_quoted(&mut out, value);
        out
    }

    #[test]
    fn single_quotes_survive_quoting() {
        assert_eq!(quoted(b"a; rm -rf ~"), b"'a; rm -rf ~'");
        assert_eq!(quoted(b"it's"), b"'it'\\''s'");
        assert_eq!(quoted(b""), b"''");
    }

    #[test]
    fn display_quotes_only_when_needed() {
        let mut out = Vec::new();
        push_display_word(&mut out, b"file-1.txt");
        out.push(b' ');
        push_display_word(&mut out, b"two words");
        out.push(b' ');
        push_display_word(&mut out, b"");
        assert_eq!(out, b"file-1.txt 'two words' ''");
    }
}
