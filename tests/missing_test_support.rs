//! A test crate that forgets `dummymp::enable_test_support!()`: its worker
//! is the test harness, which runs no test and exits. The task fails with a
//! message that names the fix, not a garbled message stream.

fn double(x: u32) -> u32 {
    x * 2
}

#[test]
fn a_test_crate_without_test_support_gets_a_clear_failure() {
    let mut mp = dummymp::DummyMp::new();
    mp.set_priority_mode(dummymp::Priority::Nuclear);
    mp.set_output_mode(dummymp::OutputMode::Captured);
    let task = mp.run(double, 21).unwrap();
    mp.process_until_done().unwrap();
    let outcome = mp.outcome(task).expect("the task ended");
    match outcome {
        dummymp::Outcome::Failed { reason } => assert!(
            reason.contains(
                "the program did not call dummymp::init() first in main \
                 (or enable_test_support! in tests)"
            ),
            "{reason}"
        ),
        other => panic!("expected a failure naming the fix, got {other:?}"),
    }
}
