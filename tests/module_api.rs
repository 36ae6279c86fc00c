//! The original's module-level API, on the process-wide default instance.
//!
//! One test only: the default instance is shared by the whole process.

use std::sync::{Arc, Mutex};

use dummymp::{Priority, Progress};

dummymp::enable_test_support!();

fn test(seconds: u64) -> Option<u64> {
    (seconds > 1).then_some(seconds)
}

#[test]
fn the_seed_example_with_module_level_functions() {
    assert_eq!(dummymp::get_version(), env!("CARGO_PKG_VERSION"));
    assert!(dummymp::get_total_cpus() >= 1);
    assert_eq!(dummymp::get_priority_mode(), Priority::Normal);
    assert_eq!(dummymp::get_max_processes(), 0);

    dummymp::set_priority_mode(Priority::Nuclear);
    assert_eq!(dummymp::get_cpu_avail(), dummymp::usable_cpus());

    let starts = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let ends = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let (s, e) = (Arc::clone(&starts), Arc::clone(&ends));
    dummymp::set_start_callback(move |p| s.lock().unwrap().push(p));
    dummymp::set_end_callback(move |p| e.lock().unwrap().push(p));

    dummymp::run(test, 2).unwrap();
    dummymp::run(test, 1).unwrap();
    dummymp::run(test, 3).unwrap();
    dummymp::set_max_processes(2);
    assert_eq!(dummymp::get_max_processes(), 2);
    dummymp::process_until_done().unwrap();
    let returns = dummymp::get_returns::<Option<u64>>().unwrap();
    assert_eq!(
        returns.into_iter().collect::<Vec<_>>(),
        [(0, Some(2)), (1, None), (2, Some(3))]
    );
    assert_eq!(starts.lock().unwrap().len(), 3);
    assert!(starts.lock().unwrap().iter().all(|p| p.running <= 2));
    assert_eq!(ends.lock().unwrap().last().unwrap().completed, 3);

    dummymp::reset();
    assert!(dummymp::get_returns::<Option<u64>>().unwrap().is_empty());
    assert_eq!(dummymp::get_max_processes(), 0);
    assert_eq!(dummymp::get_priority_mode(), Priority::Normal);

    // The pumping loop of the original.
    dummymp::set_priority_mode(Priority::Nuclear);
    dummymp::run(test, 5).unwrap();
    dummymp::run(test, 0).unwrap();
    while !dummymp::process_process().unwrap() {
        dummymp::process_queue().unwrap();
        std::thread::yield_now();
    }
    assert_eq!(dummymp::get_returns::<Option<u64>>().unwrap().len(), 2);
    // The callbacks went with the reset.
    assert_eq!(starts.lock().unwrap().len(), 3);

    dummymp::killall();
    assert_eq!(
        dummymp::get_returns::<Option<u64>>().unwrap().len(),
        2,
        "killall keeps returns"
    );
    dummymp::reset();
    dummymp::process_until_done().unwrap();
    assert!(dummymp::get_returns::<Option<u64>>().unwrap().is_empty());
}
