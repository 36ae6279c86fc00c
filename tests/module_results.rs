//! The module-level API beyond the original's names: many at once, `map`,
//! typed and checked returns, why a return is missing, and the capacity.
//!
//! One test only: the default instance is shared by the whole process.

use dummymp::{Error, Outcome, Priority};

dummymp::enable_test_support!();

fn add(a: i32, b: i32) -> i32 {
    a + b
}

fn check(x: i32) -> i32 {
    assert!(x >= 0, "negative: {x}");
    x
}

#[test]
fn module_level_many_at_once_and_why_returns_are_missing() {
    dummymp::set_priority_mode(Priority::Nuclear);
    assert_eq!(dummymp::get_capacity(), 0);
    dummymp::set_capacity(5);
    assert_eq!(dummymp::get_capacity(), 5);
    assert_eq!(dummymp::get_cpu_avail(), 5);

    let handles = dummymp::run_many(add, [(1, 2), (3, 4)]).unwrap();
    dummymp::run(check, -1).unwrap();
    dummymp::process_until_done().unwrap();
    // The wrong type is an error that names the stored types.
    let Err(Error::ReturnType { asked, stored }) = dummymp::get_returns::<u64>() else {
        panic!("the tasks return i32");
    };
    assert_eq!((asked, stored), ("u64", vec!["i32"]));
    let returns = dummymp::get_returns::<i32>().unwrap();
    assert_eq!(returns.into_iter().collect::<Vec<_>>(), [(0, 3), (1, 7)]);
    // Why is index 2 missing?
    let Some(Outcome::Panicked { message, location }) = dummymp::get_outcome(2) else {
        panic!("task 2 panicked: {:?}", dummymp::get_outcome(2));
    };
    assert_eq!(message, "negative: -1");
    assert!(location.unwrap().starts_with("tests/module_results.rs:"));
    let report = dummymp::get_report(2).unwrap();
    assert!(matches!(report.outcome, Outcome::Panicked { .. }));
    assert!(report.pid.is_some());
    assert_eq!(report.attempts, 1);
    // A report copy carries no value; the values are read or taken.
    assert_eq!(dummymp::get_report(handles[0]).unwrap().id, handles[0].id());
    assert!(dummymp::get_outcome(3).is_none());
    let taken = dummymp::take_returns::<i32>().unwrap();
    assert_eq!(taken.len(), 2);
    assert!(dummymp::get_returns::<i32>().unwrap().is_empty());

    // map, in order, and its failures.
    assert_eq!(dummymp::map(check, [3, 1, 2]).unwrap(), [3, 1, 2]);
    let Err(Error::TasksFailed { failed, of: 2 }) = dummymp::map(check, [-5, 5]) else {
        panic!("item 0 fails");
    };
    assert_eq!((failed.len(), failed[0].item), (1, 0));
    assert_eq!(
        dummymp::get_outcome(failed[0].task),
        Some(failed[0].outcome.clone())
    );

    dummymp::reset();
    assert_eq!(dummymp::get_capacity(), 0);
    assert!(dummymp::get_outcome(0).is_none());
}
