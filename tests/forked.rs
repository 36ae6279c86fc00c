//! Tasks that are copies of this process, made when they start
//! (`ForeignWorker::forked`, how the Python package runs a task by
//! default): each sees the program's state as it is at its start, and the
//! engine watches, times out, kills, reaps and reports it like any task.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dummymp::engine::{ForeignWorker, TaskSpec};
use dummymp::foreign::{self, ForeignCall, ForeignResult, ForkHost, ForkedLink};
use dummymp::{DummyMp, Outcome, OutputMode, Priority, TaskOptions};

dummymp::enable_test_support!();

crate::role_programs! {
    "orphaned-copy" => orphaned_copy(),
}

/// What the tests' tasks read: the program's state, one value per test
/// (the tests run at the same time).
static STATE: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Where a copy whose worker ended by itself leaves a file named after its
/// pid.
static ENDED_DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Runs the tests' tasks in copies of the test process.
struct Host;

impl ForkHost for Host {
    fn prepare(&self) {}
    fn resume(&self) {}
    fn serve(&self, link: ForkedLink) -> i32 {
        let code = foreign::serve_forked(link, run);
        if let Some(dir) = ENDED_DIR.get() {
            let _ = std::fs::write(dir.join(std::process::id().to_string()), b"");
        }
        code
    }
}

/// The task: answers what its payload asks.
fn run(call: &ForeignCall<'_>) -> ForeignResult {
    match call.payload {
        // The state as the task found it; then changes it (in the copy).
        [b's', b't', b'a', b't', b'e', which] => {
            let seen = STATE[usize::from(*which)].fetch_add(100, Ordering::SeqCst);
            ForeignResult::Returned(seen.to_le_bytes().to_vec())
        }
        b"print" => {
            // Straight to descriptor 1: the test harness captures print!.
            let _ = rustix::io::write(rustix::stdio::stdout(), b"a line from the copy\n");
            ForeignResult::Returned(Vec::new())
        }
        b"sleep" => {
            std::thread::sleep(Duration::from_secs(600));
            ForeignResult::Returned(Vec::new())
        }
        b"exit" => std::process::exit(7),
        b"allocate" => {
            let block = vec![1u8; 128 << 20];
            ForeignResult::Returned(vec![block.iter().fold(0u8, |a, b| a.wrapping_add(*b))])
        }
        _ => ForeignResult::Returned(Vec::new()),
    }
}

fn forked(payload: &[u8]) -> TaskSpec {
    TaskSpec::foreign(
        ForeignWorker::forked(Arc::new(Host)),
        payload.to_vec(),
        "forked",
    )
}

fn queue() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp
}

fn returned_u64(mp: &DummyMp, task: dummymp::TaskId) -> u64 {
    let bytes = mp.report(task).unwrap().returned_bytes().expect("returned");
    u64::from_le_bytes(bytes.try_into().unwrap())
}

#[test]
fn each_copy_starts_from_the_programs_state_at_its_start() {
    let mut mp = queue();
    mp.set_max_processes(1);
    STATE[0].store(5, Ordering::SeqCst);
    let first = mp.run_spec(forked(b"state\x00"));
    let second = mp.run_spec(forked(b"state\x00"));
    mp.process_until_done().unwrap();
    STATE[0].store(6, Ordering::SeqCst);
    let later = mp.run_spec(forked(b"state\x00"));
    mp.process_until_done().unwrap();
    assert_eq!(
        [returned_u64(&mp, first), returned_u64(&mp, second)],
        [5, 5],
        "the second copy does not see what the first changed"
    );
    assert_eq!(
        returned_u64(&mp, later),
        6,
        "a copy sees the state at its start"
    );
    assert_eq!(
        STATE[0].load(Ordering::SeqCst),
        6,
        "the copies changed only themselves"
    );
}

#[test]
fn copies_are_timed_out_killed_and_reported_like_any_task() {
    let mut mp = queue();
    let printed = mp.run_spec(forked(b"print"));
    let exited = mp.run_spec(forked(b"exit"));
    let timed_out = mp.run_spec(
        forked(b"sleep").with_options(TaskOptions::new().timeout(Duration::from_millis(200))),
    );
    mp.process_until_done().unwrap();
    let report = mp.report(printed).unwrap();
    assert_eq!(report.outcome, Outcome::Returned);
    assert_eq!(report.stdout, b"a line from the copy\n");
    // A copy that exits before its function returns: no value, a failure.
    assert_eq!(mp.outcome(exited), Some(&Outcome::ExitedEarly { code: 7 }));
    assert_eq!(mp.outcome(timed_out), Some(&Outcome::TimedOut));

    let killed = mp.run_spec(forked(b"sleep"));
    while mp.running_pids().is_empty() {
        mp.process_process().unwrap();
    }
    let pid = mp.running_pids()[0];
    mp.killall();
    assert_eq!(mp.outcome(killed), Some(&Outcome::Killed));
    assert!(!common::is_alive(pid), "killall reaped the copy");
}

#[test]
fn reused_copies_run_task_after_task_and_end_when_told() {
    let ended = tempfile::tempdir().unwrap();
    ENDED_DIR.set(ended.path().to_owned()).unwrap();
    let mut mp = queue();
    mp.set_reuse_workers(true);
    mp.set_max_processes(2);
    // Ended by the kill grace period only if they did not end by themselves.
    mp.set_kill_grace(Duration::from_millis(100));
    STATE[1].store(1, Ordering::SeqCst);
    let tasks: Vec<_> = (0..6).map(|_| mp.run_spec(forked(b"state\x01"))).collect();
    mp.process_until_done().unwrap();
    let mut seen: Vec<u64> = tasks.iter().map(|t| returned_u64(&mp, *t)).collect();
    seen.sort();
    let mut pids: Vec<u32> = tasks
        .iter()
        .map(|t| mp.report(*t).unwrap().pid.unwrap())
        .collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 2, "two copies ran the six tasks");
    assert_eq!(
        seen.iter().filter(|s| **s == 1).count(),
        2,
        "{seen:?}: each copy started from the program's state"
    );
    assert!(
        seen.iter().any(|s| *s > 100),
        "{seen:?}: a copy keeps its state from task to task"
    );
    mp.killall();
    for pid in pids {
        assert!(common::wait_gone(pid, Duration::from_secs(60)));
        assert!(
            ended.path().join(pid.to_string()).exists(),
            "{pid} ended by itself"
        );
    }

    // An idle copy whose link a copy made later holds too (every copy
    // inherits this process's descriptors): closing ours alone would
    // leave it waiting for a next task, and the kill grace period would
    // end it.
    let quick = mp.run_spec(forked(b"state\x01"));
    let slow = mp.run_spec(forked(b"sleep"));
    while mp.outcome(quick).is_none() {
        mp.process_process().unwrap();
        mp.wait(Some(Duration::from_millis(100))).unwrap();
    }
    let idle = mp.report(quick).unwrap().pid.unwrap();
    assert_eq!(mp.running_pids().len(), 1, "the slow task still runs");
    mp.set_reuse_workers(false);
    assert!(common::wait_gone(idle, Duration::from_secs(60)));
    assert!(
        ended.path().join(idle.to_string()).exists(),
        "the idle copy {idle} ended by itself when its link was closed"
    );
    mp.kill(slow);
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(slow), Some(&Outcome::Killed));
}

#[test]
fn the_memory_learned_for_a_copy_leaves_out_what_it_shares_with_the_program() {
    // The program holds 256 MiB, written (so resident) before the copies
    // are made: a copy shares all of it.
    let held = vec![1u8; 256 << 20];
    let mut mp = queue();
    let idle = mp.run_spec(forked(b"nothing"));
    let allocating = mp.run_spec(forked(b"allocate"));
    mp.process_until_done().unwrap();
    assert_eq!(held.iter().map(|b| *b as u64).sum::<u64>(), 256 << 20);
    let peak = |task| mp.report(task).unwrap().peak_rss.expect("a peak");
    assert!(
        peak(idle) < 64 << 20,
        "a copy that allocates nothing is charged {} MiB",
        peak(idle) >> 20
    );
    assert!(
        (100 << 20..256 << 20).contains(&peak(allocating)),
        "a copy that allocates 128 MiB is charged {} MiB",
        peak(allocating) >> 20
    );
}

/// Serves its task only once its parent has died: the request was sent,
/// and the parent is gone before the task starts.
struct ServesOnceOrphaned;

/// The process that forked the copy (set before the fork: the copy may
/// start after its parent died, when `getppid` no longer names it).
static FORKED_BY: AtomicU64 = AtomicU64::new(0);

impl ForkHost for ServesOnceOrphaned {
    fn prepare(&self) {
        FORKED_BY.store(std::process::id().into(), Ordering::SeqCst);
    }
    fn resume(&self) {}
    fn serve(&self, link: ForkedLink) -> i32 {
        let parent = rustix::process::Pid::from_raw(FORKED_BY.load(Ordering::SeqCst) as i32)
            .expect("a parent");
        // Gone already when it cannot be opened.
        if let Ok(pidfd) = rustix::process::pidfd_open(parent, rustix::process::PidfdFlags::empty())
        {
            let mut fds = [rustix::event::PollFd::new(
                &pidfd,
                rustix::event::PollFlags::IN,
            )];
            let _ = rustix::event::poll(&mut fds, None);
        }
        foreign::serve_forked(link, run)
    }
}

/// Role: queues a task that sleeps, prints the pid of its copy, and dies.
fn orphaned_copy() -> i32 {
    let mut mp = queue();
    let worker = ForeignWorker::forked(Arc::new(ServesOnceOrphaned));
    mp.run_spec(TaskSpec::foreign(worker, b"sleep".to_vec(), "orphaned"));
    while mp.running_pids().is_empty() {
        mp.process_process().unwrap();
    }
    let line = format!("{}\n", mp.running_pids()[0]);
    let _ = rustix::io::write(rustix::stdio::stdout(), line.as_bytes());
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    99
}

#[test]
fn a_copy_whose_parent_died_before_its_task_started_ends() {
    let output = common::role_command("orphaned-copy")
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("the role runs");
    let pid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("the copy's pid");
    assert!(
        common::wait_gone(pid, Duration::from_secs(60)),
        "the copy {pid} runs its task with nobody to report to"
    );
}
