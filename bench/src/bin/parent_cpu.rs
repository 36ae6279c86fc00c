//! `parent_cpu CASE [SECONDS] [TASKS] [MODE]`: the parent's CPU use while
//! it waits for tasks (CPU time of the whole parent process, every thread
//! included, over wall time).
//!
//! - `sleep`: 2 tasks that sleep SECONDS (default 5), timed around
//!   `process_until_done()`.
//! - `queued`: TASKS (default 2000) queued behind a process cap of 2; the
//!   first 2 sleep SECONDS, the others return at once. Timed from the first
//!   `process_process()` until the first task ends (seen by the end
//!   callback), i.e. while the parent waits with the rest queued.
//!
//! MODE is the priority mode (default `normal`, which includes the cost of
//! measuring foreign load). Prints one JSON line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dummymp::DummyMp;
use serde::Serialize;

fn sleep(seconds: f64) -> f64 {
    std::thread::sleep(Duration::from_secs_f64(seconds));
    seconds
}

#[derive(Serialize)]
struct Report {
    case: String,
    mode: String,
    tasks: usize,
    seconds: f64,
    wall_s: f64,
    cpu_s: f64,
    cpu_percent: f64,
}

fn main() {
    dummymp::init();
    let case: String = dummymp_bench::arg(1, "case", "sleep".to_string());
    let seconds: f64 = dummymp_bench::arg(2, "seconds", 5.0);
    let tasks: usize = dummymp_bench::arg(3, "tasks", 2000);
    let mode: String = dummymp_bench::arg(4, "mode", "normal".to_string());
    let mut mp = DummyMp::new();
    mp.set_priority_mode(dummymp_bench::priority(&mode));
    mp.set_max_processes(2);
    let (cpu, wall, tasks) = match case.as_str() {
        "sleep" => {
            for _ in 0..2 {
                mp.run(sleep, seconds).expect("an f64 serialises");
            }
            let (c0, t0) = (dummymp_bench::process_cpu_time(), Instant::now());
            exit_on_error(mp.process_until_done());
            (dummymp_bench::process_cpu_time() - c0, t0.elapsed(), 2)
        }
        "queued" => {
            for i in 0..tasks {
                let s = if i < 2 { seconds } else { 0.0 };
                mp.run(sleep, s).expect("an f64 serialises");
            }
            let first_end: Arc<Mutex<Option<(Duration, Instant)>>> = Arc::default();
            let seen = Arc::clone(&first_end);
            mp.set_end_callback(move |_| {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                if seen.is_none() {
                    *seen = Some((dummymp_bench::process_cpu_time(), Instant::now()));
                }
            });
            let (c0, t0) = (dummymp_bench::process_cpu_time(), Instant::now());
            loop {
                let done = mp.wait(None);
                let ended = *first_end.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((c1, t1)) = ended {
                    mp.killall();
                    break (c1 - c0, t1 - t0, tasks);
                }
                if exit_on_error(done) {
                    eprintln!("parent_cpu: done before any task ended");
                    std::process::exit(1);
                }
            }
        }
        other => {
            eprintln!("parent_cpu: unknown case {other:?} (sleep or queued)");
            std::process::exit(2);
        }
    };
    dummymp_bench::emit(&Report {
        case,
        mode,
        tasks,
        seconds,
        wall_s: wall.as_secs_f64(),
        cpu_s: cpu.as_secs_f64(),
        cpu_percent: cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
    });
}

fn exit_on_error<T>(result: Result<T, dummymp::Error>) -> T {
    result.unwrap_or_else(|e| {
        eprintln!("parent_cpu: {e}");
        std::process::exit(1)
    })
}
