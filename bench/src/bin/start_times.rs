//! `start_times MODE [TASKS] [SECONDS] [MEMORY] [burn|sleep]`: when each
//! task started and ended, for the politeness scenarios that ask *when* the
//! library lets tasks start (Generous after foreign load goes away; tasks
//! that state a memory need next to a memory hog). Queues TASKS (default 2)
//! tasks in priority MODE; each reads `CLOCK_MONOTONIC` as it starts, takes
//! and touches MEMORY bytes (default 0; stated to the scheduler with
//! `TaskOptions::memory` when above 0), then burns SECONDS (default 0.2) of
//! CPU time, or sleeps that long with `sleep`, and returns its start and
//! end times. Prints one JSON line with the times in nanoseconds of
//! `CLOCK_MONOTONIC` (the clock Python's `time.monotonic_ns()` reads), in
//! the order the tasks were queued.

use std::time::Instant;

use dummymp::{DummyMp, TaskOptions};
use serde::Serialize;

/// One task: (start, end) in nanoseconds of `CLOCK_MONOTONIC`.
fn timed_task((memory, seconds, burn): (u64, f64, bool)) -> (u64, u64) {
    let started = dummymp_bench::monotonic_ns();
    let held = dummymp_bench::touched_bytes(memory);
    if burn {
        dummymp_bench::burn_cpu(seconds);
    } else {
        std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    }
    std::hint::black_box(&held);
    (started, dummymp_bench::monotonic_ns())
}

#[derive(Serialize)]
struct Report {
    mode: String,
    tasks: usize,
    seconds: f64,
    memory: u64,
    returned: usize,
    /// `CLOCK_MONOTONIC` just before the tasks were queued.
    queued_ns: u64,
    starts_ns: Vec<Option<u64>>,
    ends_ns: Vec<Option<u64>>,
    wall_s: f64,
}

fn main() {
    dummymp::init();
    let mode: String = dummymp_bench::arg(1, "mode", "generous".to_string());
    let tasks: usize = dummymp_bench::arg(2, "tasks", 2);
    let seconds: f64 = dummymp_bench::arg(3, "seconds", 0.2);
    let memory: u64 = dummymp_bench::arg(4, "memory", 0);
    let burn = match dummymp_bench::arg(5, "burn|sleep", "burn".to_string()).as_str() {
        "burn" => true,
        "sleep" => false,
        other => {
            eprintln!("argument 5: burn or sleep, not {other:?}");
            std::process::exit(2)
        }
    };
    let priority = dummymp_bench::priority(&mode);
    let queued_ns = dummymp_bench::monotonic_ns();
    let t0 = Instant::now();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(priority);
    let mut options = TaskOptions::new();
    if memory > 0 {
        options = options.memory(memory);
    }
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            mp.run_with(options.clone(), timed_task, (memory, seconds, burn))
                .expect("the arguments serialise")
        })
        .collect();
    if let Err(e) = mp.process_until_done() {
        eprintln!("start_times: {e}");
        std::process::exit(1);
    }
    let wall = t0.elapsed().as_secs_f64();
    let times: Vec<Option<(u64, u64)>> = handles.iter().map(|&h| mp.value(h).copied()).collect();
    dummymp_bench::emit(&Report {
        mode: priority.name().to_string(),
        tasks,
        seconds,
        memory,
        returned: times.iter().flatten().count(),
        queued_ns,
        starts_ns: times.iter().map(|t| t.map(|(s, _)| s)).collect(),
        ends_ns: times.iter().map(|t| t.map(|(_, e)| e)).collect(),
        wall_s: wall,
    });
}
