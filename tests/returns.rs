//! Returns come back typed, by call order, and none is ever lost.

mod common;

use dummymp::{DummyMp, Outcome, OutputMode, Priority};
use serde::{Deserialize, Serialize};

dummymp::enable_test_support!();

fn square(x: u64) -> u64 {
    x * x
}

/// Logs `records` records, then returns its index.
fn flood((index, records): (u32, u32)) -> u32 {
    for i in 0..records {
        log::info!(target: "flood", "record {i} of task {index}");
    }
    index
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Summary {
    name: String,
    values: Vec<i64>,
    total: i64,
}

fn summarize(values: Vec<i64>) -> Summary {
    Summary {
        name: format!("{} values", values.len()),
        total: values.iter().sum(),
        values,
    }
}

fn nothing((): ()) {}

fn nuclear() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp
}

#[test]
fn two_hundred_returns_by_call_order_none_missing() {
    let _cpus = common::cpu_heavy_section();
    let mut mp = nuclear();
    for x in 0..200u64 {
        let handle = mp.run(square, x).unwrap();
        assert_eq!(handle.index(), x as usize);
    }
    mp.process_until_done().unwrap();
    let returns = mp.returns::<u64>().unwrap();
    assert_eq!(returns.len(), 200);
    for (index, value) in returns {
        assert_eq!(value, (index as u64) * (index as u64));
    }
    assert_eq!(mp.progress().completed, 200);
    assert_eq!(mp.reports().count(), 200);
}

#[test]
fn no_return_is_lost_when_every_task_logs_ten_thousand_records() {
    let _cpus = common::cpu_heavy_section();
    common::install_logger();
    let mut mp = nuclear();
    for index in 0..200u32 {
        mp.run(flood, (index, 10_000)).unwrap();
    }
    mp.process_until_done().unwrap();
    let returns = mp.returns::<u32>().unwrap();
    assert_eq!(returns.len(), 200, "every return arrives");
    assert!(returns.iter().all(|(i, v)| *i as u32 == *v));
    // Every record of every task reached the parent's logger, under the
    // task's own PID.
    let counted = common::counted_records("flood");
    let mut pids: Vec<u32> = mp.reports().map(|r| r.pid.unwrap()).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 200);
    for pid in pids {
        assert_eq!(
            counted.get(&format!("[PID {pid}]")),
            Some(&10_000),
            "records of PID {pid}"
        );
    }
}

#[test]
fn values_of_several_types_in_one_queue() {
    let mut mp = nuclear();
    let a = mp.run(square, 7).unwrap();
    let b = mp.run(summarize, vec![1, -2, 30]).unwrap();
    let c = mp.run(nothing, ()).unwrap();
    let d = mp
        .run(
            |(a, b): (String, u8)| a.repeat(b as usize),
            ("ab".into(), 3),
        )
        .unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(a), Some(&49));
    assert_eq!(
        mp.value(b),
        Some(&Summary {
            name: "3 values".into(),
            values: vec![1, -2, 30],
            total: 29
        })
    );
    assert_eq!(mp.value(c), Some(&()));
    assert_eq!(mp.value(d).map(String::as_str), Some("ababab"));
    // Each type's returns, by call index.
    assert_eq!(
        mp.returns::<u64>().unwrap().into_iter().collect::<Vec<_>>(),
        [(0, 49)]
    );
    assert_eq!(
        mp.returns::<String>()
            .unwrap()
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(mp.outcome(c), Some(&Outcome::Returned));
}

#[test]
fn arguments_are_taken_when_queued() {
    let mut mp = nuclear();
    let mut values = vec![1, 2, 3];
    let first = mp.run(summarize, values.clone()).unwrap();
    values.push(100);
    let second = mp.run(summarize, values.clone()).unwrap();
    values.clear();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(first).unwrap().total, 6);
    assert_eq!(mp.value(second).unwrap().total, 106);
}

#[test]
fn pumping_the_queue_step_by_step() {
    let mut mp = nuclear();
    mp.set_max_processes(1);
    for x in 0..5 {
        mp.run(square, x).unwrap();
    }
    assert_eq!(mp.queued(), 5);
    // The first step starts work without waiting for anything.
    assert!(!mp.process_process().unwrap());
    assert_eq!(mp.progress().running, 1);
    while !mp.wait(None).unwrap() {
        mp.process_queue().unwrap();
    }
    assert_eq!(mp.returns::<u64>().unwrap().len(), 5);
    assert!(mp.process_process().unwrap(), "nothing left");
}

#[test]
fn captured_output_lands_in_the_report() {
    let mut mp = nuclear();
    mp.set_output_mode(OutputMode::Captured);
    let task = mp
        .run(
            |n: u32| {
                for i in 0..n {
                    println!("line {i}");
                }
                eprint!("no newline at the end");
                n
            },
            3,
        )
        .unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(task).unwrap();
    assert_eq!(report.stdout, b"line 0\nline 1\nline 2\n");
    assert_eq!(report.stderr, b"no newline at the end");
}

#[test]
fn unserialisable_arguments_are_an_error_and_nothing_is_queued() {
    let mut mp = nuclear();
    // postcard cannot serialise a sequence of unknown length, which is what
    // a serde `collect_seq` over an iterator without an exact size gives.
    struct Unsized;
    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq((0..3).filter(|x| x % 2 == 0))
        }
    }
    impl<'de> Deserialize<'de> for Unsized {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Ok(Unsized)
        }
    }
    let error = mp.run(|_: Unsized| 1u8, Unsized).unwrap_err();
    assert!(
        matches!(error, dummymp::Error::EncodeArguments { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("cannot serialise"), "{error}");
    assert_eq!(mp.queued(), 0);
    assert_eq!(mp.progress().total, 0);
}
