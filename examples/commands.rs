//! Commands as tasks: programs and shell lines, scheduled like function
//! tasks, with their output relayed or captured.
//!
//! Run it with `cargo run --release --example commands`.

use dummymp::{Command, DummyMp, OutputMode};

fn main() -> Result<(), dummymp::Error> {
    dummymp::init();
    let mut mp = DummyMp::new();

    // Relayed line by line, each tagged with the task's PID.
    mp.run_command(Command::new("uname").arg("-sr"))?;
    // A shell line: pipes and variables work; pass untrusted text through
    // the environment, never inside the line.
    mp.run_command(Command::shell("echo \"$WORD\" | rev").env("WORD", "stressed"))?;

    // Captured into the task's report instead.
    mp.set_output_mode(OutputMode::Captured);
    let listing = mp.run_command(Command::new("ls").arg("/"))?;
    let failing = mp.run_command(Command::shell("echo oops >&2; exit 3"))?;

    mp.process_until_done()?;
    let report = mp.report(listing).expect("ended");
    println!(
        "`ls /` {} and printed {} lines",
        report.outcome,
        report
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    let report = mp.report(failing).expect("ended");
    println!(
        "the other one {} and said {:?}",
        report.outcome,
        String::from_utf8_lossy(&report.stderr)
    );
    Ok(())
}
