//! A program that forgets `dummymp::init()` never multiplies: each of its
//! workers ends before it can start workers of its own, and the parent
//! reports why.
//!
//! This test crate deliberately has no `enable_test_support!`: its role
//! program is a `main` that queues work without calling `init()` first.

mod common;

use std::io::BufRead;
use std::process::Stdio;

/// The role program: the `main` of a program that forgot `init()`. Every
/// process that runs it appends its pid to the file `DUMMYMP_TEST_PIDS`
/// names, then queues four tasks (two at a time) and prints how each
/// ended.
#[ctor::ctor(unsafe)]
fn forgetful_main() {
    if std::env::var("DUMMYMP_TEST_ROLE").as_deref() != Ok("forgetful-parent") {
        return;
    }
    let pids = std::env::var("DUMMYMP_TEST_PIDS").expect("pid file");
    // A safety valve should the promise ever break: the test then fails on
    // the count instead of filling the machine with processes.
    let started = std::fs::read_to_string(&pids).unwrap_or_default();
    if started.lines().count() >= 20 {
        std::process::exit(0);
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(pids)
        .expect("pid file opens");
    std::io::Write::write_all(&mut file, format!("{}\n", std::process::id()).as_bytes())
        .expect("pid written");
    drop(file);

    let mut mp = dummymp::DummyMp::new();
    mp.set_priority_mode(dummymp::Priority::Nuclear);
    mp.set_max_processes(2);
    for x in 0..4u32 {
        mp.run(double, x).expect("queued");
    }
    mp.process_until_done().expect("processed");
    for report in mp.reports() {
        println!("outcome: {}", report.outcome);
    }
    std::process::exit(0);
}

fn double(x: u32) -> u32 {
    x * 2
}

#[test]
fn a_program_without_init_fails_its_tasks_and_never_multiplies() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    std::fs::write(&pids, "").unwrap();
    let output = common::role_command("forgetful-parent")
        .env("DUMMYMP_TEST_PIDS", &pids)
        .stdin(Stdio::null())
        .output()
        .expect("the role program runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");

    let outcomes: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("outcome: "))
        .collect();
    assert_eq!(outcomes.len(), 4, "{stdout}");
    for outcome in outcomes {
        assert!(
            outcome.contains(
                "the program did not call dummymp::init() first in main \
                 (or enable_test_support! in tests)"
            ),
            "{outcome}"
        );
    }

    // The parent, and each of its four workers once: no worker started a
    // worker of its own.
    let started = std::fs::File::open(&pids).unwrap();
    let lines = std::io::BufReader::new(started).lines().count();
    assert_eq!(lines, 1 + 4, "processes that ran main");
}
