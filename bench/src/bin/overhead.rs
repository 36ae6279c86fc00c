//! `overhead [TASKS] [AT_ONCE] [fresh|reuse]`: per-task overhead of the
//! library. Queues TASKS (default 2000) calls of a function that returns at
//! once, with a process cap of AT_ONCE (default 2) in `Nuclear` mode, a
//! fresh worker per task (default) or reused workers, and times queueing
//! plus `process_until_done()`. Prints one JSON line.
//!
//! For profiles (bench/PROFILE.md): `BENCH_WORKER_PROGRAM=PATH` starts the
//! workers from PATH (a wrapper such as `valgrind --tool=callgrind` around
//! this very binary) instead of forking them from the fork server.

use std::time::Instant;

use dummymp::{DummyMp, Priority};
use serde::Serialize;

fn identity(i: u32) -> u32 {
    i
}

#[derive(Serialize)]
struct Report {
    tasks: usize,
    at_once: usize,
    workers: &'static str,
    returned: usize,
    wall_s: f64,
    per_task_ms: f64,
}

fn main() {
    dummymp::init();
    let tasks: u32 = dummymp_bench::arg(1, "tasks", 2000);
    let at_once: usize = dummymp_bench::arg(2, "at_once", 2);
    let workers = dummymp_bench::workers(3);
    let t0 = Instant::now();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_max_processes(at_once);
    mp.set_reuse_workers(workers == "reuse");
    if let Some(program) = std::env::var_os("BENCH_WORKER_PROGRAM") {
        mp.set_worker_program(Some(program.into()))
            .expect("BENCH_WORKER_PROGRAM is an executable file");
    }
    for i in 0..tasks {
        mp.run(identity, i).expect("a u32 serialises");
    }
    if let Err(e) = mp.process_until_done() {
        eprintln!("overhead: {e}");
        std::process::exit(1);
    }
    let wall = t0.elapsed().as_secs_f64();
    let returned = mp
        .returns::<u32>()
        .expect("the tasks return u32")
        .into_iter()
        .filter(|&(id, value)| id == value as usize)
        .count();
    dummymp_bench::emit(&Report {
        tasks: tasks as usize,
        at_once,
        workers,
        returned,
        wall_s: wall,
        per_task_ms: wall * 1000.0 / f64::from(tasks),
    });
}
