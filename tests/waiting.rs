//! `DummyMp::wait` returns once something happened: a message relayed in
//! the processing it does before sleeping counts.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use dummymp::{DummyMp, OutputMode, Priority};
use rustix::process::Signal;

dummymp::enable_test_support!();

/// Logs one record, leaves a marker file once it has, and waits to be
/// killed.
fn logs_once_then_waits(marker: String) -> u8 {
    log::info!(target: "keep-waiting", "{}", std::process::id());
    std::fs::write(&marker, b"").unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

#[test]
fn wait_returns_after_relaying_a_record_that_was_already_in() {
    common::install_logger();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("logged");
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.run(logs_once_then_waits, marker.to_string_lossy().into_owned())
        .unwrap();
    mp.process_process().unwrap();
    // No event tells that the record is in the pipe: the file does.
    while !marker.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        common::kept_records("keep-waiting").is_empty(),
        "not read yet"
    );

    // The record is waiting to be read: `wait` must relay it and return,
    // not relay it and then sleep until the next event (there is none).
    let (done, returned) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let result = mp.wait(None).map(|_| ());
        done.send(()).unwrap();
        (mp, result)
    });
    let returned_by_itself = returned.recv_timeout(Duration::from_secs(60)).is_ok();
    let pid: u32 = common::kept_records("keep-waiting")[0]
        .message
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    if !returned_by_itself {
        // Release the waiter: the task's end is an event.
        common::send_signal(pid, Signal::KILL);
    }
    let (mut mp, result) = waiter.join().unwrap();
    result.unwrap();
    mp.killall();
    assert!(
        returned_by_itself,
        "wait relayed the record, then slept until the task was killed"
    );
}
