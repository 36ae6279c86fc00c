//! `cpu_bound MODE [TASKS] [SECONDS] [CAP] [fresh|reuse]`: CPU-bound
//! efficiency and politeness of the library. Queues TASKS (default 8) tasks
//! that each burn SECONDS (default 0.5) of CPU time, in priority MODE, with
//! process cap CAP (default 0: none, the scheduler decides), a fresh worker
//! per task (default) or reused workers, and times queueing plus
//! `process_until_done()`. Prints one JSON line, including the most tasks
//! that ran at once (counted with the start callback).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use dummymp::DummyMp;
use serde::Serialize;

fn burn(seconds: f64) -> f64 {
    dummymp_bench::burn_cpu(seconds)
}

#[derive(Serialize)]
struct Report {
    mode: String,
    workers: &'static str,
    tasks: usize,
    seconds: f64,
    returned: usize,
    max_running: usize,
    usable_cpus: usize,
    wall_s: f64,
}

fn main() {
    dummymp::init();
    let mode: String = dummymp_bench::arg(1, "mode", "normal".to_string());
    let tasks: usize = dummymp_bench::arg(2, "tasks", 8);
    let seconds: f64 = dummymp_bench::arg(3, "seconds", 0.5);
    let cap: usize = dummymp_bench::arg(4, "cap", 0);
    let workers = dummymp_bench::workers(5);
    let priority = dummymp_bench::priority(&mode);
    let max_running = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(priority);
    mp.set_max_processes(cap);
    mp.set_reuse_workers(workers == "reuse");
    let seen = Arc::clone(&max_running);
    mp.set_start_callback(move |p| {
        seen.fetch_max(p.running, Ordering::Relaxed);
    });
    for _ in 0..tasks {
        mp.run(burn, seconds).expect("an f64 serialises");
    }
    if let Err(e) = mp.process_until_done() {
        eprintln!("cpu_bound: {e}");
        std::process::exit(1);
    }
    let wall = t0.elapsed().as_secs_f64();
    dummymp_bench::emit(&Report {
        mode: priority.name().to_string(),
        workers,
        tasks,
        seconds,
        returned: mp.returns::<f64>().expect("the tasks return f64").len(),
        max_running: max_running.load(Ordering::Relaxed),
        usable_cpus: mp.usable_cpus(),
        wall_s: wall,
    });
}
