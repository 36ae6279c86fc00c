//! `--help`, `--version`, `--dry-run`, `--bar` and usage errors.

use predicates::prelude::*;

use crate::support::{dummymp, lines, nuclear, stdout_of_success};

/// Every option, as `--help` must explain it.
const OPTIONS: &[&str] = &[
    "--jobs",
    "--priority",
    "--nice",
    "--null",
    "--line-buffer",
    "--tag",
    "--keep-order",
    "--joblog",
    "--resume",
    "--resume-failed",
    "--results",
    "--timeout",
    "--grace",
    "--retries",
    "--halt",
    "--bar",
    "--no-bar",
    "--dry-run",
    "--help",
    "--version",
    "--arg-file",
    "--link",
    "--colsep",
    "--max-args",
    "--max-chars",
    "--shuf",
    "--quote",
    "--ungroup",
    "--verbose",
    "--eta",
    "--progress",
    "--load",
    "--memfree",
    "--delay",
];

/// Every option the command-line tool's reference (`docs/cli.md`) names is
/// in `--help`, and every long option of `--help` is in the reference.
#[test]
fn help_and_the_cli_reference_name_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8(stdout_of_success(dummymp(dir.path()).arg("--help"))).unwrap();
    let section = include_str!("../../../docs/cli.md");
    for option in OPTIONS {
        if !matches!(
            *option,
            "--help"
                | "--version"
                | "--max-args"
                | "--max-chars"
                | "--arg-file"
                | "--quote"
                | "--ungroup"
                | "--verbose"
                | "--null"
                | "--keep-order"
                | "--jobs"
        ) {
            assert!(
                section.contains(option),
                "docs/cli.md does not mention {option}"
            );
        }
    }
    for short in [
        "-a FILE", "-N N", "-X", "-m", "-s N", "-q", "-u", "-v", "-0", "-k", "-j N",
    ] {
        assert!(
            section.contains(short),
            "docs/cli.md does not mention {short}"
        );
        let flag = short.split(' ').next().unwrap();
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn help_explains_every_option_and_the_exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout_of_success(dummymp(dir.path()).arg("--help"));
    let help = String::from_utf8(help).unwrap();
    for option in OPTIONS {
        assert!(help.contains(option), "--help does not mention {option}");
    }
    for topic in [
        "Exit status",
        "1-100",
        "101",
        "130",
        "255",
        "{/.}",
        "{%}",
        "nuclear",
        "--load",
        ":::",
        "::::",
    ] {
        assert!(help.contains(topic), "--help does not mention {topic}");
    }
}

#[test]
fn short_help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .arg("-h")
        .assert()
        .success()
        .stdout(predicate::str::contains("--priority"));
    dummymp(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_unknown_option_is_one_line_and_status_255() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .args(["--frobnicate", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(
            predicate::str::contains("--frobnicate")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
}

#[test]
fn no_command_is_one_line_and_status_255() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &[":::", "a", "b"], &["-j", "2"]] {
        dummymp(dir.path()).args(args).assert().code(255).stderr(
            predicate::str::contains("no command")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
    }
}

#[test]
fn options_after_the_command_belong_to_the_command() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["echo", "-j", "--tag", ":::", "x"])
        .assert()
        .success()
        .stdout("-j --tag x\n");
}

#[test]
fn dry_run_prints_the_commands_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(dummymp(dir.path()).args([
        "--dry-run",
        "touch",
        "{}",
        "{#}",
        ":::",
        "a b",
        "c",
    ]));
    assert_eq!(lines(&out), ["touch 'a b' 1", "touch c 2"]);
    assert!(!dir.path().join("c").exists());
    dummymp(dir.path())
        .args(["--dry-run", "echo {} > out"])
        .write_stdin("x\n")
        .assert()
        .success()
        .stdout("echo x > out\n");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn the_bar_can_be_forced_onto_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["--bar", "echo", ":::", "a", "b", "c"])
        .assert()
        .success()
        .stderr(predicate::str::contains("3/3 jobs"));
}

#[test]
fn no_bar_by_default_when_standard_error_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    nuclear(dir.path())
        .args(["true", ":::"])
        .args(&args)
        .assert()
        .success()
        .stderr("");
    nuclear(dir.path())
        .args(["--no-bar", "true", ":::", "a"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn resume_without_a_job_log_is_one_line_naming_the_missing_option() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .args(["--resume", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stderr(
            predicate::str::contains("--joblog")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
}

#[test]
fn help_into_a_closed_pipe_exits_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(crate::support::binary())
        .arg("--help")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(141));
    assert!(output.stderr.is_empty(), "{output:?}");
}
