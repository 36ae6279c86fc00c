//! Finishing a job: recorded in the job log and the `--results`, counted
//! as a success or a failure, printed (in turn with `--keep-order`), and
//! checked against `--halt`.

use std::io;

use dummymp::Stream;

use super::Front;
use super::stopping::StopCause;
use crate::halt::{HaltCounts, HaltMode};
use crate::job::FinishedJob;
use crate::job_log::JobLogEntry;
use crate::output::OutputGrouping;
use crate::results::JobResult;

impl Front {
    /// A job ended for good: record, count and print it.
    pub(super) fn complete(&mut self, mut job: FinishedJob) {
        if job.was_stopped() {
            // It did not get to finish: printed, so nothing is lost, but
            // neither logged nor counted, so that --resume runs it again.
            self.print_finished(&mut job);
            return;
        }
        self.record(&job);
        if job.succeeded() {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
        self.print_finished(&mut job);
        self.progress.job_done();
        self.check_halt(job.halt_status());
    }

    /// Writes the job's `--joblog` line and `--results` entry.
    fn record(&mut self, job: &FinishedJob) {
        let command = job.command.as_deref().unwrap_or_default();
        if let Some(log) = &mut self.job_log {
            let (exit_value, signal) = job.exit_value_and_signal();
            let logged = log.record(&JobLogEntry {
                seq: job.spec.seq,
                start: job.started_wall,
                runtime: job.runtime,
                received: job.stdout.total() + job.stderr.total(),
                exit_value,
                signal,
                command,
            });
            if let Err(error) = logged {
                self.fatal(error);
            }
        }
        if let Some(results) = &mut self.results {
            let recorded = results.record(&JobResult {
                seq: job.spec.seq,
                inputs: &job.spec.inputs,
                command,
                exit_code: job.exit_code(),
                signal: job.signal(),
                timed_out: job.timed_out(),
                start: job.started_wall,
                runtime: job.runtime,
                stdout: &job.stdout,
                stderr: &job.stderr,
            });
            if let Err(error) = recorded {
                self.fatal(error);
            }
        }
    }

    /// Prints what the job wrote and was not printed yet, or holds it
    /// until its turn (`--keep-order`).
    fn print_finished(&mut self, job: &mut FinishedJob) {
        let turn =
            self.printer
                .finish_job(job.spec.seq, &job.tag, &mut job.stdout, &mut job.stderr);
        self.after_print(turn);
    }

    /// After printing: when `--keep-order` gave the turn to a job that is
    /// running, prints the lines it already wrote (line-buffer mode).
    pub(super) fn after_print(&mut self, turn: io::Result<Option<u64>>) {
        let seq = match turn {
            Ok(Some(seq)) => seq,
            Ok(None) => return,
            Err(error) => return self.output_failed(error),
        };
        if self.settings.grouping != OutputGrouping::LineBuffer {
            return;
        }
        let Some(job) = self.jobs.values_mut().find(|job| job.spec.seq == seq) else {
            return;
        };
        let printed = self
            .printer
            .print_lines(seq, &job.tag, Stream::Stdout, &mut job.stdout)
            .and_then(|()| {
                self.printer
                    .print_lines(seq, &job.tag, Stream::Stderr, &mut job.stderr)
            });
        if let Err(error) = printed {
            self.output_failed(error);
        }
    }

    /// Checks `--halt` after a job that ended with GNU parallel's status
    /// `status` (see [`FinishedJob::halt_status`]).
    fn check_halt(&mut self, status: u8) {
        let Some(policy) = self.settings.halt else {
            return;
        };
        if self.stop.is_none() && policy.is_met(&self.halt_counts()) {
            self.stop = Some(StopCause::Halt(policy, status));
            let running = self.running;
            let then = match (policy.mode, running) {
                (_, 0) => String::new(),
                (HaltMode::Now, 1) => ", ending the running job".to_string(),
                (HaltMode::Now, n) => format!(", ending the {n} running jobs"),
                (HaltMode::Soon, 1) => ", waiting for the running job to finish".to_string(),
                (HaltMode::Soon, n) => format!(", waiting for the {n} running jobs to finish"),
            };
            self.printer.note(&format!(
                "dummymp: --halt {policy} is reached: starting no more jobs{then}"
            ));
            if policy.mode == HaltMode::Now {
                self.end_running = true;
            }
        }
    }

    /// The jobs that succeeded, failed, and all jobs (those known so far
    /// when their total is not known).
    pub(super) fn halt_counts(&self) -> HaltCounts {
        let known_so_far = self.succeeded + self.failed + self.jobs.len() as u64;
        let total = self.known_total.unwrap_or(known_so_far);
        HaltCounts {
            succeeded: self.succeeded,
            failed: self.failed,
            total: total.max(known_so_far),
        }
    }
}
