//! Worker mode cannot be entered by accident: the worker flag typed on a
//! command line, or a ticket variable left in the environment, does not
//! turn a run of the program into a worker.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

dummymp::enable_test_support!();

/// Runs this test executable with `args` and `ticket` in the environment,
/// with a standard input that never ends (a worker would wait on it for a
/// request), and returns its standard output once it has exited.
fn run_harness(args: &[&str], ticket: Option<&str>) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(args)
        .arg("--exact")
        .arg("no_such_test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command.env_remove("DUMMYMP_WORKER_TICKET");
    if let Some(ticket) = ticket {
        command.env("DUMMYMP_WORKER_TICKET", ticket);
    }
    let mut child = command.spawn().unwrap();
    let _stdin_kept_open = child.stdin.take();
    assert!(
        common::wait_gone(child.id(), Duration::from_secs(60)),
        "the program waited like a worker"
    );
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    out
}

#[test]
fn the_flag_alone_does_not_make_a_worker() {
    let out = run_harness(&["__dummymp_worker__", "0123"], None);
    assert!(out.contains("running 0 tests"), "{out}");
}

#[test]
fn a_leftover_ticket_alone_does_not_make_a_worker() {
    let out = run_harness(&[], Some("0123"));
    assert!(out.contains("running 0 tests"), "{out}");
}

#[test]
fn flag_and_a_different_ticket_do_not_make_a_worker() {
    let out = run_harness(&["__dummymp_worker__", "0123"], Some("4567"));
    assert!(out.contains("running 0 tests"), "{out}");
}
