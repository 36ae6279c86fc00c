//! How output is printed: grouped, line-buffered, tagged, kept in order.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::support::{
    binary, lines, make_fifo, nuclear, sorted_lines, stdout_of_success, wait_for_exit,
};

/// Each job writes two lines to each stream with a pause in between, so
/// that the jobs' lines would interleave if they were not grouped.
const CHATTY_JOB: &str =
    "echo {}-out-1; echo {}-err-1 >&2; sleep 0.1; echo {}-out-2; echo {}-err-2 >&2";

#[test]
fn group_mode_prints_each_jobs_output_together() {
    let dir = tempfile::tempdir().unwrap();
    let output = nuclear(dir.path())
        .args(["-j", "4", CHATTY_JOB, ":::", "a", "b", "c", "d"])
        .assert()
        .success()
        .get_output()
        .clone();
    for (stream, kind) in [(&output.stdout, "out"), (&output.stderr, "err")] {
        let lines = lines(stream);
        assert_eq!(lines.len(), 8, "{lines:?}");
        for pair in lines.chunks(2) {
            let job = &pair[0][..1];
            assert_eq!(pair[0], format!("{job}-{kind}-1"), "{lines:?}");
            assert_eq!(pair[1], format!("{job}-{kind}-2"), "{lines:?}");
        }
    }
}

#[test]
fn line_buffer_prints_lines_while_the_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("release");
    make_fifo(&fifo);
    let mut child = Command::new(binary())
        .args([
            "--priority",
            "nuclear",
            "--line-buffer",
            "echo first {}; read line < release; echo second {}",
            ":::",
            "job",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "first job\n", "printed before the job ended");
    // The job is still waiting for this write.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(b"go\n")
        .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "second job\n");
    assert!(wait_for_exit(&mut child).success());
}

#[test]
fn line_buffer_never_mixes_two_jobs_on_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = nuclear(dir.path())
        .args([
            "--line-buffer",
            "-j",
            "3",
            "printf '%s-start ' {}; sleep 0.1; printf '%s-end\\n' {}; printf 'no newline {}'",
            ":::",
            "a",
            "b",
            "c",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        sorted_lines(&output),
        [
            "a-start a-end",
            "b-start b-end",
            "c-start c-end",
            "no newline a",
            "no newline b",
            "no newline c"
        ]
    );
    assert_eq!(
        output.last(),
        Some(&b'\n'),
        "unfinished lines are completed"
    );
}

#[test]
fn tag_prefixes_every_line_with_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let output = nuclear(dir.path())
        .args([
            "--tag",
            "-k",
            "echo {1}{2}; echo two; echo err >&2",
            ":::",
            "a",
            "b",
            ":::",
            "1",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    // Pins GNU parallel: the inputs joined by a space, then a tab.
    assert_eq!(
        lines(&output.stdout),
        ["a 1\ta1", "a 1\ttwo", "b 1\tb1", "b 1\ttwo"]
    );
    assert_eq!(lines(&output.stderr), ["a 1\terr", "b 1\terr"]);
}

#[test]
fn tag_works_with_line_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let output = stdout_of_success(nuclear(dir.path()).args([
        "--tag",
        "--line-buffer",
        "printf 'x\\ny'",
        ":::",
        "t",
    ]));
    assert_eq!(output, b"t\tx\nt\ty\n");
}

#[test]
fn keep_order_prints_in_input_order_whatever_ends_first() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--line-buffer"]] {
        let output = nuclear(dir.path())
            .args(["-k", "-j", "4"])
            .args(extra)
            .args(["sleep 0.{}; echo {}", ":::", "4", "3", "2", "1"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(lines(&output), ["4", "3", "2", "1"], "{extra:?}");
    }
}

#[test]
fn group_mode_keeps_bytes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    nuclear(dir.path())
        .args(["printf", "%s", ":::", "no newline"])
        .assert()
        .success()
        .stdout("no newline");
}

#[test]
fn a_closed_output_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // Every job writes more than a pipe holds, so writes block until the
    // reader is gone, whatever the timing.
    let mut child = Command::new(binary())
        .args([
            "--priority",
            "nuclear",
            "-j",
            "1",
            "head -c 200000 /dev/zero | tr '\\0' x; echo {}",
            ":::",
        ])
        .args((1..=50).map(|i| i.to_string()))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let status = wait_for_exit(&mut child);
    assert_eq!(status.code(), Some(141));
}

/// The peak resident memory of process `pid`, in kB (VmHWM).
fn peak_memory_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Issue: two jobs of 202 MB of output peaked at 571 MB. Output beyond
/// 1 MiB per stream goes to a temporary file: a job that writes 128 MB
/// leaves dummymp's peak memory far below that, and the output comes out
/// byte for byte. The peak is read while a second job holds dummymp alive.
#[test]
fn memory_stays_bounded_whatever_the_output_size() {
    const LINES: u64 = 16_000_000; // `seq` writes about 128 MB
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("release");
    make_fifo(&fifo);
    let out_path = dir.path().join("out.txt");
    let mut child = Command::new(binary())
        .args([
            "--priority",
            "nuclear",
            "-j",
            "1",
            "-k",
            "if [ {} = 1 ]; then seq 1 16000000; else touch waiting; read x < release; fi",
            ":::",
            "1",
            "2",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    crate::support::wait_until("the second job to start", || {
        dir.path().join("waiting").exists()
    });
    let peak = peak_memory_kb(child.id());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(b"go\n")
        .unwrap();
    assert!(wait_for_exit(&mut child).success());
    assert!(peak < 64 * 1024, "dummymp peaked at {peak} kB");
    let written = std::fs::read(&out_path).unwrap();
    let mut expected = Vec::with_capacity(written.len());
    for n in 1..=LINES {
        expected.extend_from_slice(n.to_string().as_bytes());
        expected.push(b'\n');
    }
    assert!(written == expected, "the output differs from seq's");
}

#[test]
fn a_results_directory_that_cannot_be_written_names_the_path_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A file where job 1's directory belongs.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("1"), b"in the way").unwrap();
    let output = nuclear(dir.path())
        .args(["--results", "out", "echo", ":::", "a"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("cannot write results out/1: it exists and is not a directory"),
        "{stderr}"
    );

    // A directory where job 1's standard output file belongs.
    std::fs::remove_file(out.join("1")).unwrap();
    std::fs::create_dir_all(out.join("1/a/stdout")).unwrap();
    let output = nuclear(dir.path())
        .args(["--results", "out", "echo", ":::", "a"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("cannot write results out/1/a/stdout: Is a directory"),
        "{stderr}"
    );
}
