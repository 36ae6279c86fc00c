//! `load_cost [REPS] [SLEEPERS]`: the cost of one foreign-load measurement
//! with the processes on the machine, two ways.
//!
//! - **Full**: `measure_foreign_load_over(Normal, .., Duration::ZERO)`, i.e.
//!   two scans of every process and the bookkeeping, without the sampling
//!   sleep (wall time: `median_us`, `per_process_us`, as before).
//! - **When loaded**: what the scheduler does, `measure_foreign_load_with(
//!   Normal, .., 350 ms, ProcessScan::WhenLoaded)`: the machine's total CPU
//!   time first, every process only when that shows foreign load. It sleeps
//!   the sampling interval, so its cost is this process's CPU time
//!   (`when_loaded_cpu_us`); `aggregate_only` tells how many repetitions
//!   needed no scan. The full measurement's CPU time (`full_cpu_us`) is
//!   the baseline it compares with, measured in the same run.
//!
//! With `SLEEPERS` (default 0), that many idle `sleep` processes, not
//! descendants of this one, are started first (and killed at the end), so
//! that the machine holds that many more processes. Prints one JSON line;
//! `REPS` (default 20) repetitions of each.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dummymp::{
    MeasurementKind, OwnProcesses, Priority, ProcessScan, measure_foreign_load_over,
    measure_foreign_load_with,
};
use serde::Serialize;

#[derive(Serialize)]
struct Report {
    processes: usize,
    sleepers_started: usize,
    reps: usize,
    times_us: Vec<f64>,
    median_us: f64,
    per_process_us: f64,
    full_cpu_us: f64,
    when_loaded_cpu_us: f64,
    when_loaded_per_process_us: f64,
    aggregate_only: usize,
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

/// Idle processes that are not our descendants (their parent shell exits
/// at once), like other users' processes; killed when dropped.
struct Sleepers(Vec<rustix::process::Pid>);

impl Sleepers {
    fn start(count: usize) -> Sleepers {
        if count == 0 {
            return Sleepers(Vec::new());
        }
        let script = format!(
            "for i in $(seq {count}); do sleep 3600 </dev/null >/dev/null 2>&1 & echo $!; done"
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                eprintln!("load_cost: cannot start sleepers: {e}");
                std::process::exit(1)
            });
        let pids = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .filter_map(rustix::process::Pid::from_raw)
            .collect();
        Sleepers(pids)
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

fn main() {
    dummymp::init();
    let reps: usize = dummymp_bench::arg(1, "reps", 20);
    let sleepers_wanted: usize = dummymp_bench::arg(2, "sleepers", 0);
    let sleepers = Sleepers::start(sleepers_wanted);
    let own = OwnProcesses::new();
    let processes = process_count();
    let mut times = Vec::with_capacity(reps);
    let mut full_cpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (t0, cpu0) = (Instant::now(), dummymp_bench::process_cpu_time());
        if let Err(e) = measure_foreign_load_over(Priority::Normal, &own, Duration::ZERO) {
            eprintln!("load_cost: {e}");
            std::process::exit(1);
        }
        times.push(t0.elapsed().as_secs_f64() * 1e6);
        full_cpu.push((dummymp_bench::process_cpu_time() - cpu0).as_secs_f64() * 1e6);
    }
    let interval = Priority::Normal.sample_interval().unwrap_or_default();
    let mut when_loaded_cpu = Vec::with_capacity(reps);
    let mut aggregate_only = 0;
    for _ in 0..reps {
        let cpu0 = dummymp_bench::process_cpu_time();
        match measure_foreign_load_with(Priority::Normal, &own, interval, ProcessScan::WhenLoaded) {
            Ok(m) => aggregate_only += usize::from(m.kind == MeasurementKind::Aggregate),
            Err(e) => {
                eprintln!("load_cost: {e}");
                std::process::exit(1);
            }
        }
        when_loaded_cpu.push((dummymp_bench::process_cpu_time() - cpu0).as_secs_f64() * 1e6);
    }
    let when_loaded_cpu_us = dummymp_bench::median(&when_loaded_cpu);
    let median = dummymp_bench::median(&times);
    let sleepers_started = sleepers.0.len();
    drop(sleepers);
    dummymp_bench::emit(&Report {
        processes,
        sleepers_started,
        reps,
        median_us: median,
        per_process_us: median / processes.max(1) as f64,
        times_us: times,
        full_cpu_us: dummymp_bench::median(&full_cpu),
        when_loaded_cpu_us,
        when_loaded_per_process_us: when_loaded_cpu_us / processes.max(1) as f64,
        aggregate_only,
    });
}
