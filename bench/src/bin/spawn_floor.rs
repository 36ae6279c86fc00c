//! `spawn_floor PROGRAM [TASKS] [AT_ONCE] [ARGS...]`: the floor for a
//! fresh process per task. A minimal Rust program that spawns PROGRAM
//! (with ARGS, none by default; standard streams inherited) TASKS times
//! (default 2000) with at most AT_ONCE (default 2) running, and waits for
//! each with `wait()`. Prints `{"tasks":..,"wall_s":..,"per_task_ms":..}`.

use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::Instant;

use rustix::process::{WaitOptions, wait};
use serde::Serialize;

#[derive(Serialize)]
struct Report {
    program: String,
    tasks: usize,
    at_once: usize,
    failed: usize,
    wall_s: f64,
    per_task_ms: f64,
}

fn main() {
    dummymp::init();
    let program: String = dummymp_bench::arg(1, "program", "/bin/true".to_string());
    let tasks: usize = dummymp_bench::arg(2, "tasks", 2000);
    let at_once: usize = dummymp_bench::arg(3, "at_once", 2).max(1);
    let args: Vec<String> = std::env::args().skip(4).collect();
    // Reaped with `wait()` below; the handles are dropped once reaped.
    let mut running: HashMap<u32, Child> = HashMap::new();
    let mut started = 0;
    let mut failed = 0;
    let t0 = Instant::now();
    while started < tasks || !running.is_empty() {
        while started < tasks && running.len() < at_once {
            let child = Command::new(&program)
                .args(&args)
                .spawn()
                .unwrap_or_else(|e| {
                    eprintln!("spawn_floor: cannot start {program}: {e}");
                    std::process::exit(1)
                });
            running.insert(child.id(), child);
            started += 1;
        }
        match wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) => {
                if running
                    .remove(&(pid.as_raw_nonzero().get() as u32))
                    .is_some()
                    && status.exit_status() != Some(0)
                {
                    failed += 1;
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("spawn_floor: wait: {e}");
                std::process::exit(1)
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    dummymp_bench::emit(&Report {
        program,
        tasks,
        at_once,
        failed,
        wall_s: wall,
        per_task_ms: wall * 1000.0 / tasks as f64,
    });
}
