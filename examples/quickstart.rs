//! The original DummyMP README's example, played with dummymp.
//!
//! Run it with `cargo run --release --example quickstart` (about 10 s).
//! Set `RUST_LOG=debug` to see the scheduler's decisions too.

use std::hint::black_box;
use std::thread::sleep;
use std::time::Duration;

use dummymp::Priority;

/// Just a test function: a little busy work, some logging, a nap, and a
/// return value for the longer naps.
fn test(seconds: u64) -> Option<u64> {
    let mut sum = 0u64;
    for i in 0..10_000_000u64 {
        sum = sum.wrapping_add(black_box(i));
    }
    black_box(sum);
    log::info!("Hi there from logging!");
    log::info!("Sleeping for {seconds} secs...");
    sleep(Duration::from_secs(seconds));
    if seconds > 1 {
        log::info!("Returning the number {seconds}!");
    }
    log::info!("Bye bye from logging!");
    (seconds > 1).then_some(seconds)
}

fn main() -> Result<(), dummymp::Error> {
    // First line of main: in a worker, this runs the task and exits.
    dummymp::init();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();

    // Optional: measure the load of other processes now.
    println!(
        "{} of {} CPUs are free",
        dummymp::get_cpu_avail(),
        dummymp::get_total_cpus()
    );

    dummymp::run(test, 2)?;
    dummymp::run(test, 1)?;
    dummymp::run(test, 3)?;

    // At most two tasks at once, whatever the others on this machine do.
    dummymp::set_max_processes(2);
    dummymp::set_priority_mode(Priority::Nuclear);

    // Run them all, blocking until done.
    dummymp::process_until_done()?;

    // Return values by call order: {0: Some(2), 1: None, 2: Some(3)}.
    println!("{:?}", dummymp::get_returns::<Option<u64>>()?);

    println!("Resetting...");
    dummymp::reset();

    // Queue again, and pump the queue ourselves this time (default
    // settings again: Normal priority, no cap).
    dummymp::run(test, 2)?;
    dummymp::run(test, 1)?;
    dummymp::run(test, 1)?;
    while !dummymp::process_process()? {
        dummymp::process_queue()?;
        sleep(Duration::from_millis(1));
    }
    println!("{:?}", dummymp::get_returns::<Option<u64>>()?);

    println!("Resetting once more...");
    dummymp::reset();

    // Stop a running task: one process at a time, start one, wait two
    // seconds, and reset. Only what the first task logged before it was
    // killed shows up; returns are lost with the reset.
    dummymp::set_max_processes(1);
    dummymp::run(test, 4)?;
    dummymp::run(test, 4)?;
    dummymp::run(test, 4)?;
    dummymp::process_process()?;
    sleep(Duration::from_secs(2));
    dummymp::process_queue()?;
    dummymp::reset();

    // Nothing left to do.
    dummymp::process_until_done()?;
    println!("Done: {:?}", dummymp::get_returns::<Option<u64>>()?);
    Ok(())
}
