//! Property test of quoting-context-aware substitution: generated hostile
//! values, in many template shapes, run through the real `/bin/sh -c`.
//! Every value must come back byte-exact (or its job be refused), and no
//! value may ever run a command.

use crate::support::{nuclear, stdout_of_success};

/// Pieces that values are made of: command substitutions, quote
/// breakouts, expansions, globs, here-document delimiters, blanks.
const TOKENS: &[&str] = &[
    "$(touch pwned-a)",
    "`touch pwned-b`",
    "'",
    "\"",
    "\\",
    "'; touch pwned-c; '",
    "\"; touch pwned-d; \"",
    "$HOME",
    "${x:-y}",
    "$((1+1))",
    ";",
    "&",
    "|",
    "*",
    "?",
    "[a]",
    "~",
    "#",
    "!",
    "{}",
    "=",
    " ",
    "\t",
    "\n",
    "\nEOF\ntouch pwned-e\n",
    "EOF",
    ")",
    "}",
    "$'",
    "a",
    "-n",
    "é",
    "\u{1}",
    "%s",
    "\\n",
];

/// A template and what it prints for a value.
struct Shape {
    template: &'static str,
    expected: fn(&str) -> String,
}

fn same(value: &str) -> String {
    value.to_string()
}

/// What a command substitution gives: trailing newlines removed.
fn substituted(value: &str) -> String {
    value.trim_end_matches('\n').to_string()
}

const SHAPES: &[Shape] = &[
    Shape {
        template: "printf '%s' {}",
        expected: same,
    },
    Shape {
        template: "printf '%s' \"{}\"",
        expected: same,
    },
    Shape {
        template: "printf '%s' '{}'",
        expected: same,
    },
    Shape {
        template: "printf '%s' x{}y",
        expected: |v| format!("x{v}y"),
    },
    Shape {
        template: "printf '%s' \"<{}>\"'<{}>'",
        expected: |v| format!("<{v}><{v}>"),
    },
    Shape {
        template: "printf '%s' \"it's {}\" 'say \"{}\"'",
        expected: |v| format!("it's {v}say \"{v}\""),
    },
    Shape {
        template: "printf '%s' \"$(printf '%s' {})\"",
        expected: substituted,
    },
    Shape {
        template: "printf '%s' \"$(printf '%s' \"{}\")\"",
        expected: substituted,
    },
    Shape {
        template: "printf '%s' \"`printf '%s' {}`\"",
        expected: substituted,
    },
    Shape {
        template: "v={}; printf '%s' \"$v\"",
        expected: same,
    },
    Shape {
        template: "cat <<EOF\n{}\nEOF",
        expected: |v| format!("{v}\n"),
    },
    Shape {
        template: "cat <<'EOF'\n{}\nEOF",
        expected: |v| format!("{v}\n"),
    },
    Shape {
        template: "printf '%s' ok # {}",
        expected: |_| "ok".to_string(),
    },
    Shape {
        template: "printf '%s' \"$((1 + {}))\"",
        expected: |v| (v.parse::<i64>().unwrap_or(0) + 1).to_string(),
    },
    Shape {
        template: "printf '%s' \"${unset_variable:-{}}\"",
        expected: same,
    },
];

/// `count` values made of 1 to 6 tokens, from a fixed seed.
fn hostile_values(count: usize) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(0x5eed_da7a);
    let mut values: Vec<String> = TOKENS.iter().map(|t| t.to_string()).collect();
    while values.len() < count {
        let len = rng.usize(1..=6);
        let value: String = (0..len)
            .map(|_| TOKENS[rng.usize(..TOKENS.len())])
            .collect();
        values.push(value);
    }
    values.push("41".into());
    values.push("-7".into());
    values
}

fn assert_nothing_ran(dir: &std::path::Path, template: &str) {
    let pwned: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with("pwned"))
        .collect();
    assert!(
        pwned.is_empty(),
        "a value ran as a command in {template:?}: {pwned:?}"
    );
}

#[test]
fn hostile_values_come_back_byte_exact_in_every_quoting_context() {
    let values = hostile_values(150);
    let input: Vec<u8> = values.iter().flat_map(|v| v.bytes().chain([0])).collect();
    for shape in SHAPES {
        let dir = tempfile::tempdir().unwrap();
        let run = nuclear(dir.path())
            .args(["-0", "-k", "--results", "out.jsonl", shape.template])
            .write_stdin(input.clone())
            .assert()
            .get_output()
            .clone();
        assert_nothing_ran(dir.path(), shape.template);
        let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        let mut records: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        records.sort_by_key(|r| r["seq"].as_u64());
        assert_eq!(records.len(), values.len(), "{}", shape.template);
        let mut ran = 0;
        for (record, value) in records.iter().zip(&values) {
            assert_eq!(record["input"][0], value.as_str());
            let stderr = record["stderr"].as_str().unwrap();
            if record["exit_code"] == 126 && stderr.contains("refused to run it") {
                continue;
            }
            ran += 1;
            assert_eq!(
                record["stdout"].as_str().unwrap(),
                (shape.expected)(value),
                "template {:?}, value {value:?}, command {}, stderr {stderr}",
                shape.template,
                record["command"],
            );
        }
        assert!(ran > 0, "every job of {:?} was refused", shape.template);
        assert!(run.status.code().is_some(), "{run:?}");
    }
}

/// The cases: `'echo "{}"'` with `$(touch pwned)` must print it,
/// and `'echo "file: {}"' ::: a` prints `file: a` (GNU parallel 20221122
/// prints the same for a plain value).
#[test]
fn the_reported_injections_print_their_values() {
    let dir = tempfile::tempdir().unwrap();
    for template in ["echo \"{}\"", "echo '{}'", "echo \"x{}x\""] {
        let out = stdout_of_success(nuclear(dir.path()).args([
            template,
            ":::",
            "$(touch pwned)",
            "`touch pwned`",
            "'; touch pwned; '",
            "\"; touch pwned; \"",
        ]));
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 4);
        assert_nothing_ran(dir.path(), template);
    }
    nuclear(dir.path())
        .args(["echo \"file: {}\"", ":::", "a"])
        .assert()
        .success()
        .stdout("file: a\n");
}

/// Where the shell would read a value differently from what any quoting
/// can foresee, the template is refused before anything runs.
#[test]
fn templates_where_no_quoting_is_safe_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for template in [
        "printf '%s' \"`printf '%s' \\\"{}\\\"`\"",
        "echo \\{}",
        "echo ${}",
        "cat <<{}\nx\n",
    ] {
        nuclear(dir.path())
            .args([template, ":::", "$(touch pwned)"])
            .assert()
            .code(255)
            .stdout("")
            .stderr(predicates::str::contains("replacement string sits"));
        assert_nothing_ran(dir.path(), template);
    }
}
