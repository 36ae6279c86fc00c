//! Stopping the run: why no more jobs start (a stop signal, `--halt`, our
//! output closed, an error), and the exit status the run ends with.

use std::io;

use super::Front;
use crate::error::CliError;
use crate::exit_status;
use crate::halt::HaltPolicy;
use crate::signals::StopSignal;

/// Why no more jobs start.
#[derive(Debug)]
pub(super) enum StopCause {
    /// A stop signal arrived.
    Signal(StopSignal),
    /// The `--halt` condition was met; the status of the job that met it.
    Halt(HaltPolicy, u8),
    /// Our standard output was closed.
    OutputClosed,
    /// Something we need failed; reported when the jobs are ended.
    Fatal(CliError),
}

impl Front {
    /// Our output cannot be written: stop, ending the running jobs.
    pub(super) fn output_failed(&mut self, error: io::Error) {
        if matches!(
            self.stop,
            Some(StopCause::OutputClosed | StopCause::Fatal(_))
        ) {
            return;
        }
        if error.kind() == io::ErrorKind::BrokenPipe {
            if !matches!(self.stop, Some(StopCause::Signal(_))) {
                self.stop = Some(StopCause::OutputClosed);
            }
            self.end_running = true;
        } else {
            self.fatal(CliError::Output(error));
        }
    }

    /// Something we need failed: stop, ending the running jobs; the error is
    /// reported once they are gone.
    pub(super) fn fatal(&mut self, error: CliError) {
        if !matches!(self.stop, Some(StopCause::Fatal(_))) {
            self.stop = Some(StopCause::Fatal(error));
        }
        self.end_running = true;
    }

    /// Ends the run once no job runs: prints the output still held, leaves
    /// the bar, and gives the exit status (or the error that stopped the
    /// run).
    pub(super) fn finish(mut self) -> Result<u8, CliError> {
        if let Err(error) = self.printer.flush_held() {
            self.output_failed(error);
        }
        self.progress.finish(self.stop.is_none());
        match self.stop {
            Some(StopCause::Fatal(error)) => Err(error),
            Some(StopCause::Signal(signal)) => Ok(exit_status::for_signal(signal.number())),
            Some(StopCause::OutputClosed) => Ok(exit_status::OUTPUT_CLOSED),
            Some(StopCause::Halt(policy, status)) => Ok(crate::halt::exit_status(
                Some(policy),
                &self.halt_counts(),
                Some(status),
            )),
            None => Ok(crate::halt::exit_status(
                self.settings.halt,
                &self.halt_counts(),
                None,
            )),
        }
    }
}
