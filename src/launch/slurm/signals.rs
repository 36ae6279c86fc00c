//! Signalling job steps through Slurm: `scancel --signal=N JOB.STEP`, which
//! reaches every process of the step on whichever node it runs (the only
//! way to stop, continue or warn a task on another node: `srun` forwards
//! neither `SIGSTOP` nor `SIGCONT`, and turns `SIGTERM` into `SIGKILL`).
//!
//! `scancel` asks the controller, which may take tens of milliseconds, so
//! it is run by one thread of its own, never by the engine: requests are
//! queued and sent in the order they came (a pause is never overtaken by
//! the continue that follows it), those with the same signal that wait
//! together go in one `scancel`.
//!
//! `scancel`'s exit status says little here: in an allocation of several
//! nodes, Slurm 22.05 signals the step and then reports "Invalid job id
//! specified" for the nodes of the job that do not run it, and exits with
//! an error. What it says is logged (target `dummymp::slurm`, level debug).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

use rustix::process::Signal;

use super::news::StepId;

/// A signal for a step.
struct Request {
    scancel: PathBuf,
    step: StepId,
    signal: Signal,
}

/// The queue to the thread that sends them, started at the first request.
static QUEUE: Mutex<Option<Sender<Request>>> = Mutex::new(None);

/// Sends `signals`, in order, to every process of `step` (through the
/// `scancel` at `scancel`), soon.
pub(crate) fn signal_step(scancel: &std::path::Path, step: StepId, signals: &[Signal]) {
    let mut queue = QUEUE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for &signal in signals {
        let request = Request {
            scancel: scancel.to_path_buf(),
            step,
            signal,
        };
        let request = match queue.as_ref() {
            Some(sender) => match sender.send(request) {
                Ok(()) => continue,
                Err(unsent) => unsent.0,
            },
            None => request,
        };
        // No thread yet (or it is gone): start one.
        let (sender, receiver) = channel();
        let started = std::thread::Builder::new()
            .name("dummymp-scancel".into())
            .stack_size(64 * 1024)
            .spawn(move || send_all(&receiver));
        match started {
            Ok(_) => {
                let _ = sender.send(request);
                *queue = Some(sender);
            }
            Err(e) => {
                log::warn!(target: "dummymp::slurm", "cannot signal step {step}: no thread ({e})");
                return;
            }
        }
    }
}

/// The thread: sends what is queued until the program ends.
fn send_all(receiver: &Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while let Ok(next) = receiver.try_recv() {
            batch.push(next);
        }
        // Consecutive requests with the same signal and scancel go together.
        let mut start = 0;
        while start < batch.len() {
            let head = &batch[start];
            let end = batch[start..]
                .iter()
                .position(|r| r.signal != head.signal || r.scancel != head.scancel)
                .map_or(batch.len(), |n| start + n);
            run_scancel(&batch[start..end]);
            start = end;
        }
    }
}

fn run_scancel(requests: &[Request]) {
    let Some(first) = requests.first() else {
        return;
    };
    let mut command = Command::new(&first.scancel);
    command.arg(format!("--signal={}", first.signal.as_raw()));
    let mut steps = Vec::with_capacity(requests.len());
    for request in requests {
        let step = request.step.to_string();
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    command
        .args(&steps)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    match command.output() {
        Ok(output) => log::debug!(
            target: "dummymp::slurm",
            "scancel --signal={} {}: {}; {}",
            first.signal.as_raw(),
            steps.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(e) => log::warn!(
            target: "dummymp::slurm",
            "cannot run {} to signal steps {}: {e}",
            first.scancel.display(),
            steps.join(" ")
        ),
    }
}
