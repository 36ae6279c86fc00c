//! Capacity above the CPU count (tasks that mostly wait), with foreign load
//! still counted, and the CPU counts a user sizes work by.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::ForeignLoad;
use dummymp::{DummyMp, Priority};
use rustix::event::{PollFd, PollFlags, Timespec};

dummymp::enable_test_support!();

crate::role_programs! {
    "eight-at-once" => eight_at_once(),
    "print-cpu-counts" => print_cpu_counts(),
}

/// How many tasks the barrier waits for.
const TASKS: usize = 8;

/// A task that arrives at the barrier in `dir` (a byte into the FIFO
/// `arrivals`) and waits there until released (a byte from the FIFO
/// `release`): it cannot end before all have arrived, so all ran at once.
fn meet_at(dir: PathBuf) -> u32 {
    let mut arrivals = OpenOptions::new()
        .write(true)
        .open(dir.join("arrivals"))
        .expect("the barrier's arrivals FIFO");
    arrivals.write_all(b"+").expect("arrived");
    let mut release = File::open(dir.join("release")).expect("the barrier's release FIFO");
    let mut byte = [0u8];
    release.read_exact(&mut byte).expect("released");
    std::process::id()
}

/// Role: runs `TASKS` barrier tasks at capacity `TASKS` in Nuclear, and
/// prints the usable CPUs and how many returned.
fn eight_at_once() -> i32 {
    let dir = PathBuf::from(std::env::var("DUMMYMP_TEST_DIR").unwrap());
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_capacity(TASKS);
    let tasks = mp.map(meet_at, vec![dir; TASKS]).unwrap();
    println!("usable {} returned {}", mp.usable_cpus(), tasks.len());
    0
}

/// Makes a FIFO at `path`.
fn make_fifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("a FIFO");
}

/// Opens a FIFO for reading and writing: the open does not wait for a
/// peer, and the tasks' opens find one.
fn open_fifo(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .expect("the FIFO opens")
}

/// Reads one byte per arriving task from `arrivals` until `count` arrived
/// or `limit` passed (a guard against hanging: it only ends early when
/// the test fails). Returns how many arrived.
fn wait_for_arrivals(arrivals: &mut File, count: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let mut arrived = 0;
    while arrived < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let timeout = Timespec::try_from(left).unwrap();
        let mut fds = [PollFd::new(arrivals, PollFlags::IN)];
        rustix::event::poll(&mut fds, Some(&timeout)).expect("poll");
        let mut bytes = [0u8; TASKS];
        match arrivals.read(&mut bytes) {
            Ok(n) => arrived += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("reading arrivals: {e}"),
        }
    }
    arrived
}

#[test]
fn a_capacity_of_eight_runs_eight_waiting_tasks_at_once_on_one_cpu() {
    let dir = tempfile::tempdir().unwrap();
    make_fifo(&dir.path().join("arrivals"));
    make_fifo(&dir.path().join("release"));
    let mut arrivals = open_fifo(&dir.path().join("arrivals"));
    let mut release = open_fifo(&dir.path().join("release"));

    // The role runs on CPU 0 only: one usable CPU, eight tasks.
    let role = std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(std::env::current_exe().unwrap())
        .env("DUMMYMP_TEST_ROLE", "eight-at-once")
        .env("DUMMYMP_TEST_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let arrived = wait_for_arrivals(&mut arrivals, TASKS, Duration::from_secs(120));
    // Release every task, whatever happened, so that the role ends.
    release.write_all(&[b'!'; TASKS]).unwrap();
    let output = role.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("usable 1 returned {TASKS}")
    );
    assert_eq!(arrived, TASKS, "tasks waiting at the barrier at once");
}

#[test]
fn foreign_load_is_still_subtracted_from_the_capacity() {
    // Two busy loops: at least one CPU counted in Normal, whatever else
    // runs on the machine.
    let _load = ForeignLoad::start(2, None);
    let mut mp = DummyMp::new();
    mp.set_capacity(TASKS);
    assert_eq!(mp.capacity(), TASKS);
    let normal = mp.cpu_avail();
    assert!(normal < TASKS, "Normal left {normal} of {TASKS}");
    mp.set_priority_mode(Priority::Nuclear);
    assert_eq!(mp.cpu_avail(), TASKS, "Nuclear counts nobody");
    mp.set_capacity(0);
    assert_eq!(mp.capacity(), 0);
    assert_eq!(
        mp.cpu_avail(),
        mp.usable_cpus(),
        "back to one per usable CPU"
    );
}

/// Role: prints the CPU counts of the module-level API and of a queue.
fn print_cpu_counts() -> i32 {
    let mp = DummyMp::new();
    println!(
        "{} {} {} {}",
        dummymp::get_total_cpus(),
        mp.total_cpus(),
        dummymp::get_machine_cpus(),
        mp.machine_cpus()
    );
    0
}

#[test]
fn total_cpus_are_the_usable_ones_under_taskset() {
    let output = std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(std::env::current_exe().unwrap())
        .env("DUMMYMP_TEST_ROLE", "print-cpu-counts")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let machine = dummymp::get_machine_cpus();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("1 1 {machine} {machine}")
    );
}
