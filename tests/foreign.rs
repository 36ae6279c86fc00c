//! Foreign workers (how the Python package runs its tasks): the engine
//! starts a program that serves calls with `dummymp::foreign::serve`, hands
//! it opaque payloads, and gets back values, exceptions, log records and
//! output like a Rust worker's.

mod common;

use dummymp::engine::{ForeignWorker, TaskSpec};
use dummymp::foreign::{ForeignCall, ForeignResult};
use dummymp::{DummyMp, Outcome, OutputMode, Priority};

dummymp::enable_test_support!();

crate::role_programs! {
    "foreign-worker" => foreign_worker(),
}

/// Role: a foreign worker. Reverses its payload; raises on `raise`, prints
/// and logs on `chatty`, exits on `exit`.
fn foreign_worker() -> i32 {
    dummymp::foreign::serve(|call: &ForeignCall<'_>| match call.payload {
        b"raise" => ForeignResult::Raised {
            exception: "ValueError".into(),
            message: "bad value".into(),
            traceback: "Traceback (most recent call last):\n  ...".into(),
        },
        b"chatty" => {
            println!("printed by {}", call.name);
            log::info!(target: "keep-foreign", "logged by {}", call.name);
            ForeignResult::Returned(b"ok".to_vec())
        }
        b"exit" => std::process::exit(7),
        payload => ForeignResult::Returned(payload.iter().rev().copied().collect()),
    })
}

fn worker() -> ForeignWorker {
    ForeignWorker::new(std::env::current_exe().unwrap())
        .args(["--foreign"])
        .env("DUMMYMP_TEST_ROLE", "foreign-worker")
}

fn queue(reuse: bool) -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp.set_reuse_workers(reuse);
    mp
}

#[test]
fn values_exceptions_and_exits_come_back() {
    for reuse in [false, true] {
        let mut mp = queue(reuse);
        let reversed = mp.run_spec(TaskSpec::foreign(worker(), b"abc".to_vec(), "rev"));
        let raised = mp.run_spec(TaskSpec::foreign(worker(), b"raise".to_vec(), "bad"));
        let exited = mp.run_spec(TaskSpec::foreign(worker(), b"exit".to_vec(), "quits"));
        let after = mp.run_spec(TaskSpec::foreign(worker(), b"xyz".to_vec(), "rev"));
        mp.process_until_done().unwrap();
        assert_eq!(
            mp.report(reversed).unwrap().returned_bytes(),
            Some(&b"cba"[..])
        );
        match mp.outcome(raised) {
            Some(Outcome::Raised {
                exception,
                message,
                traceback,
            }) => {
                assert_eq!(
                    (exception.as_str(), message.as_str()),
                    ("ValueError", "bad value")
                );
                assert!(traceback.starts_with("Traceback"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(mp.outcome(exited), Some(&Outcome::ExitedEarly { code: 7 }));
        assert_eq!(
            mp.report(after).unwrap().returned_bytes(),
            Some(&b"zyx"[..])
        );
    }
}

#[test]
fn output_and_log_records_are_relayed() {
    common::install_logger();
    let mut mp = queue(false);
    let id = mp.run_spec(TaskSpec::foreign(worker(), b"chatty".to_vec(), "talker"));
    mp.process_until_done().unwrap();
    let report = mp.report(id).unwrap();
    assert!(report.outcome.is_success(), "{report:?}");
    assert_eq!(report.stdout, b"printed by talker\n");
    let pid = report.pid.unwrap();
    let logged = common::kept_records("keep-foreign");
    assert!(
        logged
            .iter()
            .any(|r| r.message == format!("[PID {pid}] logged by talker")),
        "{logged:?}"
    );
}

#[test]
fn a_rust_worker_refuses_a_foreign_call() {
    // The test program started as a plain worker (no foreign role).
    let plain = ForeignWorker::new(std::env::current_exe().unwrap());
    let mut mp = queue(false);
    let id = mp.run_spec(TaskSpec::foreign(plain, b"abc".to_vec(), "lost"));
    mp.process_until_done().unwrap();
    match mp.outcome(id) {
        Some(Outcome::Failed { reason }) => {
            assert!(reason.contains("serves no foreign calls"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
