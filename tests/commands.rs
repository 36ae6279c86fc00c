//! Commands as tasks, per-task timeouts, killing one task, retries: what
//! the engine gives every kind of task.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use dummymp::engine::{Engine, Event, OutputRoute, TaskSpec};
use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority, Scheduler, TaskOptions};

dummymp::enable_test_support!();

crate::role_programs! {
    "command-parent-to-kill" => command_parent_to_kill(),
}

/// Role: starts two commands that never end, says their pids, and waits.
fn command_parent_to_kill() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Untagged);
    for _ in 0..2 {
        mp.run_command(Command::shell("echo $$; exec sleep 1000"))
            .unwrap();
    }
    let _ = mp.process_until_done();
    1
}

fn quiet() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp
}

/// The pids a task printed, one per line.
fn pids_printed(stdout: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect()
}

#[test]
fn a_command_reports_its_exit_code_and_output() {
    let mut mp = quiet();
    let ok = mp
        .run_command(Command::new("sh").args(["-c", "echo out; echo err >&2"]))
        .unwrap();
    let failing = mp.run_command(Command::shell("exit 7")).unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(ok).unwrap();
    assert_eq!(report.outcome, Outcome::Exited { code: 0 });
    assert!(report.outcome.is_success());
    assert_eq!(report.stdout, b"out\n");
    assert_eq!(report.stderr, b"err\n");
    assert_eq!(report.name, "sh -c echo out; echo err >&2");
    assert_eq!(mp.outcome(failing), Some(&Outcome::Exited { code: 7 }));
}

#[test]
fn a_command_gets_its_environment_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut mp = quiet();
    let id = mp
        .run_command(
            Command::shell("echo \"$GREETING\" in $(pwd); echo ${HOME:-no home}")
                .env("GREETING", "hello; $(touch pwned)")
                .env_remove("HOME")
                .current_dir(dir.path()),
        )
        .unwrap();
    mp.process_until_done().unwrap();
    let expected = format!(
        "hello; $(touch pwned) in {}\nno home\n",
        dir.path().canonicalize().unwrap().display()
    );
    assert_eq!(
        String::from_utf8_lossy(&mp.report(id).unwrap().stdout),
        expected
    );
    assert!(!dir.path().join("pwned").exists());
}

#[test]
fn a_missing_program_fails_to_start_and_says_so() {
    let mut mp = quiet();
    let id = mp
        .run_command(Command::new("/nonexistent/program"))
        .unwrap();
    let fine = mp.run_command(Command::new("true")).unwrap();
    mp.process_until_done().unwrap();
    match mp.outcome(id) {
        Some(Outcome::FailedToStart { errno, .. }) => assert_eq!(*errno, Some(2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(mp.outcome(fine), Some(&Outcome::Exited { code: 0 }));
}

#[test]
fn a_timeout_ends_a_command_and_its_grandchildren() {
    let mut mp = quiet();
    mp.set_kill_grace(Duration::from_millis(100));
    let options = TaskOptions::new().timeout(Duration::from_millis(300));
    // The grandchild ignores SIGTERM: only SIGKILL after the grace period
    // ends it.
    let id = mp
        .run_command_with(
            options,
            Command::shell("sh -c 'trap \"\" TERM; exec sleep 1000' & echo $!; wait"),
        )
        .unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(id).unwrap();
    assert_eq!(report.outcome, Outcome::TimedOut);
    let grandchildren = pids_printed(&report.stdout);
    assert_eq!(grandchildren.len(), 1);
    // process_until_done returns only when nothing of the task is alive.
    for pid in grandchildren {
        assert!(
            !common::is_alive(pid),
            "grandchild {pid} survived the timeout"
        );
    }
}

/// Starts a grandchild that ignores SIGTERM, prints its pid, and never
/// returns.
#[allow(clippy::zombie_processes)]
fn hangs_with_a_grandchild((): ()) -> u8 {
    let child = std::process::Command::new("sh")
        .args(["-c", "trap '' TERM; exec sleep 1000"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    println!("{}", child.id());
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

#[test]
fn a_timeout_ends_a_function_task_and_its_grandchildren() {
    let mut mp = quiet();
    mp.set_kill_grace(Duration::from_millis(100));
    let options = TaskOptions::new().timeout(Duration::from_millis(500));
    let task = mp.run_with(options, hangs_with_a_grandchild, ()).unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(task).unwrap();
    assert_eq!(report.outcome, Outcome::TimedOut);
    let grandchildren = pids_printed(&report.stdout);
    assert_eq!(grandchildren.len(), 1, "{report:?}");
    assert!(!common::is_alive(grandchildren[0]));
}

#[test]
fn kill_ends_one_task_and_leaves_the_others() {
    let mut mp = quiet();
    let doomed = mp.run_command(Command::new("sleep").arg("1000")).unwrap();
    let queued = mp.run_command(Command::new("sleep").arg("1000")).unwrap();
    let fine = mp.run_command(Command::new("echo").arg("fine")).unwrap();
    mp.set_max_processes(2);
    mp.process_process().unwrap();
    assert_eq!(mp.running_pids().len(), 2, "the cap holds the third back");
    assert!(mp.kill(doomed));
    assert!(mp.kill(queued));
    assert!(!mp.kill(99), "no such task");
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(doomed), Some(&Outcome::Killed));
    assert_eq!(mp.outcome(queued), Some(&Outcome::Killed));
    assert_eq!(mp.report(queued).unwrap().attempts, 1);
    assert_eq!(mp.outcome(fine), Some(&Outcome::Exited { code: 0 }));
}

#[test]
fn retries_run_a_failing_task_again_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    // Fails twice, then succeeds.
    let flaky = format!(
        "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -ge 3 ]",
        counter.display()
    );
    let mut mp = quiet();
    let enough = mp
        .run_command_with(TaskOptions::new().retries(5), Command::shell(&flaky))
        .unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(enough).unwrap();
    assert_eq!(report.outcome, Outcome::Exited { code: 0 });
    assert_eq!(report.attempts, 3);

    std::fs::remove_file(&counter).unwrap();
    let too_few = mp
        .run_command_with(TaskOptions::new().retries(1), Command::shell(&flaky))
        .unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(too_few).unwrap();
    assert_eq!(report.outcome, Outcome::Exited { code: 1 });
    assert_eq!(report.attempts, 2);
}

#[test]
fn commands_do_not_outlive_a_parent_killed_with_sigkill() {
    let mut parent = common::role_command("command-parent-to-kill")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let pids: Vec<u32> = (0..2)
        .map(|_| lines.next().unwrap().unwrap().trim().parse().unwrap())
        .collect();
    common::send_signal(parent.id(), rustix::process::Signal::KILL);
    parent.wait().unwrap();
    for pid in pids {
        assert!(
            common::wait_gone(pid, Duration::from_secs(60)),
            "command {pid} outlived its parent"
        );
    }
}

#[test]
fn slots_are_the_smallest_free_numbers() {
    let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 3));
    for _ in 0..9 {
        engine.submit(
            TaskSpec::command_with("slot", |start| {
                Command::new("echo").arg(start.slot.to_string())
            })
            .with_output(OutputRoute::Events),
        );
    }
    let mut slots = Vec::new();
    while !engine.is_idle() {
        engine
            .process(&mut |event: Event<'_>| {
                if let Event::Output { data, .. } = event {
                    slots.push(
                        String::from_utf8_lossy(data)
                            .trim()
                            .parse::<usize>()
                            .unwrap(),
                    );
                }
            })
            .unwrap();
        if !engine.is_idle() {
            engine.wait(None, &[]).unwrap();
        }
    }
    assert_eq!(slots.len(), 9);
    assert!(slots.iter().all(|s| (1..=3).contains(s)), "{slots:?}");
}

#[test]
fn tasks_that_cannot_start_fail_in_turn_without_hanging() {
    let mut mp = quiet();
    mp.set_max_processes(1);
    let ids: Vec<_> = (0..3)
        .map(|_| {
            mp.run_command(Command::new("/nonexistent/program"))
                .unwrap()
        })
        .collect();
    mp.process_until_done().unwrap();
    for id in ids {
        assert!(matches!(
            mp.outcome(id),
            Some(Outcome::FailedToStart { .. })
        ));
    }
}
