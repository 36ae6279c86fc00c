//! killall, reset, drop and a dying parent leave no process behind.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use dummymp::{DummyMp, Outcome, OutputMode, Priority};
use rustix::process::Signal;

dummymp::enable_test_support!();

crate::role_programs! {
    "parent-to-kill" => parent_to_kill(),
}

/// Role: starts two tasks that never end, says who runs them, and waits.
fn parent_to_kill() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_max_processes(2);
    mp.set_output_mode(OutputMode::Untagged);
    mp.run(stuck, "tagged".to_string()).unwrap();
    mp.run(stuck, "tagged".to_string()).unwrap();
    mp.process_process().unwrap();
    for pid in mp.running_pids() {
        println!("worker {pid}");
    }
    let _ = mp.process_until_done();
    1
}

/// Starts a grandchild that ignores SIGTERM, says its pid (on stdout and
/// through `log`), and never returns (so the grandchild is never waited for).
#[allow(clippy::zombie_processes)]
fn stuck(_: String) -> u8 {
    let child = std::process::Command::new("sh")
        .args(["-c", "trap '' TERM; while :; do sleep 1; done"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    println!("grandchild {}", child.id());
    log::info!(target: "keep-lifecycle", "{}", child.id());
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

fn quick(x: u8) -> u8 {
    x
}

/// Pids of the grandchildren the `stuck` tasks of `mp` started, once they
/// all did (`count` of them), read from their log records.
fn grandchildren(mp: &mut DummyMp, count: usize, before: usize) -> Vec<u32> {
    loop {
        let records = common::kept_records("keep-lifecycle");
        if records.len() >= before + count {
            return records[before..]
                .iter()
                .map(|r| r.message.rsplit(' ').next().unwrap().parse().unwrap())
                .collect();
        }
        assert!(!mp.wait(None).unwrap(), "stuck tasks cannot end");
    }
}

/// Serialises the tests that read `keep-lifecycle` records.
static RECORDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The set-up of the tests below: the lock on `keep-lifecycle` records,
/// how many of them exist already, and a Nuclear queue with captured output
/// and a kill grace of `grace_ms`.
fn quiet_queue(grace_ms: u64) -> (std::sync::MutexGuard<'static, ()>, usize, DummyMp) {
    let records = RECORDS.lock().unwrap_or_else(|e| e.into_inner());
    common::install_logger();
    let before = common::kept_records("keep-lifecycle").len();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.set_kill_grace(Duration::from_millis(grace_ms));
    (records, before, mp)
}

/// Checks that `workers` are reaped and that `grandchildren` end (the
/// SIGKILL sent to their group ends them a moment later), after `what`.
fn assert_all_gone(workers: &[u32], grandchildren: &[u32], what: &str) {
    for worker in workers {
        assert!(!common::is_alive(*worker), "worker {worker} is reaped");
    }
    for pid in grandchildren {
        assert!(
            common::wait_gone(*pid, Duration::from_secs(20)),
            "{pid} survived {what}"
        );
    }
}

#[test]
fn killall_ends_every_task_and_its_children_and_keeps_returns() {
    let (_records, before, mut mp) = quiet_queue(200);
    mp.set_max_processes(3);
    let done = mp.run(quick, 7).unwrap();
    mp.run(stuck, String::new()).unwrap();
    mp.run(stuck, String::new()).unwrap();
    let later = mp.run(quick, 8).unwrap();
    let stuck_pids = grandchildren(&mut mp, 2, before);
    while mp.value(done).is_none() {
        mp.wait(None).unwrap();
    }
    let workers = mp.running_pids();
    assert_eq!(workers.len(), 2);

    mp.killall();

    assert_eq!(mp.value(done), Some(&7), "returns received are kept");
    let killed: Vec<_> = mp
        .reports()
        .filter(|r| r.outcome == Outcome::Killed)
        .map(|r| r.id.index())
        .collect();
    assert_eq!(killed, [1, 2]);
    assert!(mp.running_pids().is_empty());
    // The grandchildren ignore SIGTERM.
    assert_all_gone(&workers, &stuck_pids, "killall");
    // Queued tasks stay queued and run later.
    assert_eq!(mp.queued(), 1);
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(later), Some(&8));
}

#[test]
fn reset_kills_everything_and_restores_the_defaults() {
    let (_records, before, mut mp) = quiet_queue(100);
    mp.set_max_processes(1);
    mp.set_start_callback(|_| {});
    let first = mp.run(quick, 1).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(first), Some(&1));
    mp.run(stuck, String::new()).unwrap();
    mp.run(quick, 2).unwrap();
    let stuck_pids = grandchildren(&mut mp, 1, before);
    let workers = mp.running_pids();

    mp.reset();

    assert_all_gone(&workers, &stuck_pids, "reset");
    assert!(
        mp.returns::<u8>().unwrap().is_empty(),
        "returns are dropped"
    );
    assert_eq!(mp.queued(), 0, "the queue is dropped");
    assert_eq!(mp.progress(), dummymp::Progress::default());
    assert_eq!(mp.priority_mode(), Priority::Normal);
    assert_eq!(mp.max_processes(), 0);
    assert_eq!(mp.output_mode(), OutputMode::Tagged);
    assert_eq!(mp.kill_grace(), dummymp::DEFAULT_KILL_GRACE);
    assert_eq!(mp.run(quick, 3).unwrap().index(), 0, "ids start again");
}

#[test]
fn dropping_an_instance_kills_what_it_runs() {
    let (workers, stuck_pids, _records) = {
        let (records, before, mut mp) = quiet_queue(100);
        mp.run(stuck, String::new()).unwrap();
        let stuck_pids = grandchildren(&mut mp, 1, before);
        (mp.running_pids(), stuck_pids, records)
    };
    assert_eq!(workers.len(), 1);
    assert_all_gone(&workers, &stuck_pids, "the drop");
}

/// Ignores SIGTERM (through a handler that only notes it), says so, and
/// never returns.
fn deaf((): ()) -> u8 {
    let noted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, noted).unwrap();
    log::info!(target: "keep-deaf", "deaf");
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

#[test]
fn killall_kills_a_task_that_ignores_sigterm_after_the_grace_period() {
    common::install_logger();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_kill_grace(Duration::from_millis(100));
    let task = mp.run(deaf, ()).unwrap();
    while common::kept_records("keep-deaf").is_empty() {
        assert!(!mp.wait(None).unwrap());
    }
    let worker = mp.running_pids()[0];
    mp.killall();
    assert_eq!(mp.outcome(task), Some(&Outcome::Killed));
    assert!(!common::is_alive(worker));
}

#[test]
fn a_parent_killed_with_sigkill_leaves_no_worker() {
    let mut parent = common::role_command("parent-to-kill")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let (mut workers, mut grandchildren) = (Vec::new(), Vec::new());
    while workers.len() < 2 || grandchildren.len() < 2 {
        let line = lines
            .next()
            .expect("the parent reports its workers")
            .unwrap();
        let (kind, pid) = line.split_once(' ').unwrap();
        let pid: u32 = pid.parse().unwrap();
        match kind {
            "worker" => workers.push(pid),
            "grandchild" => grandchildren.push(pid),
            other => panic!("unexpected line {other}"),
        }
    }
    assert!(
        workers
            .iter()
            .chain(&grandchildren)
            .all(|&p| common::is_alive(p))
    );

    common::send_signal(parent.id(), Signal::KILL);
    parent.wait().unwrap();

    for pid in workers.iter().chain(&grandchildren) {
        assert!(
            common::wait_gone(*pid, Duration::from_secs(20)),
            "{pid} outlived its parent"
        );
    }
}

#[test]
fn workers_carry_the_program_name() {
    let (_records, before, mut mp) = quiet_queue(100);
    mp.run(stuck, String::new()).unwrap();
    grandchildren(&mut mp, 1, before);
    let worker = mp.running_pids()[0];
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_str().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{worker}/comm")).unwrap();
    assert_eq!(comm.trim_end(), &name[..name.len().min(15)]);
    let cmdline = std::fs::read(format!("/proc/{worker}/cmdline")).unwrap();
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap();
    assert_eq!(argv0, exe.as_os_str().as_encoded_bytes());
    mp.killall();
}

/// Logs, says so through the fifo named by its argument, and never returns.
fn logs_then_hangs(fifo: String) -> u8 {
    log::info!(target: "keep-wait-race", "logged");
    std::fs::write(fifo, b"logged\n").unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

// `wait` relays what arrived before it sleeps; when that was something, it
// returns instead of sleeping until the next event (which may never come:
// here the task hangs), so the caller sees the record it waits for.
#[test]
fn wait_returns_when_it_relayed_something_before_sleeping() {
    common::install_logger();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("logged");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.set_kill_grace(Duration::from_millis(100));
    mp.run(logs_then_hangs, fifo.to_string_lossy().into_owned())
        .unwrap();
    mp.process_process().unwrap();
    // The task has logged: its record is in the pipe before `wait` runs.
    std::fs::read(&fifo).unwrap();
    let (done, returned) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let finished = mp.wait(None).unwrap();
        done.send(()).unwrap();
        (mp, finished)
    });
    returned
        .recv_timeout(common::PATIENCE)
        .expect("wait returned after relaying the record");
    let (mut mp, finished) = waiter.join().unwrap();
    assert!(!finished);
    assert_eq!(common::kept_records("keep-wait-race").len(), 1);
    mp.killall();
}
