//! What a task started is ended with it, whoever ends the task (its
//! timeout, `killall`, dropping the queue), even processes that left it
//! by double-forking; a daemon started with `setsid` is left alone, as
//! documented.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use dummymp::{DummyMp, Outcome, OutputMode, Priority, TaskHandle, TaskOptions};
use rustix::process::Signal;

dummymp::enable_test_support!();

/// The processes a [`family`] task started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Family {
    /// A child that ignores SIGTERM.
    deaf_child: u32,
    /// A grandchild whose parent exited at once: re-parented, still in
    /// the task's process group.
    orphan: u32,
    /// A daemon in a session (and process group) of its own.
    daemon: u32,
}

/// Starts a [`Family`], says its pids through `log` (target
/// `keep-leftovers`, one record `tag deaf orphan daemon`), and never
/// returns.
#[allow(clippy::zombie_processes)]
fn family(tag: String) -> u8 {
    let deaf = std::process::Command::new("sh")
        .args(["-c", "trap '' TERM; while :; do sleep 1; done"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut forker = std::process::Command::new("sh")
        .args([
            "-c",
            "sh -c \"trap '' TERM; while :; do sleep 1; done\" & echo $!",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(forker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    forker.wait().unwrap();
    // Not a process group leader, so `setsid` calls setsid(2) itself and
    // becomes the daemon (same pid).
    let daemon = std::process::Command::new("setsid")
        .args(["sleep", "1000"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // No event says when setsid(2) has happened: look until it has.
    while session_of(daemon.id()) != Some(daemon.id()) {
        std::thread::sleep(Duration::from_millis(1));
    }
    log::info!(
        target: "keep-leftovers",
        "{tag} {} {} {}",
        deaf.id(),
        line.trim(),
        daemon.id()
    );
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

/// The family the `family(tag)` task `task` reported, once it has.
fn family_of(mp: &mut DummyMp, task: TaskHandle<u8>, tag: &str) -> Family {
    loop {
        assert!(
            mp.outcome(task).is_none(),
            "the task ended before it reported its family: {:?}",
            mp.outcome(task)
        );
        let found = common::kept_records("keep-leftovers").iter().find_map(|r| {
            let words: Vec<&str> = r.message.split(' ').collect();
            // "[PID n] tag deaf orphan daemon"
            let at = words.iter().position(|w| *w == tag)?;
            let pid = |i: usize| words.get(at + i)?.parse().ok();
            Some(Family {
                deaf_child: pid(1)?,
                orphan: pid(2)?,
                daemon: pid(3)?,
            })
        });
        if let Some(family) = found {
            return family;
        }
        // Bounded: see tests/waiting.rs.
        mp.wait(Some(Duration::from_millis(50))).unwrap();
    }
}

/// The pid's session id, from `/proc`.
fn session_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// Checks that the deaf child and the orphan are gone, and that the
/// daemon lives on in a session of its own (then ends it).
fn assert_family_ended_but_the_daemon(family: Family, what: &str) {
    for pid in [family.deaf_child, family.orphan] {
        assert!(
            common::wait_gone(pid, Duration::from_secs(30)),
            "{pid} survived {what}"
        );
    }
    assert!(
        common::is_alive(family.daemon),
        "the setsid daemon {} lives on after {what}, as documented",
        family.daemon
    );
    assert_eq!(session_of(family.daemon), Some(family.daemon));
    common::send_signal(family.daemon, Signal::KILL);
    assert!(common::wait_gone(family.daemon, Duration::from_secs(30)));
}

fn quiet_queue() -> DummyMp {
    common::install_logger();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.set_kill_grace(Duration::from_millis(100));
    mp
}

#[test]
fn a_timeout_ends_everything_the_task_started_in_its_group() {
    let mut mp = quiet_queue();
    // The timeout is long enough for the family to be started and
    // reported; the test waits for the report, not for the timeout.
    let task = mp
        .run_with(
            TaskOptions::new().timeout(Duration::from_secs(5)),
            family,
            "timeout".to_string(),
        )
        .unwrap();
    let family = family_of(&mut mp, task, "timeout");
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::TimedOut));
    assert_family_ended_but_the_daemon(family, "a timeout");
}

#[test]
fn killall_ends_everything_the_task_started_in_its_group() {
    let mut mp = quiet_queue();
    let task = mp.run(family, "killall".to_string()).unwrap();
    let family = family_of(&mut mp, task, "killall");
    mp.killall();
    assert_eq!(mp.outcome(task), Some(&Outcome::Killed));
    assert_family_ended_but_the_daemon(family, "killall");
}

#[test]
fn dropping_the_queue_ends_everything_the_task_started_in_its_group() {
    let family = {
        let mut mp = quiet_queue();
        let task = mp.run(family, "drop".to_string()).unwrap();
        family_of(&mut mp, task, "drop")
    };
    assert_family_ended_but_the_daemon(family, "the drop");
}
