//! Shell quoting of values, one function per quoting context a value can
//! land in, so that a value is always data and never shell syntax.
//!
//! Outside quotes a value is written the way GNU parallel writes it: bare
//! when it is made of characters no shell interprets, else in single
//! quotes (a `'` becoming `'"'"'`). Inside quotes it is escaped for those
//! quotes, so that `echo "file: {}"` prints `file: a`, not `file: 'a'`.

/// Whether `byte` never needs quoting in a shell word: the characters GNU
/// parallel leaves bare (letters, digits and `_ - . / +`).
pub(crate) fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_-./+".contains(&byte)
}

/// Whether `value` can be written bare: not empty, plain characters only.
pub(crate) fn is_plain_word(value: &[u8]) -> bool {
    !value.is_empty() && value.iter().copied().all(is_plain)
}

/// Appends `value` as one shell word outside any quotes, as GNU parallel
/// writes it: bare when it is plain, else single-quoted with each `'`
/// written as `"'"` between single-quoted runs.
///
/// ```text
/// a      -> a
/// a b    -> 'a b'
/// it's   -> 'it'"'"'s'
/// 'a     -> "'"'a'
/// (none) -> ''
/// ```
pub(crate) fn push_shell_word(out: &mut Vec<u8>, value: &[u8]) {
    if is_plain_word(value) {
        out.extend_from_slice(value);
        return;
    }
    if value.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    // Single quotes around it, each `'` closing them, adding itself in
    // double quotes and opening them again; then no empty `''` at either
    // end.
    let mut quoted = Vec::with_capacity(value.len() + 8);
    quoted.push(b'\'');
    for &byte in value {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\"'\"'");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    let mut text = &quoted[..];
    if let Some(rest) = text.strip_prefix(b"''") {
        text = rest;
    }
    if let Some(rest) = text.strip_suffix(b"''") {
        text = rest;
    }
    out.extend_from_slice(text);
}

/// Appends `value` where a single-quoted string is open: every byte but
/// `'` is literal there, and a `'` closes the quotes, adds an escaped
/// quote and opens them again (`'\''`).
pub(crate) fn push_inside_single_quotes(out: &mut Vec<u8>, value: &[u8]) {
    for &byte in value {
        if byte == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(byte);
        }
    }
}

/// Appends `value` where a double-quoted string is open: `$`, `` ` ``,
/// `"` and `\` get a backslash, everything else (a newline included) is
/// literal there.
pub(crate) fn push_inside_double_quotes(out: &mut Vec<u8>, value: &[u8]) {
    for &byte in value {
        if matches!(byte, b'$' | b'`' | b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

/// Appends `value` where the body of a here-document with an unquoted
/// delimiter goes on: `$`, `` ` `` and `\` get a backslash (a `"` is
/// literal there).
pub(crate) fn push_inside_expanding_here_document(out: &mut Vec<u8>, value: &[u8]) {
    for &byte in value {
        if matches!(byte, b'$' | b'`' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

/// Escapes `text` for one level of backquoted command substitution
/// (`` `...` ``): the shell removes one backslash before `$`, `` ` `` and
/// `\` there before it parses the command.
pub(crate) fn escape_for_backquotes(text: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(text.len() + 8);
    for &byte in text {
        if matches!(byte, b'$' | b'`' | b'\\') {
            escaped.push(b'\\');
        }
        escaped.push(byte);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(value: &[u8]) -> String {
        let mut out = Vec::new();
        push_shell_word(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    /// Pins GNU parallel 20221122's `--dry-run echo {}` output for these
    /// values (observed with `parallel --dry-run echo {} ::: VALUE`).
    #[test]
    fn words_are_written_as_gnu_parallel_writes_them() {
        for (value, gnu) in [
            ("a", "a"),
            ("-n", "-n"),
            ("a+b", "a+b"),
            ("a/b.c", "a/b.c"),
            ("x_y", "x_y"),
            ("a b", "'a b'"),
            ("it's", "'it'\"'\"'s'"),
            ("'", "\"'\""),
            ("'a", "\"'\"'a'"),
            ("a'", "'a'\"'\""),
            ("''", "\"'\"''\"'\""),
            ("$(touch pwned)", "'$(touch pwned)'"),
            ("a=b", "'a=b'"),
            ("a,b", "'a,b'"),
            ("a:b", "'a:b'"),
            ("a@b", "'a@b'"),
            ("a%b", "'a%b'"),
            ("~", "'~'"),
            ("*", "'*'"),
            ("", "''"),
            ("é", "'é'"),
        ] {
            assert_eq!(word(value.as_bytes()), gnu, "{value:?}");
        }
    }

    #[test]
    fn single_quotes_close_escape_and_reopen() {
        let mut out = Vec::new();
        push_inside_single_quotes(&mut out, b"it's");
        assert_eq!(out, b"it'\\''s");
    }

    #[test]
    fn double_quotes_escape_only_what_they_do_not_protect() {
        let mut out = Vec::new();
        push_inside_double_quotes(&mut out, b"a b $x `y` \"z\" \\ 'q'\n");
        assert_eq!(out, b"a b \\$x \\`y\\` \\\"z\\\" \\\\ 'q'\n");
        let mut out = Vec::new();
        push_inside_expanding_here_document(&mut out, b"\"$x\\");
        assert_eq!(out, b"\"\\$x\\\\");
        assert_eq!(escape_for_backquotes(b"'a\\b'$`"), b"'a\\\\b'\\$\\`");
    }
}
