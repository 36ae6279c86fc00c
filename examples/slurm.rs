//! Tasks as Slurm job steps: the same calls as on one machine, with the
//! Slurm launcher chosen once.
//!
//! Run it inside an allocation, for instance
//! `salloc -n4 cargo run --example slurm` (or from a batch script; see
//! `docs/slurm.md`). Outside one, each task becomes a job of its own.

use dummymp::{DummyMp, Launcher, Priority, SlurmOptions};

/// Says where it ran: the node, and the job step it was.
fn where_am_i(task: u32) -> String {
    let node = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let var = |name| std::env::var(name).unwrap_or_else(|_| "?".into());
    log::info!("task {task} runs on {}", node.trim());
    format!(
        "task {task}: node {}, step {}.{}",
        node.trim(),
        var("SLURM_JOB_ID"),
        var("SLURM_STEP_ID")
    )
}

fn main() -> Result<(), dummymp::Error> {
    dummymp::init(); // first line of main, as always
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let slurm = SlurmOptions::from_env()?.job_name("dummymp-example");
    match (slurm.job_id(), slurm.concurrent_tasks()) {
        (Some(job), Some(tasks)) => println!("inside job {job}: {tasks} tasks at once"),
        _ => println!("outside any allocation: each task is a job of its own"),
    }
    let mut mp = DummyMp::new();
    // The CPUs are the allocation's: nothing to measure on this node.
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_launcher(Launcher::Slurm(slurm));
    for task in 0..8 {
        mp.run(where_am_i, task)?;
    }
    mp.process_until_done()?;
    for line in mp.returns::<String>()?.values() {
        println!("{line}");
    }
    Ok(())
}
