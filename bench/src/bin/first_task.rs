//! `first_task [REPS] [MODES]`: time from `process_process()` to the first
//! instruction of the first task, in each priority mode (MODES: a
//! comma-separated list, default every mode). The task returns
//! `CLOCK_MONOTONIC` as it starts; the parent reads the same clock just
//! before `process_process()`. Each repetition uses a fresh `DummyMp`.
//! Prints `{"modes":{"nuclear":[ms,...],...}}`.

use std::collections::BTreeMap;

use dummymp::{DummyMp, Priority};
use serde::Serialize;

fn started_at(_: ()) -> u64 {
    dummymp_bench::monotonic_ns()
}

#[derive(Serialize)]
struct Report {
    reps: usize,
    modes: BTreeMap<String, Vec<f64>>,
}

fn main() {
    dummymp::init();
    let reps: usize = dummymp_bench::arg(1, "reps", 3);
    let modes: String = dummymp_bench::arg(
        2,
        "modes",
        "nuclear,extreme,aggressive,normal,generous".to_string(),
    );
    let mut result = Report {
        reps,
        modes: BTreeMap::new(),
    };
    for name in modes.split(',') {
        let priority: Priority = dummymp_bench::priority(name);
        let mut latencies = Vec::with_capacity(reps);
        for _ in 0..reps {
            let mut mp = DummyMp::new();
            mp.set_priority_mode(priority);
            let task = mp.run(started_at, ()).expect("() serialises");
            let t0 = dummymp_bench::monotonic_ns();
            let outcome = mp.process_process().and_then(|_| mp.process_until_done());
            if let Err(e) = outcome {
                eprintln!("first_task: {e}");
                std::process::exit(1);
            }
            match mp.value(task) {
                Some(&at) => latencies.push(at.saturating_sub(t0) as f64 / 1e6),
                None => {
                    eprintln!(
                        "first_task: the task did not return: {:?}",
                        mp.outcome(task)
                    );
                    std::process::exit(1);
                }
            }
        }
        result.modes.insert(priority.name().to_string(), latencies);
    }
    dummymp_bench::emit(&result);
}
