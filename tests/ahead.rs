//! Tasks sent ahead to reused workers: they count as queued until the task
//! before them returns, and whatever happens to their worker (a crash, a
//! timeout, a kill, killall, close) none is lost, failed or run twice, and
//! every value comes back once, by call index.
//!
//! The tasks that hold a worker wait for a file the test creates, so that
//! what is ahead of them is known when the test acts.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dummymp::engine::{Engine, Event, TaskSpec};
use dummymp::{DummyMp, Outcome, OutputMode, Priority, Scheduler, TaskId, TaskOptions};

dummymp::enable_test_support!();

/// How long a task waits for its gate before it gives up (a test that
/// never opens it fails instead of hanging).
const GATE_LIMIT: Duration = Duration::from_secs(120);

/// Waits until the file `gate` exists; returns its worker's pid.
fn held(gate: String) -> u32 {
    let since = Instant::now();
    while !Path::new(&gate).exists() {
        assert!(since.elapsed() < GATE_LIMIT, "nobody opened {gate}");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::process::id()
}

/// Waits for `gate`, then ends its worker with `abort`.
fn held_then_abort(gate: String) -> u32 {
    held(gate);
    std::process::abort()
}

fn abort((): ()) -> u32 {
    std::process::abort()
}

fn pid(_: u32) -> u32 {
    std::process::id()
}

fn sleep_forever((): ()) -> u32 {
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

/// A directory for gates, and the path of one.
struct Gates(tempfile::TempDir);

impl Gates {
    fn new() -> Gates {
        Gates(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn name(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    fn open(&self, name: &str) {
        std::fs::write(self.path(name), b"").unwrap();
    }
}

/// An engine with `workers` reused workers, each taking up to `ahead`
/// tasks ahead.
fn engine(workers: usize, ahead: usize) -> Engine {
    let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, workers));
    engine.set_reuse_workers(true);
    engine.set_tasks_ahead(Some(ahead));
    engine.set_kill_grace(Duration::from_millis(200));
    engine
}

/// What the engine told about each task.
#[derive(Default, Debug)]
struct Seen {
    /// Per task, in order: "started" or "ended".
    events: BTreeMap<TaskId, Vec<&'static str>>,
    /// Per task: its outcome, worker pid and attempts.
    ended: BTreeMap<TaskId, (Outcome, Option<u32>, u32)>,
    retried: usize,
}

impl Seen {
    fn sink(&mut self) -> impl FnMut(Event<'_>) + '_ {
        |event| match event {
            Event::Started { id, .. } => self.events.entry(id).or_default().push("started"),
            Event::Ended(report) => {
                self.events.entry(report.id).or_default().push("ended");
                self.ended
                    .insert(report.id, (report.outcome, report.pid, report.attempts));
            }
            Event::Retrying { .. } => self.retried += 1,
            _ => {}
        }
    }

    fn outcome(&self, id: TaskId) -> &Outcome {
        &self.ended[&id].0
    }

    fn pid(&self, id: TaskId) -> Option<u32> {
        self.ended[&id].1
    }

    /// Each of `ids` started once and then ended once, at its first
    /// attempt, and nothing was retried.
    fn each_started_once(&self, ids: &[TaskId]) {
        for id in ids {
            assert_eq!(
                self.events.get(id).map(Vec::as_slice),
                Some(&["started", "ended"][..]),
                "{id}: {self:?}"
            );
            assert_eq!(self.ended[id].2, 1, "{id} ran at its first attempt");
        }
        assert_eq!(self.retried, 0);
    }
}

/// Processes until the engine is idle.
fn run_to_end(engine: &mut Engine, seen: &mut Seen) {
    let mut sink = seen.sink();
    let since = Instant::now();
    while !engine.is_idle() {
        assert!(since.elapsed() < GATE_LIMIT, "the tasks never ended");
        engine.process(&mut sink).unwrap();
        if !engine.is_idle() {
            engine
                .wait(Some(Instant::now() + Duration::from_secs(1)), &[])
                .unwrap();
        }
    }
}

/// Submits a held task and `quick` quick ones to a one-worker engine with
/// `ahead` tasks ahead, and processes once: the held one runs, the others
/// are ahead of it (as many as fit) or queued.
fn held_worker(gates: &Gates, ahead: usize, quick: u32) -> (Engine, Seen, Vec<TaskId>) {
    let mut engine = engine(1, ahead);
    let mut ids = vec![engine.submit(TaskSpec::call(held, gates.name("go")).unwrap())];
    for i in 0..quick {
        ids.push(engine.submit(TaskSpec::call(pid, i).unwrap()));
    }
    let mut seen = Seen::default();
    engine.process(&mut seen.sink()).unwrap();
    assert_eq!(engine.running(), 1);
    assert_eq!(engine.queued(), quick as usize);
    assert_eq!(
        engine.queued_at_workers(),
        ahead.min(quick as usize),
        "sent ahead to the worker that runs the held task"
    );
    (engine, seen, ids)
}

#[test]
fn tasks_ahead_count_as_queued_until_the_task_before_them_returns() {
    let gates = Gates::new();
    let (mut engine, mut seen, ids) = held_worker(&gates, 3, 5);
    for _ in 0..3 {
        engine
            .wait(Some(Instant::now() + Duration::from_millis(20)), &[])
            .unwrap();
        engine.process(&mut seen.sink()).unwrap();
    }
    assert_eq!(
        seen.events.keys().copied().collect::<Vec<_>>(),
        [ids[0]],
        "only the held task started"
    );
    gates.open("go");
    run_to_end(&mut engine, &mut seen);
    seen.each_started_once(&ids);
    let worker = seen.pid(ids[0]);
    for id in &ids {
        assert_eq!(seen.outcome(*id), &Outcome::Returned);
        assert_eq!(seen.pid(*id), worker, "one worker ran them all");
    }
}

#[test]
fn a_crash_sends_the_tasks_ahead_of_its_worker_back_to_the_queue() {
    let gates = Gates::new();
    let mut engine = engine(1, 4);
    let crashing = engine.submit(TaskSpec::call(held_then_abort, gates.name("go")).unwrap());
    let behind: Vec<TaskId> = (0..4)
        .map(|i| engine.submit(TaskSpec::call(pid, i).unwrap()))
        .collect();
    let mut seen = Seen::default();
    engine.process(&mut seen.sink()).unwrap();
    assert_eq!(engine.queued_at_workers(), 4);
    let first_worker = engine.running_pids()[0];
    gates.open("go");
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(crashing), &Outcome::Signaled { signal: 6 });
    seen.each_started_once(&behind);
    for id in &behind {
        assert_eq!(seen.outcome(*id), &Outcome::Returned, "{id}");
        assert_ne!(
            seen.pid(*id),
            Some(first_worker),
            "{id} ran in a new worker"
        );
    }
    assert!(!common::is_alive(first_worker));
}

#[test]
fn a_crash_in_a_task_sent_ahead_is_that_tasks_own() {
    // The worker runs the held task, the next, and crashes in the third,
    // perhaps before the parent has read any of their results: each ends
    // as it did, and the two behind the crash run in a new worker.
    let gates = Gates::new();
    let mut engine = engine(1, 4);
    let held_id = engine.submit(TaskSpec::call(held, gates.name("go")).unwrap());
    let second = engine.submit(TaskSpec::call(pid, 1).unwrap());
    let crashing = engine.submit(TaskSpec::call(abort, ()).unwrap());
    let behind: Vec<TaskId> = (3..5)
        .map(|i| engine.submit(TaskSpec::call(pid, i).unwrap()))
        .collect();
    let mut seen = Seen::default();
    engine.process(&mut seen.sink()).unwrap();
    assert_eq!(engine.queued_at_workers(), 4);
    let first_worker = engine.running_pids()[0];
    gates.open("go");
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(held_id), &Outcome::Returned);
    assert_eq!(seen.outcome(second), &Outcome::Returned);
    assert_eq!(seen.pid(second), Some(first_worker));
    assert_eq!(seen.outcome(crashing), &Outcome::Signaled { signal: 6 });
    assert_eq!(seen.pid(crashing), Some(first_worker));
    let mut all = vec![held_id, second, crashing];
    all.extend(&behind);
    seen.each_started_once(&all);
    for id in &behind {
        assert_eq!(seen.outcome(*id), &Outcome::Returned);
        assert_ne!(seen.pid(*id), Some(first_worker));
    }
}

#[test]
fn a_timeout_sends_the_tasks_ahead_back_and_ends_only_its_worker() {
    let mut engine = engine(1, 3);
    let late = engine.submit(
        TaskSpec::call(sleep_forever, ())
            .unwrap()
            .with_options(TaskOptions::new().timeout(Duration::from_millis(300))),
    );
    let behind: Vec<TaskId> = (0..3)
        .map(|i| engine.submit(TaskSpec::call(pid, i).unwrap()))
        .collect();
    let mut seen = Seen::default();
    engine.process(&mut seen.sink()).unwrap();
    assert_eq!(engine.queued_at_workers(), 3);
    let first_worker = engine.running_pids()[0];
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(late), &Outcome::TimedOut);
    seen.each_started_once(&behind);
    for id in &behind {
        assert_eq!(seen.outcome(*id), &Outcome::Returned);
        assert_ne!(seen.pid(*id), Some(first_worker));
    }
    assert!(!common::is_alive(first_worker));
}

#[test]
fn the_timeout_of_a_task_ahead_runs_from_its_start() {
    // Held behind another task for longer than its timeout, a task still
    // gets its whole timeout once it starts: it had not started.
    let gates = Gates::new();
    let mut engine = engine(1, 1);
    let first = engine.submit(TaskSpec::call(held, gates.name("first")).unwrap());
    let timeout = Duration::from_secs(3);
    let second = engine.submit(
        TaskSpec::call(held, gates.name("second"))
            .unwrap()
            .with_options(TaskOptions::new().timeout(timeout)),
    );
    let mut seen = Seen::default();
    engine.process(&mut seen.sink()).unwrap();
    assert_eq!(engine.queued_at_workers(), 1);
    let since = Instant::now();
    let held_for = timeout + Duration::from_secs(1);
    while since.elapsed() < held_for {
        engine.wait(Some(since + held_for), &[]).unwrap();
        engine.process(&mut seen.sink()).unwrap();
    }
    assert!(seen.ended.is_empty(), "nothing ended: {seen:?}");
    gates.open("first");
    while !seen.events.contains_key(&second) {
        assert!(
            since.elapsed() < GATE_LIMIT,
            "the second task never started"
        );
        engine
            .wait(Some(Instant::now() + Duration::from_secs(1)), &[])
            .unwrap();
        engine.process(&mut seen.sink()).unwrap();
    }
    // Its deadline is looked at, well before its timeout is over.
    engine
        .wait(Some(Instant::now() + Duration::from_millis(50)), &[])
        .unwrap();
    engine.process(&mut seen.sink()).unwrap();
    gates.open("second");
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(first), &Outcome::Returned);
    assert_eq!(seen.outcome(second), &Outcome::Returned);
    seen.each_started_once(&[first, second]);
}

#[test]
fn ending_every_task_sends_the_tasks_ahead_back_at_once() {
    let gates = Gates::new();
    let (mut engine, mut seen, ids) = held_worker(&gates, 2, 2);
    engine.end_all();
    assert_eq!(engine.queued_at_workers(), 0);
    assert_eq!(engine.queued(), 2);
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(ids[0]), &Outcome::Killed);
    seen.each_started_once(&ids[1..]);
}

#[test]
fn killall_leaves_the_tasks_ahead_queued() {
    let gates = Gates::new();
    let (mut engine, mut seen, ids) = held_worker(&gates, 4, 4);
    let first_worker = engine.running_pids()[0];
    engine.killall(&mut seen.sink());
    assert_eq!(seen.outcome(ids[0]), &Outcome::Killed);
    assert_eq!(seen.ended.len(), 1, "only the running task ended");
    assert_eq!(engine.queued(), 4, "the tasks ahead are queued again");
    assert_eq!(engine.queued_at_workers(), 0);
    assert!(!common::is_alive(first_worker));
    run_to_end(&mut engine, &mut seen);
    seen.each_started_once(&ids[1..]);
    for id in &ids[1..] {
        assert_eq!(seen.outcome(*id), &Outcome::Returned);
    }
}

#[test]
fn killing_a_task_ahead_ends_it_and_its_worker_after_the_tasks_before_it() {
    let gates = Gates::new();
    let (mut engine, mut seen, ids) = held_worker(&gates, 3, 3);
    let first_worker = engine.running_pids()[0];
    assert!(engine.kill(ids[2]));
    assert_eq!(engine.queued_at_workers(), 1, "the one before it stays");
    assert_eq!(engine.queued(), 2, "the one behind it is queued again");
    gates.open("go");
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(ids[2]), &Outcome::Killed);
    assert_eq!(seen.events[&ids[2]], ["ended"], "it never started");
    assert_eq!(seen.ended[&ids[2]].1, None);
    seen.each_started_once(&[ids[0], ids[1], ids[3]]);
    assert_eq!(
        seen.pid(ids[1]),
        Some(first_worker),
        "the one before it ran there"
    );
    assert_ne!(seen.pid(ids[3]), Some(first_worker), "the worker retired");
    assert!(!common::is_alive(first_worker));
}

#[test]
fn close_drops_the_tasks_ahead() {
    let gates = Gates::new();
    let (mut engine, mut seen, ids) = held_worker(&gates, 2, 3);
    let first_worker = engine.running_pids()[0];
    assert_eq!(engine.close(), ids[1..].to_vec());
    assert_eq!(engine.queued(), 0);
    gates.open("go");
    run_to_end(&mut engine, &mut seen);
    assert_eq!(seen.outcome(ids[0]), &Outcome::Returned);
    assert_eq!(seen.ended.len(), 1, "the dropped tasks never started");
    assert_eq!(seen.events.len(), 1);
    assert!(!common::is_alive(first_worker));
}

/// Prints and returns its index.
fn announce(index: u32) -> u32 {
    println!("stdout of task {index}");
    eprint!("unfinished line of task {index}");
    index
}

#[test]
fn values_and_output_stay_with_their_task_and_come_back_by_call_index() {
    for ahead in [None, Some(1), Some(16)] {
        let mut mp = DummyMp::new();
        mp.set_priority_mode(Priority::Nuclear);
        mp.set_output_mode(OutputMode::Captured);
        mp.set_max_processes(2);
        mp.set_reuse_workers(true);
        mp.set_tasks_ahead(ahead);
        let starts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&starts);
        mp.set_start_callback(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        mp.run_many(announce, 0..500).unwrap();
        mp.process_until_done().unwrap();
        let returns = mp.returns::<u32>().unwrap();
        assert_eq!(
            returns.into_iter().collect::<Vec<_>>(),
            (0..500).map(|i| (i as usize, i)).collect::<Vec<_>>(),
            "{ahead:?}"
        );
        for index in 0..500 {
            let report = mp.report(index).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&report.stdout),
                format!("stdout of task {index}\n")
            );
            assert_eq!(
                String::from_utf8_lossy(&report.stderr),
                format!("unfinished line of task {index}")
            );
            assert_eq!(report.attempts, 1);
        }
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 500);
    }
}

/// Takes starts until a task has ended.
#[derive(Default)]
struct UntilAnEnd {
    seen: Seen,
}

impl dummymp::engine::EventSink for UntilAnEnd {
    fn event(&mut self, event: Event<'_>) {
        self.seen.sink()(event);
    }

    fn accepts_starts(&self) -> bool {
        self.seen.ended.is_empty()
    }
}

#[test]
fn a_front_end_that_takes_no_more_starts_gets_none_from_the_tasks_ahead() {
    let gates = Gates::new();
    let (mut engine, seen, ids) = held_worker(&gates, 3, 3);
    let first_worker = engine.running_pids()[0];
    let mut sink = UntilAnEnd { seen };
    gates.open("go");
    let since = Instant::now();
    while sink.seen.ended.is_empty() {
        assert!(since.elapsed() < GATE_LIMIT, "the held task never ended");
        engine
            .wait(Some(Instant::now() + Duration::from_secs(1)), &[])
            .unwrap();
        engine.process(&mut sink).unwrap();
    }
    assert_eq!(sink.seen.outcome(ids[0]), &Outcome::Returned);
    assert_eq!(
        sink.seen.events.len(),
        1,
        "nothing else started: {:?}",
        sink.seen
    );
    assert_eq!(engine.queued(), 3);
    assert_eq!(engine.queued_at_workers(), 0);
    assert!(!common::is_alive(first_worker), "the worker did not go on");
}
