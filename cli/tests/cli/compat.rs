//! GNU parallel's options, each test pinned to what GNU parallel 20221122
//! prints for the same command (observed with `parallel`, named in each
//! test) or to its manual.

use std::path::Path;

use predicates::prelude::*;

use crate::support::{dummymp, lines, nuclear, sorted_lines, stdout_of_success};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// `parallel -k -a foo -a bar echo` prints `1 a`, `1 b`, `2 a`, `2 b`;
/// `parallel -k -a foo echo ::: x y` prints `1 x`, `1 y`, `2 x`, `2 y`.
#[test]
fn arg_files_are_input_sources_before_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "foo", "1\n2\n");
    write(dir.path(), "bar", "a\nb\n");
    let out = stdout_of_success(nuclear(dir.path()).args(["-k", "-a", "foo", "-a", "bar", "echo"]));
    assert_eq!(lines(&out), ["1 a", "1 b", "2 a", "2 b"]);
    let out =
        stdout_of_success(nuclear(dir.path()).args(["-k", "-a", "foo", "echo", ":::", "x", "y"]));
    assert_eq!(lines(&out), ["1 x", "1 y", "2 x", "2 y"]);
}

/// `parallel -k --link echo ::: 1 2 3 ::: a b` prints `1 a`, `2 b`, `3 a`;
/// `parallel -k echo ::: 1 2 3 :::+ a b c ::: X Y` prints `1 a X`, `1 a
/// Y`, `2 b X`, ...; `parallel -k echo ::: 1 2 :::: foo ::::+ bar` prints
/// `1 1 a`, `1 2 b`, `2 1 a`, `2 2 b`.
#[test]
fn linked_sources_go_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "--link", "echo", ":::", "1", "2", "3", ":::", "a", "b",
    ]));
    assert_eq!(lines(&out), ["1 a", "2 b", "3 a"]);
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "echo", ":::", "1", "2", "3", ":::+", "a", "b", "c", ":::", "X", "Y",
    ]));
    assert_eq!(
        lines(&out),
        ["1 a X", "1 a Y", "2 b X", "2 b Y", "3 c X", "3 c Y"]
    );
    write(dir.path(), "foo", "1\n2\n");
    write(dir.path(), "bar", "a\nb\n");
    let out = stdout_of_success(
        nuclear(dir.path()).args(["-k", "echo", ":::", "1", "2", "::::", "foo", "::::+", "bar"]),
    );
    assert_eq!(lines(&out), ["1 1 a", "1 2 b", "2 1 a", "2 2 b"]);
}

/// `parallel -k -N2 echo {1}-{2} {} ::: a b c d e` runs `echo a-b a b`,
/// `echo c-d c d`, `echo e- e`.
#[test]
fn max_args_gives_each_job_n_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "-N2", "echo", "{1}-{2}", "{}", ":::", "a", "b", "c", "d", "e",
    ]));
    assert_eq!(lines(&out), ["a-b a b", "c-d c d", "e- e"]);
}

/// `parallel -k -j1 -X echo pre{}post ::: a b 'c d'` prints `preapost
/// prebpost prec dpost`; with -m, `prea bpost`; `parallel -j1 -X -s 20
/// --dry-run echo ::: aaaa bbbb cccc dddd` runs `echo aaaa bbbb cccc` and
/// `echo dddd`.
#[test]
fn x_and_m_fill_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k",
        "-X",
        "echo",
        "pre{}post",
        ":::",
        "a",
        "b",
        "c d",
    ]));
    assert_eq!(lines(&out), ["preapost prebpost prec dpost"]);
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k",
        "-m",
        "echo",
        "pre{}post",
        ":::",
        "a",
        "b",
    ]));
    assert_eq!(lines(&out), ["prea bpost"]);
    let out = stdout_of_success(dummymp(dir.path()).args([
        "-X",
        "-s",
        "20",
        "--dry-run",
        "echo",
        ":::",
        "aaaa",
        "bbbb",
        "cccc",
        "dddd",
    ]));
    assert_eq!(lines(&out), ["echo aaaa bbbb cccc", "echo dddd"]);
}

/// `parallel -k --colsep , echo '[{1}]' '[{2}]' :::: f.csv` on `a,b c` and
/// ` d , e` prints `[a] [b c]` and `[d] [e]`.
#[test]
fn colsep_splits_lines_into_columns() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.csv", "a,b c\n d , e\n");
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-k", "--colsep", ",", "echo", "[{1}]", "[{2}]", "::::", "f.csv",
    ]));
    assert_eq!(lines(&out), ["[a] [b c]", "[d] [e]"]);
    nuclear(dir.path())
        .args(["--colsep", "(", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stderr(predicate::str::contains("--colsep"));
}

/// `parallel -v -k echo ::: a 'b c'` prints `echo a`, `a`, `echo 'b c'`,
/// `b c`.
#[test]
fn verbose_prints_each_command_before_its_output() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--line-buffer"]] {
        let out = stdout_of_success(
            nuclear(dir.path())
                .args(["-v", "-k"])
                .args(extra)
                .args(["echo", ":::", "a", "b c"]),
        );
        assert_eq!(
            lines(&out),
            ["echo a", "a", "echo 'b c'", "b c"],
            "{extra:?}"
        );
    }
}

/// `parallel -q -k echo 'a b' '{}' 'x;y' ::: 'p q' r` prints `a b p q x;y`
/// and `a b r x;y`.
#[test]
fn quote_takes_each_word_as_one_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(
        nuclear(dir.path()).args(["-q", "-k", "echo", "a b", "{}", "x;y", ":::", "p q", "r"]),
    );
    assert_eq!(lines(&out), ["a b p q x;y", "a b r x;y"]);
}

/// `parallel --shuf -k echo {#} {} ::: ...` runs every job once, numbered
/// 1, 2, ... in the shuffled order.
#[test]
fn shuf_runs_every_job_once_in_some_order() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    let out = stdout_of_success(
        nuclear(dir.path())
            .args(["--shuf", "-k", "echo", "{#}", "{}", ":::"])
            .args(&values),
    );
    let lines = lines(&out);
    let numbers: Vec<String> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(numbers, values, "{{#}} follows the run order");
    let mut got: Vec<u32> = lines
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, (1..=30).collect::<Vec<u32>>());
    dummymp(dir.path())
        .args(["--shuf", "--resume", "--joblog", "j", "echo", ":::", "a"])
        .assert()
        .code(255);
}

/// `-u` here keeps whole lines (it is --line-buffer), and --tag adds no
/// newline to an unfinished last line in group mode (`parallel --tag printf
/// x ::: a` prints `a<TAB>x`).
#[test]
fn ungroup_keeps_lines_whole_and_tag_keeps_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of_success(nuclear(dir.path()).args([
        "-u",
        "-j",
        "3",
        "printf 'x%s' {}; sleep 0.1; printf 'y\\n'",
        ":::",
        "a",
        "b",
        "c",
    ]));
    assert_eq!(sorted_lines(&out), ["xay", "xby", "xcy"]);
    nuclear(dir.path())
        .args(["--tag", "printf", "x", ":::", "a"])
        .assert()
        .success()
        .stdout("a\tx");
}

/// `parallel --results out echo ::: a b/c` writes `out/1/a/{seq,stdout,
/// stderr}` and `out/1/b\_c/...`, `seq` holding the job number.
#[test]
fn results_in_a_directory_use_gnu_parallels_layout() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["-k", "--results", "out", "echo", ":::", "a", "b/c"])
        .assert()
        .success()
        .stdout("a\nb/c\n");
    let job = dir.path().join("out/1/a");
    assert_eq!(std::fs::read_to_string(job.join("stdout")).unwrap(), "a\n");
    assert_eq!(std::fs::read_to_string(job.join("stderr")).unwrap(), "");
    assert_eq!(std::fs::read_to_string(job.join("seq")).unwrap(), "1");
    let job = dir.path().join("out/1/b\\_c");
    assert_eq!(
        std::fs::read_to_string(job.join("stdout")).unwrap(),
        "b/c\n"
    );
    nuclear(dir.path())
        .args(["--results", "out.csv", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stderr(predicate::str::contains(".jsonl"));
}

#[test]
fn eta_and_progress_show_the_bar() {
    let dir = tempfile::tempdir().unwrap();
    for option in ["--eta", "--progress"] {
        nuclear(dir.path())
            .args([option, "echo", ":::", "a", "b"])
            .assert()
            .success()
            .stderr(predicate::str::contains("2/2 jobs"));
    }
}

/// `printf 'a\0b\nc\n' | parallel -k echo` prints `a\0b` and `c` (a
/// backslash and a zero), with a warning.
#[test]
fn nul_bytes_without_null_become_backslash_zero_with_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["-k", "echo"])
        .write_stdin(&b"a\0b\nc\0\nd\n"[..])
        .assert()
        .success()
        .stdout("a\\0b\nc\\0\nd\n")
        .stderr(
            predicate::str::contains("NUL")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
}

/// GNU parallel accepts `--timeout 1s`, `1m`, `1h30m` and `--delay 0.1s`;
/// --load, --memfree and --delay are accepted and checked (what they do is
/// tested in explain.rs).
#[test]
fn gnu_parallels_durations_sizes_and_loads_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .args([
            "--timeout",
            "1h30m",
            "--delay",
            "0.1s",
            "--memfree",
            "1G",
            "--load",
            "80%",
            "--dry-run",
            "echo",
            ":::",
            "a",
        ])
        .assert()
        .success()
        .stdout("echo a\n")
        .stderr("");
    for (option, bad) in [
        ("--timeout", "1x"),
        ("--memfree", "lots"),
        ("--load", "high"),
    ] {
        dummymp(dir.path())
            .args([option, bad, "echo", ":::", "a"])
            .assert()
            .code(255)
            .stderr(predicate::str::contains(option));
    }
}

#[test]
fn perl_replacement_strings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    dummymp(dir.path())
        .args(["echo", "{= $_=uc($_) =}", ":::", "a"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(predicate::str::contains("Perl"));
}
