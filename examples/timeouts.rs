//! Timeouts, retries and killing: per-task options, `kill` and `killall`.
//!
//! Run it with `cargo run --release --example timeouts`.

use std::time::Duration;

use dummymp::{Command, DummyMp, TaskOptions};

fn nap(seconds: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(seconds));
    seconds
}

fn main() -> Result<(), dummymp::Error> {
    dummymp::init();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut mp = DummyMp::new();
    // SIGTERM at the timeout, SIGKILL this long after if still alive.
    mp.set_kill_grace(Duration::from_millis(500));

    // Ends after one second, however long it would have slept.
    let patient = TaskOptions::new().timeout(Duration::from_secs(1));
    let late = mp.run_with(patient.clone(), nap, 60)?;
    let on_time = mp.run_with(patient, nap, 0)?;

    // Runs up to three times in all while it fails (here: every time).
    let retried = mp.run_command_with(TaskOptions::new().retries(2), Command::new("false"))?;

    // Ended on request.
    let unwanted = mp.run_command(Command::new("sleep").arg("60"))?;
    mp.process_process()?;
    mp.kill(unwanted);

    mp.process_until_done()?;
    println!("the 60 s nap {}", mp.outcome(late).expect("ended"));
    println!(
        "the 0 s nap {}: {:?}",
        mp.outcome(on_time).expect("ended"),
        mp.value(on_time)
    );
    let report = mp.report(retried).expect("ended");
    println!(
        "`false` {} after {} attempts",
        report.outcome, report.attempts
    );
    println!(
        "the unwanted sleep {}",
        mp.outcome(unwanted).expect("ended")
    );
    Ok(())
}
