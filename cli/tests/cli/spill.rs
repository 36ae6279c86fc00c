//! Output that cannot go to a temporary file (a full `$TMPDIR`, or one that
//! cannot hold files at all): none of it is lost, the run says so once,
//! and no new job starts while too much of it is held in memory.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use crate::support::{PATIENCE, binary, make_fifo, wait_for_exit, wait_until};

/// Bytes job 2 writes: more than the 64 MiB of held output that holds new
/// jobs back.
const BIG: usize = 70_000_000;

/// Bytes job 4 writes: more than a stream keeps in memory when a
/// temporary file can take the rest (1 MiB), so it tries again.
const MEDIUM: usize = 3_000_000;

/// The jobs, by input: 1 waits for a line on the `release` pipe; 2 writes
/// [`BIG`] bytes at once; 3, if started, writes "job3" to `release` (so
/// that, started too early, it would release job 1 itself); 4 writes
/// [`MEDIUM`] bytes.
fn job_script() -> String {
    format!(
        "case {{}} in \
         1) read x < release; echo \"job 1 released by $x\";; \
         2) yes 123456789 | head -c {BIG};; \
         3) exec 3<>release; echo job3 >&3; echo 'job 3';; \
         4) yes abcdefghi | head -c {MEDIUM}; echo 'job 4 done';; \
         esac"
    )
}

/// What the jobs print, in input order.
fn expected_output() -> Vec<u8> {
    let mut expected = b"job 1 released by test\n".to_vec();
    expected.extend(b"123456789\n".repeat(BIG / 10));
    expected.extend(b"job 3\n");
    expected.extend(b"abcdefghi\n".repeat(MEDIUM / 10));
    expected.extend(b"job 4 done\n");
    expected
}

/// The arguments of the run: `-k -j 2` over the four jobs.
fn run_arguments() -> Vec<String> {
    let mut args: Vec<String> = ["--priority", "nuclear", "-k", "-j", "2"]
        .map(String::from)
        .to_vec();
    args.push(job_script());
    args.extend([":::", "1", "2", "3", "4"].map(String::from));
    args
}

/// Runs the jobs through `command` (which runs dummymp with
/// [`run_arguments`], in `dir`, with a `$TMPDIR` that cannot take output)
/// and checks that: once more than 64 MiB are held (job 2 ended, job 1 still
/// running), job 3 does not start until job 1 was released by the test and
/// its output and job 2's were printed; all output arrives, in order; the
/// failure to use `$TMPDIR` is told once, naming it.
fn check_held_output(dir: &Path, mut command: Command, tmpdir: &Path) {
    let release = dir.join("release");
    make_fifo(&release);
    let mut child: Child = command
        .env("TMPDIR", tmpdir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dummymp starts");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        stdout.read_to_end(&mut all).map(|_| all)
    });
    let (lines_in, lines) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().expect("piped"));
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            if lines_in.send(line).is_err() {
                break;
            }
        }
    });

    // Wait until dummymp says it holds jobs back (it has decided not to
    // start job 3 by then).
    let deadline = Instant::now() + PATIENCE;
    let mut told = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let holds = line.contains("no new job starts until some of it is printed");
                told.push(line);
                if holds {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                wait_for_exit(&mut child);
                let printed = reader.join().expect("the reader").unwrap_or_default();
                let first = printed.split(|&b| b == b'\n').next().unwrap_or_default();
                panic!(
                    "dummymp ended without holding jobs back (its first line: {:?}); it said: \
                     {told:?}",
                    String::from_utf8_lossy(first)
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("gave up waiting for dummymp to hold jobs back; it said: {told:?}");
            }
        }
    }
    // Job 1 is (or will be) reading the pipe: opening it for writing
    // without blocking succeeds once it does.
    let mut writer = None;
    wait_until("job 1 to read its pipe", || {
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&release)
            .ok();
        writer.is_some()
    });
    std::io::Write::write_all(&mut writer.expect("opened"), b"test\n").expect("written");

    let status = wait_for_exit(&mut child);
    let printed = reader.join().expect("the reader").expect("stdout read");
    told.extend(lines.iter());
    assert!(status.success(), "{status:?}; it said: {told:?}");
    assert!(
        printed.starts_with(b"job 1 released by test\n"),
        "job 1 was released by another job (job 3 started too early): {:?}",
        String::from_utf8_lossy(&printed[..printed.len().min(60)])
    );
    assert_eq!(printed.len(), expected_output().len(), "nothing lost");
    assert!(printed == expected_output(), "the output is in input order");
    let warnings: Vec<&String> = told.iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {told:?}");
    assert!(
        warnings[0].contains(&tmpdir.display().to_string()) && warnings[0].contains("none is lost"),
        "{}",
        warnings[0]
    );
    let holds = told
        .iter()
        .filter(|l| l.contains("no new job starts until"))
        .count();
    assert_eq!(holds, 1, "held back once, said once: {told:?}");
}

#[test]
fn output_is_kept_whole_when_no_temporary_file_can_be_made() {
    let dir = tempfile::tempdir().unwrap();
    // A $TMPDIR below a regular file: no file can be made there.
    std::fs::write(dir.path().join("plain-file"), b"").unwrap();
    let tmpdir = dir.path().join("plain-file/tmp");
    let mut command = Command::new(binary());
    command.args(run_arguments());
    check_held_output(dir.path(), command, &tmpdir);
}

#[test]
fn output_is_kept_whole_when_the_temporary_directory_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    // A 16 KiB file system of our own, in a mount namespace of our own.
    let mount = "mount -t tmpfs -o size=16k tmpfs \"$0\"";
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", mount])
        .arg(&small)
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount a small filesystem here (needs root and unshare)");
        return;
    }
    let mut command = Command::new("unshare");
    command
        .args([
            "-m",
            "sh",
            "-c",
            &format!("{mount} && shift && exec \"$@\""),
        ])
        .arg(&small)
        .arg("--")
        .arg(binary())
        .args(run_arguments());
    check_held_output(dir.path(), command, &small);
}
