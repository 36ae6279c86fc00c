//! Reused workers: task after task in one process, with every promise that
//! still applies (returns by call order, output and logs attributed to the
//! right task, a crash ending one task only, nothing left after killall).

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dummymp::{DummyMp, Outcome, OutputMode, Priority, TaskOptions};

dummymp::enable_test_support!();

fn reusing(at_once: usize) -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.set_max_processes(at_once);
    mp.set_reuse_workers(true);
    mp
}

/// Prints and logs its index, returns it with the worker's pid.
fn announce(index: u32) -> (u32, u32) {
    println!("stdout of task {index}");
    eprint!("unfinished line of task {index}");
    log::info!(target: "keep-reuse", "log of task {index}");
    (index, std::process::id())
}

fn crash(kind: u8) -> (u32, u32) {
    match kind {
        0 => std::process::abort(),
        _ => panic!("task says no"),
    }
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// How many tasks this worker process has run, this one included.
fn count_calls((): ()) -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

fn nap(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

#[test]
fn returns_output_and_logs_stay_with_their_task() {
    common::install_logger();
    let mut mp = reusing(2);
    for index in 0..40 {
        mp.run(announce, index).unwrap();
    }
    mp.process_until_done().unwrap();
    let returns = mp.returns::<(u32, u32)>().unwrap();
    assert_eq!(returns.len(), 40);
    let mut pids = std::collections::BTreeSet::new();
    for (id, (index, pid)) in &returns {
        assert_eq!(*id as u32, *index, "returns by call order");
        pids.insert(*pid);
        let report = mp.report(*id).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&report.stdout),
            format!("stdout of task {index}\n")
        );
        assert_eq!(
            String::from_utf8_lossy(&report.stderr),
            format!("unfinished line of task {index}")
        );
    }
    assert!(
        pids.len() <= 2,
        "at most two workers ran 40 tasks: {pids:?}"
    );
    let logged = common::kept_records("keep-reuse");
    for index in 0..40 {
        let wanted = format!("log of task {index}");
        assert_eq!(
            logged
                .iter()
                .filter(|r| r.message.ends_with(&wanted))
                .count(),
            1,
            "{wanted}"
        );
    }
}

#[test]
fn a_crash_ends_its_task_only_and_the_worker_is_replaced() {
    let mut mp = reusing(1);
    let before = mp.run(announce, 1).unwrap();
    let aborted = mp.run(crash, 0).unwrap();
    let panicked = mp.run(crash, 1).unwrap();
    let after = mp.run(announce, 2).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(
        mp.outcome(aborted),
        Some(&Outcome::Signaled { signal: 6 }),
        "abort ended that task"
    );
    assert!(
        matches!(mp.outcome(panicked), Some(Outcome::Panicked { message, .. }) if message == "task says no")
    );
    let (_, first_pid) = *mp.value(before).unwrap();
    let (_, last_pid) = *mp.value(after).unwrap();
    assert_ne!(first_pid, last_pid, "a fresh worker after the crash");
    assert!(!common::is_alive(first_pid), "the crashed worker is gone");
}

#[test]
fn state_persists_between_the_tasks_of_one_worker() {
    let mut mp = reusing(1);
    for _ in 0..3 {
        mp.run(count_calls, ()).unwrap();
    }
    mp.process_until_done().unwrap();
    let counts: Vec<u32> = mp.returns::<u32>().unwrap().into_values().collect();
    assert_eq!(counts, [1, 2, 3], "documented: one worker, one process");
}

#[test]
fn killall_ends_the_idle_workers() {
    let mut mp = reusing(2);
    for index in 0..4 {
        mp.run(announce, index).unwrap();
    }
    mp.process_until_done().unwrap();
    let pids: std::collections::BTreeSet<u32> = mp
        .returns::<(u32, u32)>()
        .unwrap()
        .values()
        .map(|(_, pid)| *pid)
        .collect();
    assert!(
        pids.iter().any(|pid| common::is_alive(*pid)),
        "idle workers wait"
    );
    mp.killall();
    for pid in pids {
        assert!(!common::is_alive(pid), "worker {pid} outlived killall");
    }
}

#[test]
fn a_timeout_ends_the_worker_and_the_next_task_gets_a_fresh_one() {
    let mut mp = reusing(1);
    mp.set_kill_grace(Duration::from_millis(100));
    let first = mp.run(nap, 0).unwrap();
    let late = mp
        .run_with(
            TaskOptions::new().timeout(Duration::from_millis(200)),
            nap,
            60_000,
        )
        .unwrap();
    let next = mp.run(nap, 0).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(late), Some(&Outcome::TimedOut));
    let (first, next) = (*mp.value(first).unwrap(), *mp.value(next).unwrap());
    assert_ne!(first, next);
    assert!(!common::is_alive(first), "the timed-out worker is gone");
}

#[test]
fn dropping_the_queue_ends_its_workers() {
    let pid = {
        let mut mp = reusing(1);
        let task = mp.run(nap, 0).unwrap();
        mp.process_until_done().unwrap();
        *mp.value(task).unwrap()
    };
    assert!(!common::is_alive(pid));
}
