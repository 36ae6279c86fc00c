//! Where the jobs' inputs come from: `:::`, `::::`, standard input, `-0`.

use predicates::prelude::*;

use crate::support::{lines, nuclear, sorted_lines, stdout_of_success};

#[test]
fn one_job_per_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args(["echo", ":::", "a", "b", "c"]));
    assert_eq!(sorted_lines(&out), ["a", "b", "c"]);
}

#[test]
fn several_groups_combine_as_a_cartesian_product() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "echo", "{1}-{2}", ":::", "a", "b", ":::", "1", "2", "3",
    ]));
    assert_eq!(lines(&out), ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"]);
}

#[test]
fn argument_files_give_one_value_per_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("colours"), "red\ngreen\n").unwrap();
    std::fs::write(dir.path().join("sizes"), "S\nL").unwrap();
    let out = stdout_of_success(
        nuclear(dir.path()).args(["-k", "echo", ":::", "x", "::::", "colours", "sizes"]),
    );
    assert_eq!(
        lines(&out),
        ["x red S", "x red L", "x green S", "x green L"]
    );
}

#[test]
fn without_separators_each_line_of_standard_input_is_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["-k", "echo", "line:"])
            .write_stdin("one\n\nthree four\nlast without newline"),
    );
    assert_eq!(
        lines(&out),
        [
            "line: one",
            "line: ",
            "line: three four",
            "line: last without newline"
        ]
    );
}

#[test]
fn null_separated_records_may_hold_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["-0", "-k", "printf", "[%s]"])
            .write_stdin("a b\0c\nd\0"),
    );
    assert_eq!(out, b"[a b][c\nd]");
}

#[test]
fn null_separated_argument_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("args"), "x\ny\0z\0").unwrap();
    nuclear(dir.path())
        .args(["-0", "-k", "echo", "{}/", "::::", "args"])
        .assert()
        .success()
        .stdout("x\ny/\nz/\n");
}

#[test]
fn non_utf8_input_lines_pass_through_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input: &[u8] = b"caf\xe9\n\xff\xfe raw\n";
    for template in [&["echo"][..], &["echo", "{}", "|", "cat"]] {
        let out = stdout_of_success(
            nuclear(dir.path())
                .arg("-k")
                .args(template)
                .write_stdin(input),
        );
        assert_eq!(out, input, "{template:?}");
    }
}

#[test]
fn empty_input_runs_nothing_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["touch", "ran"])
        .write_stdin("")
        .assert()
        .success()
        .stdout("");
    nuclear(dir.path())
        .args(["touch", ":::"])
        .assert()
        .success();
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn the_standard_input_source_of_argument_files_is_dash() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["-k", "echo", "{1}{2}", ":::", "a", "b", "::::", "-"])
            .write_stdin("1\n2\n"),
    );
    assert_eq!(lines(&out), ["a1", "a2", "b1", "b2"]);
}

#[test]
fn an_unreadable_argument_file_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["echo", "::::", "missing-args.txt"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(
            predicate::str::contains("missing-args.txt")
                .and(predicate::str::contains("cannot read argument file"))
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
}
