//! The command template: the command words with their replacement strings,
//! and how one job's command is made from it.
//!
//! A template without shell syntax runs directly (an argument vector, no
//! shell); each substituted value is then an argument of its own, which is
//! what shell quoting would give. A template with shell syntax runs through
//! `/bin/sh -c`, each value quoted for the quoting context it lands in
//! ([`shell_context`]): bare when it holds nothing a shell
//! interprets, else single-quoted outside quotes, escaped inside double
//! quotes, closed-escaped-reopened inside single quotes. Either way an
//! input is data, never a command; where no quoting could make it so (text
//! in `$((...))` or `${...}`, a here-document line equal to its delimiter)
//! the job is refused.
//!
//! [`parse`] reads the template (its replacement strings and their quoting
//! contexts, found by [`shell_context`]); [`render`] makes one job's
//! command from it, quoting each value with [`quoting`] and cutting paths
//! with [`path_parts`].

mod parse;
mod path_parts;
mod quoting;
mod render;
mod shell_context;

use std::ffi::OsString;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;

use crate::error::CliError;
use parse::{
    Piece, all_inputs, check_sources, context_word_indices, needs_shell, place_values,
    refuse_perl_expressions, split_context_words, split_pieces, split_words, uses_slot,
};
use render::{Quoting, quoted_words};

pub use render::RefusedValue;

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
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

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
