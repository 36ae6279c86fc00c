//! Renicing a job step: Slurm cannot, so the processes of a step that runs
//! on this very node are reniced here.

use std::io;

use super::messages::SrunMessages;

/// Sets the niceness of every process of the step `messages` tells of,
/// when they are this machine's: the step runs on the node this program
/// runs on (`SLURMD_NODENAME`, which Slurm sets in a batch script and in
/// steps). Slurm cannot renice a step, and a step on another node is out
/// of reach: an error says so.
pub(crate) fn renice_step(messages: &SrunMessages, niceness: i32) -> io::Result<()> {
    let Some((step, node)) = messages.step() else {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the job step is not launched yet",
        ));
    };
    let here = std::env::var("SLURMD_NODENAME").ok();
    if node.is_none() || node != here {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "step {step} runs on node {}: Slurm cannot renice a step, and its processes \
                 are not this machine's",
                node.as_deref().unwrap_or("?")
            ),
        ));
    }
    let pids = crate::load::slurm_steps::processes_of_step(step.job, step.step)?;
    let mut result = Ok(());
    for pid in pids {
        let pid = rustix::process::Pid::from_raw(pid);
        if let Err(e) = rustix::process::setpriority_process(pid, niceness) {
            // Gone meanwhile: nothing to renice.
            if e != rustix::io::Errno::SRCH {
                result = Err(io::Error::from(e));
            }
        }
    }
    result
}
