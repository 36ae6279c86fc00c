//! What a task costs as a Slurm job step, next to the same task run
//! locally: the median wall-clock time of one trivial task, from queueing
//! it to having its value, with each launcher, in turns.
//!
//! `salloc -n2 cargo run --release --example slurm_overhead [ROUNDS]`
//! measures steps of an allocation; run outside `salloc`, each Slurm task
//! is a job of its own. ROUNDS defaults to 50.

use std::time::{Duration, Instant};

use dummymp::{DummyMp, Launcher, Priority};

fn trivial(x: u32) -> u32 {
    x + 1
}

/// Runs one trivial task on `mp` and returns how long it took.
fn one_task(mp: &mut DummyMp, x: u32) -> Result<Duration, dummymp::Error> {
    let started = Instant::now();
    let handle = mp.run(trivial, x)?;
    mp.process_until_done()?;
    let took = started.elapsed();
    assert_eq!(mp.value(handle), Some(&(x + 1)), "{:?}", mp.outcome(handle));
    Ok(took)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> Result<(), dummymp::Error> {
    dummymp::init();
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let queue = |launcher: Launcher| {
        let mut mp = DummyMp::new();
        mp.set_priority_mode(Priority::Nuclear);
        mp.set_max_processes(1);
        mp.set_launcher(launcher);
        mp
    };
    let mut local = queue(Launcher::Local);
    let mut slurm = queue(Launcher::slurm()?);
    // One of each first, not counted: page cache, first connections.
    one_task(&mut local, 0)?;
    one_task(&mut slurm, 0)?;
    let (mut local_times, mut slurm_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        local_times.push(one_task(&mut local, round)?);
        slurm_times.push(one_task(&mut slurm, round)?);
    }
    let (local, slurm) = (median(local_times), median(slurm_times));
    let inside = std::env::var("SLURM_JOB_ID")
        .map_or("outside any allocation (a job each)".into(), |job| {
            format!("in job {job} (a step each)")
        });
    println!("{rounds} trivial tasks each, one at a time, {inside}:");
    println!(
        "  local worker      median {:8.2} ms",
        local.as_secs_f64() * 1e3
    );
    println!(
        "  Slurm worker      median {:8.2} ms  ({:.0}x local, +{:.2} ms)",
        slurm.as_secs_f64() * 1e3,
        slurm.as_secs_f64() / local.as_secs_f64(),
        (slurm.as_secs_f64() - local.as_secs_f64()) * 1e3
    );
    Ok(())
}
