//! `slurm_tiny [TASKS] [STEPS] [ROUNDS]`: what a tiny task costs on a Slurm
//! cluster, in the allocation this runs in (`salloc --nodes=3 --ntasks=6`
//! on the test cluster of `.ci/slurm`; `bench/slurm.sh` runs it), three
//! ways in the same run, round after round:
//!
//! - **reused**: TASKS (default 3000) calls of a function that returns at
//!   once, through reused workers, each a job step that lives as long as
//!   its worker (the time to start them is counted);
//! - **fresh**: STEPS (default 60) such calls, a new job step per task (the
//!   Slurm launcher without reuse);
//! - **srun**: STEPS bare `srun ... true`, with as many in flight as the
//!   allocation has tasks, as the two others have.
//!
//! Prints one JSON line per round and way (the wall time per task), then
//! one with the medians over the rounds and their ratios to bare `srun`.
//! ROUNDS defaults to 3.

use std::process::{Command, Stdio};
use std::time::Instant;

use dummymp::{DummyMp, Launcher, Priority, SlurmOptions};
use serde::Serialize;

fn identity(i: u32) -> u32 {
    i
}

#[derive(Serialize)]
struct Round {
    round: u32,
    way: &'static str,
    tasks: u32,
    at_once: usize,
    wall_s: f64,
    per_task_ms: f64,
}

#[derive(Serialize)]
struct Summary {
    nodes: String,
    at_once: usize,
    rounds: u32,
    reused_ms: f64,
    fresh_ms: f64,
    srun_ms: f64,
    reused_to_srun: f64,
    fresh_to_srun: f64,
}

/// `tasks` calls through the Slurm launcher, reused workers or not; the
/// wall time per task in milliseconds.
fn through_dummymp(options: &SlurmOptions, tasks: u32, reuse: bool) -> f64 {
    let t0 = Instant::now();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_launcher(Launcher::Slurm(options.clone()));
    mp.set_reuse_workers(reuse);
    for i in 0..tasks {
        mp.run(identity, i).expect("a u32 serialises");
    }
    if let Err(e) = mp.process_until_done() {
        eprintln!("slurm_tiny: {e}");
        std::process::exit(1);
    }
    let wall = t0.elapsed().as_secs_f64();
    let returned = mp
        .returns::<u32>()
        .expect("the tasks return u32")
        .into_iter()
        .filter(|&(id, value)| id == value as usize)
        .count();
    if returned != tasks as usize {
        let failed: Vec<_> = mp
            .reports()
            .filter(|r| !r.outcome.is_success())
            .take(3)
            .map(|r| r.outcome.to_string())
            .collect();
        eprintln!("slurm_tiny: {returned} of {tasks} returned; {failed:?}");
        std::process::exit(1);
    }
    // The idle workers end with the queue, after the clock stopped.
    wall * 1000.0 / f64::from(tasks)
}

/// `steps` bare `srun true`, `at_once` in flight; the wall time per step
/// in milliseconds.
fn bare_srun(steps: u32, at_once: usize) -> f64 {
    let t0 = Instant::now();
    let lanes: Vec<_> = (0..at_once)
        .map(|lane| {
            let mine = (0..steps).filter(|i| *i as usize % at_once == lane).count();
            std::thread::spawn(move || {
                for _ in 0..mine {
                    let status = Command::new("srun")
                        .args([
                            "--exact",
                            "--nodes=1",
                            "--ntasks=1",
                            "--cpus-per-task=1",
                            "--mem=0",
                            "--unbuffered",
                            "--quiet",
                            "true",
                        ])
                        .stdin(Stdio::null())
                        .status()
                        .expect("srun runs");
                    assert!(status.success(), "srun true: {status}");
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.join().expect("a lane of sruns");
    }
    t0.elapsed().as_secs_f64() * 1000.0 / f64::from(steps)
}

fn main() {
    dummymp::init();
    let tasks: u32 = dummymp_bench::arg(1, "tasks", 3000);
    let steps: u32 = dummymp_bench::arg(2, "steps", 60);
    let rounds: u32 = dummymp_bench::arg(3, "rounds", 3);
    let options = SlurmOptions::from_env().unwrap_or_else(|e| {
        eprintln!("slurm_tiny: {e}");
        std::process::exit(2)
    });
    let Some(at_once) = options.concurrent_tasks() else {
        eprintln!("slurm_tiny: run it in an allocation (salloc --nodes=3 --ntasks=6)");
        std::process::exit(2)
    };
    let (mut reused, mut fresh, mut srun) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        for way in ["srun", "fresh", "reused"] {
            let (count, per_task) = match way {
                "srun" => (steps, bare_srun(steps, at_once)),
                "fresh" => (steps, through_dummymp(&options, steps, false)),
                _ => (tasks, through_dummymp(&options, tasks, true)),
            };
            match way {
                "srun" => srun.push(per_task),
                "fresh" => fresh.push(per_task),
                _ => reused.push(per_task),
            }
            dummymp_bench::emit(&Round {
                round,
                way,
                tasks: count,
                at_once,
                wall_s: per_task * f64::from(count) / 1000.0,
                per_task_ms: per_task,
            });
        }
    }
    let (reused_ms, fresh_ms, srun_ms) = (
        dummymp_bench::median(&reused),
        dummymp_bench::median(&fresh),
        dummymp_bench::median(&srun),
    );
    dummymp_bench::emit(&Summary {
        nodes: std::env::var("SLURM_JOB_NODELIST").unwrap_or_default(),
        at_once,
        rounds,
        reused_ms,
        fresh_ms,
        srun_ms,
        reused_to_srun: reused_ms / srun_ms,
        fresh_to_srun: fresh_ms / srun_ms,
    });
}
