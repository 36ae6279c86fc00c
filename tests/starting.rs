//! Starting several fresh workers at once: the fork server is asked for all
//! of them before the first answer is waited for, and each task still gets
//! its own worker, in order; starts the front end no longer takes are given
//! up without a trace.

mod common;

use dummymp::engine::{Engine, Event, EventSink, TaskSpec};
use dummymp::{DummyMp, Outcome, Priority, Scheduler};

dummymp::enable_test_support!();

fn own_pid(_: u32) -> u32 {
    std::process::id()
}

#[test]
fn workers_forked_together_each_run_their_own_task() {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_max_processes(16);
    let tasks = mp.run_many(own_pid, 0..64).unwrap();
    mp.process_until_done().unwrap();
    let mut pids = std::collections::BTreeSet::new();
    for task in tasks {
        let report = mp.report(task).unwrap();
        assert_eq!(report.outcome, Outcome::Returned, "{task:?}");
        assert_eq!(
            report.pid,
            mp.value(task).copied(),
            "the worker that ran {task:?} is the one its report names"
        );
        pids.insert(report.pid);
    }
    assert_eq!(pids.len(), 64, "a fresh worker each");
}

/// Takes the first start, then no more.
struct OneStart {
    started: Vec<u32>,
    ended: usize,
}

impl EventSink for OneStart {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { pid, .. } => self.started.push(pid),
            Event::Ended(_) => self.ended += 1,
            _ => {}
        }
    }

    fn accepts_starts(&self) -> bool {
        self.started.is_empty()
    }
}

#[test]
fn starts_the_front_end_no_longer_takes_are_given_up() {
    let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 4));
    for i in 0..4 {
        engine.submit(TaskSpec::call(own_pid, i).unwrap());
    }
    let mut sink = OneStart {
        started: Vec::new(),
        ended: 0,
    };
    engine.process(&mut sink).unwrap();
    assert_eq!(sink.started.len(), 1, "one start was taken");
    assert_eq!(engine.running(), 1);
    assert_eq!(engine.queued(), 3, "the others wait again");
    assert_eq!(sink.ended, 0, "none of them failed");
    let mut all = |event: Event<'_>| {
        if let Event::Ended(report) = event {
            assert_eq!(report.outcome, Outcome::Returned);
        }
    };
    while !engine.is_idle() {
        engine.process(&mut all).unwrap();
        if !engine.is_idle() {
            engine.wait(None, &[]).unwrap();
        }
    }
}
