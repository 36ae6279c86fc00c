//! More tasks than CPUs, for tasks that mostly wait, and what decides how
//! many run at once: the capacity, the priority mode and the process cap.
//!
//! Run it with `cargo run --release --example capacity`.

use std::time::{Duration, Instant};

/// Waits, as a network request would: hardly any CPU.
fn fetch(id: u32) -> u32 {
    std::thread::sleep(Duration::from_millis(500));
    id
}

fn main() -> Result<(), dummymp::Error> {
    dummymp::init();
    let mut mp = dummymp::DummyMp::new();
    println!(
        "this process may use {} of the machine's {} CPUs",
        mp.total_cpus(),
        mp.machine_cpus()
    );

    // Default capacity: one task per usable CPU.
    let start = Instant::now();
    mp.map(fetch, 0..16)?;
    println!("16 waits, one per CPU at a time: {:.1?}", start.elapsed());

    // Capacity 16: all at once (less the CPUs other processes keep busy,
    // in every priority mode but Nuclear).
    mp.set_capacity(16);
    let start = Instant::now();
    mp.map(fetch, 0..16)?;
    println!("16 waits, capacity 16: {:.1?}", start.elapsed());

    // The process cap only ever holds tasks back.
    mp.set_max_processes(4);
    let start = Instant::now();
    mp.map(fetch, 0..16)?;
    println!(
        "16 waits, capacity 16, at most 4 at once: {:.1?}",
        start.elapsed()
    );
    Ok(())
}
