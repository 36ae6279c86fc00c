//! Every task ends with an outcome the caller can inspect, whatever it did.

mod common;

use std::path::PathBuf;

use dummymp::{DummyMp, Outcome, Priority};

dummymp::enable_test_support!();

fn nuclear() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp
}

fn panics(message: String) -> u8 {
    panic!("{message}");
}

fn aborts((): ()) -> u8 {
    std::process::abort();
}

fn exits(code: i32) -> u8 {
    std::process::exit(code);
}

fn kills_itself((): ()) -> u8 {
    let me = rustix::process::getpid();
    rustix::process::kill_process(me, rustix::process::Signal::KILL).unwrap();
    unreachable!("SIGKILL cannot be caught");
}

fn fine(x: u8) -> u8 {
    x
}

#[test]
fn a_panic_is_reported_with_message_and_location() {
    let mut mp = nuclear();
    let task = mp.run(panics, "the sky is falling".to_string()).unwrap();
    let ok = mp.run(fine, 1).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::Panicked { message, location }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert_eq!(message, "the sky is falling");
    let location = location.as_deref().unwrap();
    assert!(location.starts_with("tests/outcomes.rs:"), "{location}");
    assert_eq!(mp.value(ok), Some(&1), "the other task is untouched");
    assert!(mp.value(task).is_none());
}

#[test]
fn an_abort_is_reported_as_sigabrt() {
    let mut mp = nuclear();
    let task = mp.run(aborts, ()).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::Signaled { signal: 6 }));
    assert!(mp.outcome(task).unwrap().to_string().contains("SIGABRT"));
}

#[test]
fn an_exit_code_is_reported() {
    let mut mp = nuclear();
    let three = mp.run(exits, 3).unwrap();
    let zero = mp.run(exits, 0).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(three), Some(&Outcome::Exited { code: 3 }));
    assert_eq!(
        mp.outcome(zero),
        Some(&Outcome::Exited { code: 0 }),
        "exiting without returning is not a return"
    );
}

#[test]
fn a_sigkill_is_reported() {
    let mut mp = nuclear();
    let task = mp.run(kills_itself, ()).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::Signaled { signal: 9 }));
    assert_eq!(mp.report(task).unwrap().function, "fn(()) -> u8");
}

#[test]
fn a_worker_that_cannot_start_ends_its_task_with_the_os_error() {
    let mut mp = nuclear();
    mp.set_worker_program(Some(PathBuf::from("/nonexistent/dummymp-worker")));
    let task = mp.run(fine, 1).unwrap();
    let other = mp.run(fine, 2).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::FailedToStart { error, errno }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert_eq!(*errno, Some(2), "ENOENT: {error}");
    assert!(matches!(
        mp.outcome(other),
        Some(Outcome::FailedToStart { .. })
    ));
    assert_eq!(mp.progress().completed, 2);
    // Back to our own executable: works again.
    mp.set_worker_program(None);
    let again = mp.run(fine, 3).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(again), Some(&3));
}

#[test]
fn a_worker_from_another_executable_refuses_to_run() {
    // A copy of this test executable with another build id: the identity a
    // rebuilt program would have.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-build");
    let mut bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    // An ELF note: name size 4, descriptor size 20, type 3 (NT_GNU_BUILD_ID),
    // name "GNU\0", then the 20-byte build id.
    let header: [u8; 16] = [4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, b'G', b'N', b'U', 0];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .expect("the executable has a GNU build id")
        + header.len();
    for b in &mut bytes[at..at + 20] {
        *b ^= 0x5a;
    }
    std::fs::write(&other, &bytes).unwrap();
    let mut permissions = std::fs::metadata(&other).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&other, permissions).unwrap();

    let mut mp = nuclear();
    mp.set_worker_program(Some(other));
    let task = mp.run(fine, 1).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::Failed { reason }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert!(reason.contains("different executable"), "{reason}");
    assert!(mp.value(task).is_none());
}

#[test]
fn outcomes_read_well() {
    let cases = [
        (Outcome::Returned, "returned"),
        (
            Outcome::Exited { code: 3 },
            "exited with code 3 before returning",
        ),
        (
            Outcome::Signaled { signal: 9 },
            "was killed by signal 9 (SIGKILL)",
        ),
        (Outcome::Killed, "was killed by killall"),
        (
            Outcome::Panicked {
                message: "boom".into(),
                location: Some("src/main.rs:1:2".into()),
            },
            "panicked at src/main.rs:1:2: boom",
        ),
    ];
    for (outcome, text) in cases {
        assert_eq!(outcome.to_string(), text);
    }
}
