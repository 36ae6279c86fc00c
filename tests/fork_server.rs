//! The fork server: fresh workers are forked copies of the program as it
//! was at `init`, brought up to date with the program's environment,
//! working directory and resource limits, and the server goes away with the
//! program.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use dummymp::{DummyMp, Outcome, Priority};

dummymp::enable_test_support!();

crate::role_programs! {
    "report-worker-parent" => report_worker_parent(),
    "report-worker-core-limit" => report_worker_core_limit(),
    "exit-taken-while-forking" => exit_taken_while_forking(),
}

/// The pid of the worker's parent, and what the environment variable
/// `DUMMYMP_TEST_LATE` says.
fn parent_and_late((): ()) -> (u32, Option<String>) {
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
    (parent, std::env::var("DUMMYMP_TEST_LATE").ok())
}

/// Role: runs one task and prints the pid of its worker's parent and this
/// process's pid, then exits.
fn report_worker_parent() -> i32 {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    let task = mp.run(parent_and_late, ()).unwrap();
    mp.process_until_done().unwrap();
    let (parent, _) = mp.value(task).unwrap();
    println!("{parent} {}", std::process::id());
    0
}

/// The worker's soft limit on core files (`None`: unlimited).
fn core_limit((): ()) -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Core).current
}

/// Role: lowers its soft core-file limit after `init` (and so after the
/// server was forked), then prints a fresh worker's limit, lowered again,
/// and a fresh worker's limit once more.
fn report_worker_core_limit() -> i32 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lower = |soft: u64| {
        let hard = getrlimit(Resource::Core).maximum;
        setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(soft),
                maximum: hard,
            },
        )
        .unwrap();
    };
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    for soft in [12_288, 8_192] {
        lower(soft);
        let task = mp.run(core_limit, ()).unwrap();
        mp.process_until_done().unwrap();
        println!("{:?}", mp.value(task).unwrap());
    }
    0
}

#[test]
fn a_resource_limit_set_after_init_reaches_forked_workers() {
    let output = common::role_command("report-worker-core-limit")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text, "Some(12288)\nSome(8192)\n");
}

#[test]
fn workers_are_forked_by_the_server_and_see_the_current_environment() {
    // SAFETY: the variable is set by this test only, and read by workers in
    // other processes; no other test reads or writes it.
    unsafe { std::env::set_var("DUMMYMP_TEST_LATE", "set after init") };
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    let task = mp.run(parent_and_late, ()).unwrap();
    mp.process_until_done().unwrap();
    let (parent, late) = mp.value(task).unwrap().clone();
    assert_ne!(
        parent,
        std::process::id(),
        "the worker's parent is the fork server"
    );
    assert_eq!(late.as_deref(), Some("set after init"));
}

#[test]
fn without_the_server_workers_are_our_own_children() {
    let output = common::role_command("report-worker-parent")
        .env("DUMMYMP_FORK_SERVER", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let (parent, role) = text.trim().split_once(' ').unwrap();
    assert_eq!(parent, role, "executed workers are the program's children");
}

#[test]
fn the_server_goes_away_with_the_program() {
    let mut role = common::role_command("report-worker-parent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(role.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert!(role.wait().unwrap().success());
    let (server, program) = line.split_once(' ').unwrap();
    assert_ne!(server, program);
    let server: u32 = server.parse().unwrap();
    assert!(
        common::wait_gone(server, Duration::from_secs(60)),
        "the fork server {server} outlived its program"
    );
}

fn crash((): ()) -> u8 {
    std::process::abort()
}

#[test]
fn a_forked_worker_s_crash_is_reported_with_its_signal() {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    let task = mp.run(crash, ()).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::Signaled { signal: 6 }));
}

/// The children of process `pid` (every thread's).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for thread in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let path = thread.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        children.extend(text.split_whitespace().map(|c| c.parse::<u32>().unwrap()));
    }
    children
}

fn nothing((): ()) {}

fn sleep_long((): ()) {
    std::thread::sleep(Duration::from_secs(3600));
}

/// Role: three workers start in one pass. While the second one starts, the
/// first (which exits at once) is reaped by the server, whose report of
/// that exit then comes ahead of the reply for the third start, so that
/// starting the third takes the report off the server's channel. The first
/// task's end must still be noticed: its end callback stops the other two
/// (they would sleep for an hour), and the role prints the outcomes. Before
/// the fix the end went unnoticed until some other event: the run hung.
fn exit_taken_while_forking() -> i32 {
    use std::sync::Mutex;
    // A hang fails the test instead of holding it for ever.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(120));
        eprintln!("the first task's end was not noticed within 120 s");
        std::process::exit(3);
    });
    let server = *children_of(std::process::id())
        .first()
        .expect("the fork server is this process's child");
    let first_worker: &'static Mutex<Option<u32>> = Box::leak(Box::new(Mutex::new(None)));
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_capacity(3);
    mp.set_max_processes(3);
    mp.set_start_callback(move |progress| {
        let workers = children_of(server);
        match progress.running {
            1 => *first_worker.lock().unwrap() = workers.first().copied(),
            2 => {
                let first = first_worker
                    .lock()
                    .unwrap()
                    .expect("seen at the first start");
                // No event says that another process reaped it: look.
                while children_of(server).contains(&first) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            _ => {}
        }
    });
    mp.set_end_callback(move |progress| {
        if progress.completed == 1 {
            for worker in children_of(server) {
                common::send_signal(worker, rustix::process::Signal::TERM);
            }
        }
    });
    let first = mp.run(nothing, ()).unwrap();
    let others = [
        mp.run(sleep_long, ()).unwrap(),
        mp.run(sleep_long, ()).unwrap(),
    ];
    mp.process_until_done().unwrap();
    println!("{:?}", mp.outcome(first).unwrap());
    for task in others {
        println!("{:?}", mp.outcome(task).unwrap());
    }
    0
}

#[test]
fn an_exit_reported_while_another_worker_is_forked_is_noticed() {
    let output = common::role_command("exit-taken-while-forking")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text, "Returned\nSignaled { signal: 15 }\nSignaled { signal: 15 }\n",
        "{output:?}"
    );
}
