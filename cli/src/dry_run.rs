//! `--dry-run`: print the command of every job that would run, one per
//! line, and run nothing.

use std::io;
use std::os::fd::AsFd;

use crate::error::CliError;
use crate::exit_status::{OUTPUT_CLOSED, for_failures};
use crate::inputs::JobInputs;
use crate::output::write_fd;
use crate::resume::ResumePlan;
use crate::template::{JobValues, Template};

/// How much is collected before it is written.
const WRITE_BATCH: usize = 64 * 1024;

/// Prints the commands; returns the exit status (141 when our output was
/// closed early; the number of jobs refused, like failed jobs, when a value
/// could not be placed safely).
pub(crate) fn print_commands(
    template: &Template,
    inputs: &mut JobInputs,
    resume: Option<&ResumePlan>,
    scratch: &mut [u8],
) -> Result<u8, CliError> {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut seq = 0u64;
    let mut refused = 0u64;
    loop {
        let Some(values) = inputs.next_inputs() else {
            if inputs.exhausted() {
                break;
            }
            inputs.read_stdin_once(scratch)?;
            continue;
        };
        seq += 1;
        if resume.is_some_and(|plan| plan.skips(seq)) {
            continue;
        }
        let job = JobValues {
            seq,
            slot: 1,
            inputs: &values,
        };
        match template.command_line(&job) {
            Ok(line) => {
                batch.extend_from_slice(&line);
                batch.push(b'\n');
            }
            Err(error) => {
                refused += 1;
                eprintln!("dummymp: job {seq}: {error}");
            }
        }
        if batch.len() >= WRITE_BATCH
            && let Some(status) = write_batch(&mut batch)?
        {
            return Ok(status);
        }
    }
    Ok(write_batch(&mut batch)?.unwrap_or_else(|| for_failures(refused)))
}

/// Writes and empties `batch`; `Some(141)` when our output was closed.
fn write_batch(batch: &mut Vec<u8>) -> Result<Option<u8>, CliError> {
    let written = write_fd(io::stdout().as_fd(), batch);
    batch.clear();
    match written {
        Ok(()) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(OUTPUT_CLOSED)),
        Err(e) => Err(CliError::Output(e)),
    }
}
