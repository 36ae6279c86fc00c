//! `load_cost [REPS]`: the cost of one foreign-load measurement with the
//! processes now on the machine: `measure_foreign_load_over(Normal, ..,
//! Duration::ZERO)`, i.e. two scans of the process table and the
//! bookkeeping, without the sampling sleep. Prints the number of processes
//! seen and the time of each repetition (default 20) in microseconds.

use std::time::{Duration, Instant};

use dummymp::{OwnProcesses, Priority, measure_foreign_load_over};
use serde::Serialize;

#[derive(Serialize)]
struct Report {
    processes: usize,
    reps: usize,
    times_us: Vec<f64>,
    median_us: f64,
    per_process_us: f64,
}

fn process_count() -> usize {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0)
}

fn main() {
    dummymp::init();
    let reps: usize = dummymp_bench::arg(1, "reps", 20);
    let own = OwnProcesses::new();
    let mut times = Vec::with_capacity(reps);
    let processes = process_count();
    for _ in 0..reps {
        let t0 = Instant::now();
        if let Err(e) = measure_foreign_load_over(Priority::Normal, &own, Duration::ZERO) {
            eprintln!("load_cost: {e}");
            std::process::exit(1);
        }
        times.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    let median = dummymp_bench::median(&times);
    dummymp_bench::emit(&Report {
        processes,
        reps,
        median_us: median,
        per_process_us: median / processes.max(1) as f64,
        times_us: times,
    });
}
