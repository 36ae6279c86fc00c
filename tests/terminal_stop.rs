//! Pausing every task from the front end (what Ctrl-Z needs): tasks stop
//! and continue, the queue waits meanwhile, timeouts do not run, and a
//! library program wired to SIGTSTP as the crate documentation shows stops
//! with its tasks.

mod common;

use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{role_command, send_signal};
use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority, TaskId, TaskOptions};
use rustix::process::Signal;

dummymp::enable_test_support!();

crate::role_programs! {
    "wired-to-sigtstp" => wired_to_sigtstp(),
    "paused-twice" => paused_twice(),
}

/// How long anything may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A task that records its process id (its process group) in
/// `DIR/NAME.pid`, keeps a child in its group, and waits for a line on its
/// fifo `DIR/NAME.go` before it ends.
fn waiting_task(dir: &Path, name: &str) -> Command {
    let fifo = dir.join(format!("{name}.go"));
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let pid = dir.join(format!("{name}.pid"));
    Command::shell(format!(
        "sleep 1000 & echo $$ > {pid}.tmp; mv {pid}.tmp {pid}; read x < {fifo}; kill $!",
        pid = pid.display(),
        fifo = fifo.display()
    ))
}

/// The process group `NAME` recorded, once it has.
fn recorded_group(dir: &Path, name: &str) -> Option<i32> {
    std::fs::read_to_string(dir.join(format!("{name}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Lets task `NAME` end: one line on its fifo (fails rather than blocks
/// when nobody reads it).
fn let_go(dir: &Path, name: &str) {
    let path = dir.join(format!("{name}.go"));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let fifo = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&path);
        if let Ok(mut fifo) = fifo {
            fifo.write_all(b"go\n").unwrap();
            return;
        }
        assert!(Instant::now() < deadline, "task {name} never read its fifo");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The states of the live processes of group `pgid` (zombies left out).
fn group_states(pgid: i32) -> Vec<char> {
    let group = pgid.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
            let state = fields.first()?.chars().next()?;
            (fields.get(2) == Some(&group.as_str()) && state != 'Z' && state != 'X')
                .then_some(state)
        })
        .collect()
}

/// Waits (looking every 20 ms: no event tells) until every process of
/// group `pgid` (a task's shell and its child) is stopped, or none is.
fn wait_for_group(pgid: i32, stopped: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let states = group_states(pgid);
        if states.len() >= 2 && states.iter().all(|&s| (s == 'T') == stopped) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group {pgid} was never {}: {states:?}",
            if stopped { "stopped" } else { "continued" }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Processes `mp` until `done` holds, for at most [`PATIENCE`].
fn process_until(mp: &mut DummyMp, what: &str, mut done: impl FnMut(&mut DummyMp) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(mp) {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        mp.wait(Some(Duration::from_millis(100))).unwrap();
    }
}

fn quiet_queue() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp
}

#[test]
fn pause_all_stops_the_tasks_and_the_queue_until_resume_all() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut mp = quiet_queue();
    mp.set_max_processes(2);
    let ids: Vec<TaskId> = ["a", "b", "c"]
        .iter()
        .map(|name| mp.run_command(waiting_task(dir, name)).unwrap())
        .collect();
    process_until(&mut mp, "two tasks to start", |_| {
        recorded_group(dir, "a").is_some() && recorded_group(dir, "b").is_some()
    });
    let (a, b) = (
        recorded_group(dir, "a").unwrap(),
        recorded_group(dir, "b").unwrap(),
    );

    mp.pause_all();
    assert!(mp.is_paused());
    wait_for_group(a, true);
    wait_for_group(b, true);
    // A task ended while paused frees its place, but nothing starts.
    assert!(mp.kill(ids[0]));
    process_until(&mut mp, "the killed task to end", |mp| {
        mp.outcome(ids[0]).is_some()
    });
    assert_eq!(mp.outcome(ids[0]), Some(&Outcome::Killed));
    mp.process_process().unwrap();
    assert_eq!(mp.queued(), 1, "the third task waits while paused");
    assert_eq!(group_states(b).iter().filter(|&&s| s == 'T').count(), 2);

    mp.resume_all();
    assert!(!mp.is_paused());
    wait_for_group(b, false);
    process_until(&mut mp, "the third task to start", |_| {
        recorded_group(dir, "c").is_some()
    });
    let_go(dir, "b");
    let_go(dir, "c");
    process_until(&mut mp, "every task to end", |mp| {
        mp.progress().completed == 3
    });
    for id in &ids[1..] {
        assert_eq!(mp.outcome(*id), Some(&Outcome::Exited { code: 0 }));
    }
}

#[test]
fn a_paused_tasks_timeout_does_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut mp = quiet_queue();
    let options = TaskOptions::new().timeout(Duration::from_secs(2));
    let id = mp
        .run_command_with(options, waiting_task(dir, "a"))
        .unwrap();
    process_until(&mut mp, "the task to start", |_| {
        recorded_group(dir, "a").is_some()
    });
    let group = recorded_group(dir, "a").unwrap();
    mp.pause_all();
    wait_for_group(group, true);
    // Paused for longer than the timeout, and processed meanwhile: the
    // timeout would have ended it.
    let paused_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < paused_until {
        mp.wait(Some(Duration::from_millis(200))).unwrap();
    }
    assert_eq!(mp.outcome(id), None, "still running");
    mp.resume_all();
    wait_for_group(group, false);
    let_go(dir, "a");
    process_until(&mut mp, "the task to end", |mp| mp.outcome(id).is_some());
    assert_eq!(mp.outcome(id), Some(&Outcome::Exited { code: 0 }));
}

/// Role: a program wired to SIGTSTP as the crate documentation shows (with
/// `signal-hook`), running one waiting task in `DIR`; prints the task's
/// outcome.
fn wired_to_sigtstp() -> i32 {
    let dir = PathBuf::from(std::env::var_os("DIR").unwrap());
    let ctrl_z = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTSTP, Arc::clone(&ctrl_z)).unwrap();
    let mut mp = quiet_queue();
    let id = mp.run_command(waiting_task(&dir, "a")).unwrap();
    while !mp.wait(Some(Duration::from_millis(100))).unwrap() {
        if ctrl_z.swap(false, Ordering::Relaxed) {
            mp.pause_all();
            signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTSTP).unwrap();
            mp.resume_all();
        }
    }
    println!("outcome {}", mp.outcome(id).unwrap());
    0
}

/// The state letter of process `pid`.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// A role program that is killed if the test fails before it ends.
struct Program(std::process::Child);

impl Drop for Program {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn a_program_wired_to_sigtstp_stops_with_its_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let mut program = Program(
        role_command("wired-to-sigtstp")
            .env("DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pid = program.0.id();
    // What it prints, read on a thread so that waiting for it has a
    // deadline.
    let stdout = program.0.stdout.take().unwrap();
    let (tx, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let group = loop {
        if let Some(group) = recorded_group(dir.path(), "a") {
            break group;
        }
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    wait_for_group(group, false);

    send_signal(pid, Signal::TSTP);
    wait_for_group(group, true);
    let deadline = Instant::now() + PATIENCE;
    while state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "the program never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }

    send_signal(pid, Signal::CONT);
    wait_for_group(group, false);
    let_go(dir.path(), "a");
    let outcome = printed
        .recv_timeout(PATIENCE)
        .expect("the program prints the task's outcome");
    assert_eq!(outcome, format!("outcome {}", Outcome::Exited { code: 0 }));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = program.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the program never exited");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

/// Role (in a PID namespace of its own, on one CPU): a Generous engine runs
/// one task; a foreign loop (started by the namespace's script when this
/// writes to the fifo `DIR/load`) gets it paused for the load; the front
/// end pauses everything too; the loop stops (second write) and the load
/// pause is lifted, but the task stays stopped until `resume_all`. Prints
/// what it saw; exits 1 when something did not happen in time.
fn paused_twice() -> i32 {
    use dummymp::Scheduler;
    use dummymp::engine::{Engine, Event, TaskSpec};

    let dir = PathBuf::from(std::env::var_os("DIR").unwrap());
    let tell_script = || {
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("load"))
            .unwrap();
        fifo.write_all(b"next\n").unwrap();
    };
    let mut engine = Engine::new(Scheduler::new(Priority::Generous, 0));
    engine.submit(TaskSpec::command(Command::shell("exec sleep 1000")));
    let mut task = None;
    let (mut paused, mut resumed) = (false, false);
    // Processes until `done` holds; false after PATIENCE.
    let mut turn_until = |engine: &mut Engine, done: &dyn Fn(Option<u32>, bool, bool) -> bool| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            engine
                .process(&mut |event: Event<'_>| match event {
                    Event::Started { pid, .. } => task = Some(pid),
                    Event::Paused { .. } => paused = true,
                    Event::Resumed { .. } => resumed = true,
                    _ => {}
                })
                .unwrap();
            if done(task, paused, resumed) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            engine.wait(Some(deadline), &[]).unwrap();
        }
    };
    if !turn_until(&mut engine, &|task, _, _| task.is_some()) {
        println!("the task never started");
        return 1;
    }
    tell_script(); // start the loop
    if !turn_until(&mut engine, &|_, paused, _| paused) {
        println!("the task was never paused for the load");
        return 1;
    }
    engine.pause_all();
    tell_script(); // stop the loop
    if !turn_until(&mut engine, &|_, _, resumed| resumed) {
        println!("the load pause was never lifted");
        return 1;
    }
    let pid = task.unwrap();
    println!("load pause lifted, task state {:?}", state(pid));
    engine.resume_all();
    let deadline = Instant::now() + PATIENCE;
    while state(pid) == Some('T') {
        if Instant::now() >= deadline {
            println!("the task never continued");
            return 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("continued after resume_all");
    engine.killall(&mut |_: Event<'_>| {});
    0
}

/// The first CPU this test may run on (from `Cpus_allowed_list`).
fn first_allowed_cpu() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .unwrap();
    list.trim().split([',', '-']).next().unwrap().to_string()
}

// A task paused both for other users' load and by the front end runs again
// only when both pauses are over. Run in a PID namespace of its own, so
// that the only load the scheduler sees is the test's loop.
#[test]
fn a_task_paused_for_load_and_by_the_front_end_waits_for_both() {
    let allowed = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !allowed {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: cannot make a PID namespace (needs root and unshare)"
        );
        eprintln!("skipped: cannot make a PID namespace here (needs root and unshare)");
        return;
    }
    // Its busy loop is other tests' foreign load.
    let _cpus = common::cpu_heavy_section();
    let dir = tempfile::tempdir().unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("load"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let cpu = first_allowed_cpu();
    let script = format!(
        "taskset -c {cpu} \"$0\" > out.txt 2>&1 &
         read x < load
         taskset -c {cpu} sh -c 'while :; do :; done' &
         read x < load
         kill $!
         wait"
    );
    let mut namespace = Program(
        std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(["sh", "-c", &script])
            .arg(std::env::current_exe().unwrap())
            .env("DUMMYMP_TEST_ROLE", "paused-twice")
            .env("DIR", dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + PATIENCE * 3;
    let status = loop {
        if let Some(status) = namespace.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the role program never ended");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(status.success(), "{out}");
    assert_eq!(
        out,
        "load pause lifted, task state Some('T')\ncontinued after resume_all\n"
    );
}
