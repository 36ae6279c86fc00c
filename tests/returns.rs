//! Returns come back typed, by call order, and none is ever lost.

mod common;

use dummymp::{DummyMp, Outcome, OutputMode, Priority};
use serde::{Deserialize, Serialize};

dummymp::enable_test_support!();

crate::role_programs! {
    "big-return" => big_return_parent(),
}

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

/// The size of the big value the memory test returns, unless
/// `DUMMYMP_TEST_BIG_RETURN` says another: 100 MB.
const BIG: usize = 100 * 1000 * 1000;

fn big_size() -> usize {
    std::env::var("DUMMYMP_TEST_BIG_RETURN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(BIG)
}

fn big_value(n: usize) -> Vec<u8> {
    vec![7; n]
}

/// Role: receives a big return ([`big_size`]); prints this process's peak resident
/// memory (kB) before and after, and the value's length.
fn big_return_parent() -> i32 {
    let mut mp = nuclear();
    let before = common::peak_rss_kib();
    let task = mp.run(big_value, big_size()).unwrap();
    mp.process_until_done().unwrap();
    let value = mp.take_value(task).expect("the value");
    let after = common::peak_rss_kib();
    println!("{before} {after} {}", value.len());
    0
}

#[test]
fn a_big_return_costs_the_parent_about_one_copy() {
    let output = common::role_command("big-return")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let [before, after, len] = numbers[..] else {
        panic!("{text:?}");
    };
    let size = big_size() as u64;
    assert_eq!(len, size);
    let grown = (after - before) * 1024;
    eprintln!("peak grew by {grown} bytes for a {size}-byte value");
    // One copy is the value itself; the encoded bytes it was decoded from
    // must not all be held beside it, let alone twice.
    assert!(
        grown < size * 3 / 2,
        "the parent's peak grew by {grown} bytes for a {size}-byte value"
    );
}

/// A value that encodes as `self.0` MiB without holding them: each MiB
/// is the same static block.
#[derive(Debug)]
struct Mebibytes(usize);

static MEBIBYTE: [u8; 1 << 20] = [0; 1 << 20];

/// The static block, encoded as a byte string (as a `Vec<u8>` encodes).
struct Block;

impl Serialize for Block {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&MEBIBYTE)
    }
}

impl Serialize for Mebibytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0))?;
        for _ in 0..self.0 {
            seq.serialize_element(&Block)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Mebibytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let blocks: Vec<Vec<u8>> = Deserialize::deserialize(d)?;
        Ok(Mebibytes(blocks.len()))
    }
}

/// MiB just over the message limit.
const OVER_THE_LIMIT: usize = (dummymp::MESSAGE_LIMIT >> 20) + 10;

fn count_mebibytes(value: Mebibytes) -> usize {
    value.0
}

fn make_mebibytes(n: usize) -> Mebibytes {
    Mebibytes(n)
}

#[test]
fn a_value_in_mebibytes_travels_both_ways() {
    let mut mp = nuclear();
    let there = mp.run(count_mebibytes, Mebibytes(3)).unwrap();
    let back = mp.run(make_mebibytes, 5).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(there), Some(&3));
    assert_eq!(mp.value(back).map(|m| m.0), Some(5));
}

#[test]
fn arguments_over_the_message_limit_are_refused_when_queued() {
    let mut mp = nuclear();
    let error = mp
        .run(count_mebibytes, Mebibytes(OVER_THE_LIMIT))
        .unwrap_err();
    assert!(
        matches!(
            error,
            dummymp::Error::ArgumentsTooLarge { limit, .. } if limit == dummymp::MESSAGE_LIMIT
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("more than 1 GiB (1073741824 bytes)"),
        "{text}"
    );
    assert!(text.contains("fn(Mebibytes) -> usize"), "{text}");
    assert_eq!(mp.progress().total, 0, "nothing was queued");

    // Nor does map queue anything; the queue goes on working.
    let error = mp
        .map(count_mebibytes, [Mebibytes(1), Mebibytes(OVER_THE_LIMIT)])
        .unwrap_err();
    assert!(
        matches!(error, dummymp::Error::ArgumentsTooLarge { .. }),
        "{error}"
    );
    assert_eq!(mp.progress().total, 0, "nothing was queued");
    assert_eq!(mp.map(count_mebibytes, [Mebibytes(2)]).unwrap(), [2]);
}

#[test]
fn a_return_over_the_message_limit_fails_its_task_naming_the_limit() {
    let mut mp = nuclear();
    let big = mp.run(make_mebibytes, OVER_THE_LIMIT).unwrap();
    let fine = mp.run(square, 12).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::Failed { reason }) = mp.outcome(big) else {
        panic!("{:?}", mp.outcome(big));
    };
    assert!(
        reason.starts_with("the return value would take more than 1 GiB (1073741824 bytes)"),
        "{reason}"
    );
    assert!(!reason.contains("init()"), "not a broken stream: {reason}");
    assert_eq!(mp.value(fine), Some(&144));
}

#[test]
fn a_foreign_payload_over_the_message_limit_fails_to_start_naming_the_limit() {
    use dummymp::engine::{ForeignWorker, TaskSpec};
    let mut mp = nuclear();
    // Zeroed memory: only resident once written, and this is only read.
    let payload = vec![0u8; dummymp::MESSAGE_LIMIT + 1];
    let task = mp.run_spec(TaskSpec::foreign(
        ForeignWorker::new("/nonexistent/never-started"),
        payload,
        "big payload",
    ));
    mp.process_until_done().unwrap();
    let Some(Outcome::FailedToStart { error, .. }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert!(error.contains("more than 1 GiB"), "{error}");
}
