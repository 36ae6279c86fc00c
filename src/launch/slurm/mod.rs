//! Starting tasks as Slurm job steps: the second implementation of the
//! launch step.
//!
//! A task's [`LaunchSpec`] is wrapped in `srun` ([`step`]) and started
//! through [`local`](super::local) like any process, so the worker
//! protocol and a command's output travel over `srun`'s standard streams
//! unchanged. What `srun` writes on its standard error is taken apart
//! ([`messages`]): the task's own error output goes where it would go
//! locally, Slurm's messages ([`news`]) say which step it is and where it
//! runs, so that it can be signalled through Slurm ([`signals`]), and
//! explain how it ended ([`explanation`]). The allocation this program
//! runs in ([`allocation`]) sizes how many steps run at once
//! ([`SlurmOptions`]).

pub(crate) mod allocation;
pub(crate) mod explanation;
pub(crate) mod messages;
mod news;
mod options;
pub(crate) mod renice;
mod signals;
mod step;

use std::io;

use rustix::process::Signal;

use super::handle::{Control, ProcessHandle};
use super::{LaunchIo, LaunchSpec, local};
use messages::Destination;

pub(crate) use messages::SrunMessages;
pub use options::SlurmOptions;

/// Starts `spec` as a job step.
pub(crate) fn launch(options: &SlurmOptions, spec: &LaunchSpec) -> io::Result<ProcessHandle> {
    let srun = step::srun_spec(options, spec)?;
    let mut launched = local::spawn::launch(&srun)?;
    launched.control = Control::SrunStep;
    match read_messages(&mut launched, srun.io, options.scancel()) {
        Ok(()) => Ok(launched),
        Err(error) => {
            // srun alone: its helper cancels the step, if there is one yet.
            let _ = crate::platform::signal_process(launched.pid, Signal::KILL);
            let _ = crate::platform::peek_exit(&launched.pidfd, true);
            let _ = crate::platform::reap_exited(&launched.pidfd);
            Err(error)
        }
    }
}

/// Starts reading `srun`'s standard error. A command's own error output
/// reaches the engine through a socket in its place. `scancel` signals the
/// step.
fn read_messages(
    launched: &mut ProcessHandle,
    io: LaunchIo,
    scancel: std::path::PathBuf,
) -> io::Result<()> {
    let stderr = launched
        .stderr
        .take()
        .ok_or_else(|| io::Error::other("srun's error stream is missing"))?;
    let destination = match io {
        LaunchIo::Command => {
            let (engine_end, relay_end) = super::local::spawn::stream_pair()?;
            rustix::io::ioctl_fionbio(&engine_end, true)?;
            launched.stderr = Some(engine_end);
            Destination::Socket(relay_end)
        }
        LaunchIo::Worker | LaunchIo::WorkerWithStderrPipe => Destination::OurStderr,
    };
    let srun_pidfd = launched.pidfd.try_clone()?;
    launched.srun_messages = Some(SrunMessages::start(
        stderr,
        srun_pidfd,
        destination,
        launched.pid,
        scancel,
    )?);
    Ok(())
}
