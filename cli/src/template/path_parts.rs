//! The parts of an input that replacement strings such as `{.}`, `{/}` and
//! `{//}` select: the input read as a path.

/// Which part of an input a replacement string stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPart {
    /// The whole input (`{}`).
    Whole,
    /// The input without the extension of its last component (`{.}`).
    WithoutExtension,
    /// The last component, like `basename` (`{/}`).
    Basename,
    /// Everything but the last component, like `dirname` (`{//}`).
    Dirname,
    /// The last component without its extension (`{/.}`).
    BasenameWithoutExtension,
}

impl PathPart {
    /// The part of `input` this stands for.
    pub(crate) fn of(self, input: &[u8]) -> &[u8] {
        match self {
            PathPart::Whole => input,
            PathPart::WithoutExtension => without_extension(input),
            PathPart::Basename => basename(input),
            PathPart::Dirname => dirname(input),
            PathPart::BasenameWithoutExtension => without_extension(basename(input)),
        }
    }
}

fn trim_trailing_slashes(path: &[u8]) -> &[u8] {
    let end = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    &path[..end]
}

/// `dir/file.txt` → `file.txt`; `dir/` → `dir`; `/` → `/`.
fn basename(path: &[u8]) -> &[u8] {
    let trimmed = trim_trailing_slashes(path);
    if trimmed.is_empty() {
        return if path.is_empty() { b"" } else { b"/" };
    }
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(slash) => &trimmed[slash + 1..],
        None => trimmed,
    }
}

/// `dir/file.txt` → `dir`; `file.txt` → `.`; `/file` → `/`.
fn dirname(path: &[u8]) -> &[u8] {
    let trimmed = trim_trailing_slashes(path);
    if trimmed.is_empty() {
        return if path.is_empty() { b"." } else { b"/" };
    }
    match trimmed.iter().rposition(|&b| b == b'/') {
        None => b".",
        Some(slash) => {
            let parent = trim_trailing_slashes(&trimmed[..slash]);
            if parent.is_empty() { b"/" } else { parent }
        }
    }
}

/// `dir/file.tar.gz` → `dir/file.tar`; `dir.d/file` and `.bashrc` stay.
fn without_extension(path: &[u8]) -> &[u8] {
    let component_start = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    match path[component_start..].iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &path[..component_start + dot],
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(p: PathPart, input: &str) -> String {
        String::from_utf8(p.of(input.as_bytes()).to_vec()).unwrap()
    }

    #[test]
    fn extensions() {
        let p = PathPart::WithoutExtension;
        assert_eq!(part(p, "dir/file.txt"), "dir/file");
        assert_eq!(part(p, "a.tar.gz"), "a.tar");
        assert_eq!(part(p, "dir.d/file"), "dir.d/file");
        assert_eq!(part(p, ".bashrc"), ".bashrc");
        assert_eq!(part(p, "plain"), "plain");
    }

    #[test]
    fn basenames_and_dirnames_follow_the_coreutils() {
        for (input, base, dir) in [
            ("dir/sub/file.txt", "file.txt", "dir/sub"),
            ("file", "file", "."),
            ("/file", "file", "/"),
            ("dir/", "dir", "."),
            ("dir//x", "x", "dir"),
            ("/", "/", "/"),
            ("", "", "."),
        ] {
            assert_eq!(part(PathPart::Basename, input), base, "{input:?}");
            assert_eq!(part(PathPart::Dirname, input), dir, "{input:?}");
        }
        assert_eq!(
            part(PathPart::BasenameWithoutExtension, "d.x/f.tar.gz"),
            "f.tar"
        );
        assert_eq!(part(PathPart::Whole, "a/b.c"), "a/b.c");
    }
}
