//! Replacement strings, and the quoting that keeps inputs from becoming
//! commands.

use predicates::prelude::*;

use crate::support::{lines, nuclear, sorted_lines, stdout_of_success};

#[test]
fn path_replacement_strings() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args([
            "echo",
            "{}",
            "{.}",
            "{/}",
            "{//}",
            "{/.}",
            ":::",
            "dir/sub/file.tar.gz",
        ])
        .assert()
        .success()
        .stdout("dir/sub/file.tar.gz dir/sub/file.tar file.tar.gz dir/sub file.tar\n");
}

#[test]
fn job_numbers_follow_input_order_and_slots_stay_within_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-j", "2", "-k", "echo", "{#}", "{%}", "{}", ":::", "a", "b", "c", "d", "e",
    ]));
    let lines = lines(&out);
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[0], (i + 1).to_string(), "{line}");
        assert!(fields[1] == "1" || fields[1] == "2", "slot in {line}");
        assert_eq!(fields[2], ["a", "b", "c", "d", "e"][i]);
    }
}

#[test]
fn numbered_replacement_strings_pick_input_sources() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["echo", "{2}", "{1/.}", ":::", "a/b.txt", ":::", "second"])
        .assert()
        .success()
        .stdout("second b\n");
}

#[test]
fn without_replacement_strings_every_input_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["echo", "x", ":::", "1", ":::", "2"])
        .assert()
        .success()
        .stdout("x 1 2\n");
}

#[test]
fn a_replacement_string_of_a_missing_source_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["echo", "{2}", ":::", "a"])
        .assert()
        .code(255)
        .stderr(predicate::str::contains("{2}").and(predicate::str::contains("input source 2")));
}

/// Inputs that a shell would take as commands, globs, variables or several
/// words.
const HOSTILE: &[&str] = &[
    "a; touch pwned1",
    "$(touch pwned2)",
    "`touch pwned3`",
    "it's",
    "\"quoted\"",
    "*",
    "  spaced  out  ",
    "--help",
    "a && touch pwned4 || touch pwned5",
    "$HOME",
    "~",
    "-n",
];

fn assert_nothing_was_run(dir: &std::path::Path) {
    let pwned: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with("pwned"))
        .collect();
    assert!(pwned.is_empty(), "an input ran as a command: {pwned:?}");
}

#[test]
fn hostile_inputs_are_single_arguments_when_run_directly() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["-k", "echo", "from:", "{}", ":to"])
            .write_stdin(HOSTILE.join("\n")),
    );
    let expected: Vec<String> = HOSTILE.iter().map(|h| format!("from: {h} :to")).collect();
    assert_eq!(lines(&out), expected);
    assert_nothing_was_run(dir.path());
}

#[test]
fn hostile_inputs_are_single_arguments_in_shell_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["-k", "printf '<%s>\\n' {} | cat"])
            .write_stdin(HOSTILE.join("\n")),
    );
    let expected: Vec<String> = HOSTILE.iter().map(|h| format!("<{h}>")).collect();
    assert_eq!(lines(&out), expected);
    assert_nothing_was_run(dir.path());
}

#[test]
fn hostile_arguments_after_separators_are_quoted_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["echo", "{}", ">>", "out.txt", ":::"];
    args.extend(HOSTILE);
    nuclear(dir.path()).args(&args).assert().success();
    let written = std::fs::read(dir.path().join("out.txt")).unwrap();
    let mut expected: Vec<String> = HOSTILE.iter().map(|h| h.to_string()).collect();
    expected.sort();
    // `echo -n` is echo's option, not text: the value still arrived as one
    // argument, so nothing else was run.
    let mut written = sorted_lines(&written);
    written.retain(|line| !line.is_empty());
    expected.retain(|line| line != "-n");
    assert_eq!(written, expected);
    assert_nothing_was_run(dir.path());
}
