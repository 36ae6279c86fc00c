//! The library API a Rust user reaches for first: functions of any arity,
//! queueing many at once, `map`, reading results back (typed, checked,
//! moved out, by index or handle), serde through the re-export, and what a
//! task sees of its parent.

mod common;

use std::path::PathBuf;

use dummymp::serde::{Deserialize, Serialize};
use dummymp::{DummyMp, Error, Outcome, Priority, TaskId};

dummymp::enable_test_support!();

crate::role_programs! {
    "cwd-at-start" => cwd_at_start(),
}

fn nuclear() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp
}

fn none() -> u32 {
    42
}

fn one(x: u32) -> u32 {
    x + 1
}

fn one_tuple((a, b): (u32, u32)) -> u32 {
    a * b
}

fn two(a: u32, b: u32) -> u32 {
    a - b
}

fn three(name: String, times: usize, separator: char) -> String {
    vec![name; times].join(&separator.to_string())
}

#[allow(clippy::too_many_arguments)]
fn eight(a: u8, b: u16, c: u32, d: u64, e: i8, f: i16, g: i32, h: i64) -> i64 {
    i64::from(a) + i64::from(b) + i64::from(c) + d as i64 + i64::from(e) + i64::from(f)
        - i64::from(g)
        - h
}

#[test]
fn functions_of_every_arity_and_closures() {
    let mut mp = nuclear();
    let none = mp.run(none, ()).unwrap();
    let one = mp.run(one, 41).unwrap();
    let tuple = mp.run(one_tuple, (6, 7)).unwrap();
    let two = mp.run(two, (50, 8)).unwrap();
    let three = mp.run(three, ("ab".to_string(), 3, '-')).unwrap();
    let eight = mp.run(eight, (1, 2, 3, 4, 5, 6, 7, 8)).unwrap();
    let closure = mp
        .run(|a: u32, b: u32, c: u32| a * b + c, (4, 10, 2))
        .unwrap();
    mp.process_until_done().unwrap();
    for handle in [none, one, tuple, two, closure] {
        assert_eq!(mp.value(handle), Some(&42), "{handle:?}");
    }
    assert_eq!(mp.value(three).map(String::as_str), Some("ab-ab-ab"));
    assert_eq!(mp.value(eight), Some(&6));
    // Names are the signatures.
    assert_eq!(mp.report(two).unwrap().name, "fn(u32, u32) -> u32");
    assert_eq!(mp.report(none).unwrap().name, "fn() -> u32");
    assert_eq!(mp.report(tuple).unwrap().name, "fn((u32, u32)) -> u32");
}

fn unit_argument((): ()) -> String {
    "old style".to_string()
}

#[test]
fn a_unit_parameter_still_takes_unit() {
    let mut mp = nuclear();
    let task = mp.run(unit_argument, ()).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(task).map(String::as_str), Some("old style"));
    assert_eq!(mp.report(task).unwrap().name, "fn(()) -> String");
}

fn square(x: u64) -> u64 {
    x * x
}

fn parse(text: String) -> i64 {
    text.parse().expect("a number")
}

#[test]
fn map_returns_the_values_in_item_order() {
    let mut mp = nuclear();
    let values = mp.map(square, (0..20).rev()).unwrap();
    assert_eq!(values, (0..20u64).rev().map(|x| x * x).collect::<Vec<_>>());
    // The values were moved out; the reports stay.
    assert!(mp.returns::<u64>().unwrap().is_empty());
    assert_eq!(mp.reports().count(), 20);
    assert!(mp.reports().all(|r| r.outcome == Outcome::Returned));
    assert!(mp.map(square, []).unwrap().is_empty());
}

#[test]
fn map_names_the_failed_items_and_keeps_the_other_values() {
    let mut mp = nuclear();
    // A task queued before the map, of another type: processed, not taken.
    let before = mp.run(none, ()).unwrap();
    let inputs = ["1", "x", "3", "y"].map(String::from);
    let Err(Error::TasksFailed { failed, of }) = mp.map(parse, inputs) else {
        panic!("two items do not parse");
    };
    assert_eq!(of, 4);
    let items: Vec<(usize, usize)> = failed.iter().map(|f| (f.item, f.task.index())).collect();
    assert_eq!(items, [(1, 2), (3, 4)]);
    for failure in &failed {
        let Outcome::Panicked { message, .. } = &failure.outcome else {
            panic!("{failure}");
        };
        assert!(message.starts_with("a number"), "{message}");
    }
    let error = Error::TasksFailed {
        failed: failed.clone(),
        of,
    };
    assert!(
        error
            .to_string()
            .starts_with("2 of 4 tasks failed: item 1 (task 2) panicked")
    );
    // Nothing was taken: the values that came back are all there.
    let rest = mp.take_returns::<i64>().unwrap();
    assert_eq!(rest.into_iter().collect::<Vec<_>>(), [(1, 1), (3, 3)]);
    assert_eq!(mp.value(before), Some(&42));
}

#[test]
fn run_many_queues_everything_or_nothing() {
    let mut mp = nuclear();
    let handles = mp.run_many(two, [(5, 1), (9, 2), (3, 3)]).unwrap();
    assert_eq!(
        handles.iter().map(|h| h.index()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    // The third item cannot be serialised (a path that is not UTF-8):
    // nothing of this call is queued.
    use std::os::unix::ffi::OsStringExt;
    let bad = PathBuf::from(std::ffi::OsString::from_vec(vec![b'a', 0xff]));
    let paths = [PathBuf::from("/"), PathBuf::from("/tmp"), bad];
    let error = mp.run_many(path_length, paths).unwrap_err();
    assert!(matches!(error, Error::EncodeArguments { .. }), "{error}");
    assert_eq!(mp.progress().total, 3);
    mp.process_until_done().unwrap();
    let values: Vec<u32> = handles.iter().map(|&h| *mp.value(h).unwrap()).collect();
    assert_eq!(values, [4, 7, 0]);
}

fn path_length(path: PathBuf) -> usize {
    path.as_os_str().len()
}

#[test]
fn asking_for_the_wrong_return_type_is_an_error_naming_the_stored_one() {
    let mut mp = nuclear();
    assert!(mp.returns::<u64>().unwrap().is_empty(), "an empty queue");
    mp.run(one, 1).unwrap();
    mp.process_until_done().unwrap();
    let Err(Error::ReturnType { asked, stored }) = mp.returns::<u64>() else {
        panic!("the task returns u32");
    };
    assert_eq!((asked, stored.as_slice()), ("u64", &["u32"][..]));
    assert!(mp.take_returns::<i32>().is_err());
    assert_eq!(mp.returns::<u32>().unwrap()[&0], 2, "nothing was taken");
    // Several types: each is readable, a third one is named as missing.
    mp.run(three, ("a".into(), 1, ',')).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.returns::<String>().unwrap()[&1], "a");
    assert_eq!(mp.returns::<u32>().unwrap().len(), 1);
    let error = mp.returns::<Vec<u8>>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "return values asked for as `Vec<u8>`, but the tasks return `u32` or `String`"
    );
}

#[test]
fn command_tasks_alone_give_an_empty_map() {
    let mut mp = nuclear();
    mp.run_command(dummymp::Command::new("true")).unwrap();
    mp.process_until_done().unwrap();
    assert!(mp.returns::<u32>().unwrap().is_empty());
}

fn block(kib: usize) -> Vec<u8> {
    vec![0xab; kib * 1024]
}

#[test]
fn values_are_moved_out_without_clone() {
    /// A return type that cannot be cloned.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(crate = "dummymp::serde")]
    struct Unique(Vec<u8>);

    fn unique(n: u8) -> Unique {
        Unique(vec![n; 3])
    }

    let mut mp = nuclear();
    let first = mp.run(unique, 1).unwrap();
    let second = mp.run(unique, 2).unwrap();
    let big = mp.run(block, 4096).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.take_value(first), Some(Unique(vec![1; 3])));
    assert_eq!(mp.take_value(first), None, "taken");
    let rest = mp.take_returns::<Unique>().unwrap();
    assert_eq!(
        rest.into_iter().collect::<Vec<_>>(),
        [(second.index(), Unique(vec![2; 3]))]
    );
    assert!(mp.take_returns::<Unique>().unwrap().is_empty());
    let big = mp.take_value(big).unwrap();
    assert_eq!(big.len(), 4096 * 1024);
    // Outcomes stay.
    assert_eq!(mp.outcome(first), Some(&Outcome::Returned));
}

fn fails(code: i32) -> u8 {
    std::process::exit(code)
}

#[test]
fn outcome_and_report_take_the_index_of_returns() {
    let mut mp = nuclear();
    mp.run(one, 1).unwrap();
    let failing = mp.run(fails, 7).unwrap();
    mp.process_until_done().unwrap();
    let returns = mp.returns::<u32>().unwrap();
    let missing: Vec<usize> = (0..2).filter(|i| !returns.contains_key(i)).collect();
    assert_eq!(missing, [1]);
    // The same index, as usize, as TaskId and as the handle.
    assert_eq!(mp.outcome(1), Some(&Outcome::ExitedEarly { code: 7 }));
    assert_eq!(mp.outcome(TaskId::from(1)), mp.outcome(failing));
    assert_eq!(mp.report(1usize).unwrap().id, failing.id());
    assert_eq!(mp.report(0).unwrap().outcome, Outcome::Returned);
    assert!(mp.report(2).is_none());
}

/// Shared with the worker through the re-exported serde only: this test
/// crate names no `serde` of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "dummymp::serde")]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
}

fn area(shape: Shape) -> f64 {
    match shape {
        Shape::Circle { radius } => 3.0 * radius * radius,
        Shape::Square(side) => side * side,
    }
}

#[test]
fn own_types_derive_through_the_reexported_serde() {
    let mut mp = nuclear();
    let areas = mp
        .map(area, [Shape::Circle { radius: 1.0 }, Shape::Square(2.0)])
        .unwrap();
    assert_eq!(areas, [3.0, 4.0]);
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap()
}

/// Role: queues a task, then changes directory, then runs the task;
/// prints the directory the task saw.
fn cwd_at_start() -> i32 {
    let target = PathBuf::from(std::env::var("DUMMYMP_TEST_DIR").unwrap());
    let mut mp = nuclear();
    let task = mp.run(current_dir, ()).unwrap();
    std::env::set_current_dir(&target).unwrap();
    mp.process_until_done().unwrap();
    println!("{}", mp.value(task).unwrap().display());
    0
}

#[test]
fn a_task_sees_the_working_directory_of_when_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().canonicalize().unwrap();
    let output = common::role_command("cwd-at-start")
        .env("DUMMYMP_TEST_DIR", &target)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        target.display().to_string()
    );
}
