//! Submitting jobs: the inputs' next values become jobs, each with the
//! engine task that runs its command (or, when a value cannot be put in
//! the command safely, a job that fails without running); jobs an earlier
//! run did (`--resume`) are skipped.

use std::time::{Duration, SystemTime};

use dummymp::Outcome;
use dummymp::engine::{OutputRoute, TaskSpec};

use super::{Front, Job, PENDING_TARGET, Runner};
use crate::job::{FinishedJob, JobSpec, command_for};
use crate::output_buffer::OutputBuffer;
use crate::template::{JobValues, RefusedValue};

impl Runner {
    /// Hands the engine the jobs the inputs have ready (up to a target),
    /// skipping those an earlier run did.
    pub(super) fn submit_jobs(&mut self) {
        while self.front.stop.is_none() && self.engine.queued() < PENDING_TARGET {
            let Some(inputs) = self.inputs.next_inputs() else {
                break;
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            if self.resume.as_ref().is_some_and(|plan| plan.skips(seq)) {
                let turn = self.front.printer.skip_job(seq);
                self.front.after_print(turn);
                continue;
            }
            if self.front.counts_queued_jobs
                && let Some(bar) = self.front.progress.add_jobs(1)
            {
                self.front.printer.set_bar(bar);
            }
            let spec = JobSpec {
                seq,
                inputs,
                attempt: 1,
            };
            let tag = if self.front.settings.tag {
                spec.tag()
            } else {
                Vec::new()
            };
            let mut job = Job {
                spec,
                tag,
                command: None,
                started_wall: SystemTime::now(),
                stdout: OutputBuffer::counted_in(&self.front.held),
                stderr: OutputBuffer::counted_in(&self.front.held),
            };
            match self.front.task_for(&job.spec) {
                Ok((task, command)) => {
                    job.command = command;
                    let id = self.engine.submit(task);
                    self.front.jobs.insert(id, job);
                }
                // A value that no quoting can make safe where it lands: the
                // job fails without running.
                Err(refused) => {
                    job.stderr
                        .push(format!("dummymp: job {seq}: {refused}\n").as_bytes());
                    self.front.complete(FinishedJob {
                        spec: job.spec,
                        tag: job.tag,
                        command: None,
                        started_wall: job.started_wall,
                        runtime: Duration::ZERO,
                        outcome: Outcome::FailedToStart {
                            error: refused.to_string(),
                            errno: None,
                        },
                        exit: None,
                        stdout: job.stdout,
                        stderr: job.stderr,
                    });
                    self.apply_stop();
                }
            }
        }
    }
}

impl Front {
    /// The engine task for `spec`, and its command line when it is kept;
    /// an error when one of its values cannot be made safe where it lands
    /// in the template.
    fn task_for(&self, spec: &JobSpec) -> Result<(TaskSpec, Option<Vec<u8>>), RefusedValue> {
        let template = &self.settings.template;
        let values = JobValues {
            seq: spec.seq,
            slot: 1,
            inputs: &spec.inputs,
        };
        // Whether a value is refused does not depend on the slot: check it
        // now, with slot 1.
        let invocation = template.invocation(&values)?;
        let task = if template.uses_slot() {
            // {%} is known only when the job starts.
            let template = template.clone();
            let (seq, inputs) = (spec.seq, spec.inputs.clone());
            let name = format!("job {seq}");
            TaskSpec::command_with(name, move |start| {
                let values = JobValues {
                    seq,
                    slot: start.slot,
                    inputs: &inputs,
                };
                match template.invocation(&values) {
                    Ok(invocation) => command_for(&invocation),
                    // Checked when the job was queued; a slot number is
                    // always safe.
                    Err(refused) => dummymp::Command::shell("echo \"$0\" >&2; exit 126")
                        .arg(format!("dummymp: job {seq}: {refused}")),
                }
            })
        } else {
            TaskSpec::command(command_for(&invocation))
        };
        let command = (self.keeps_command && !template.uses_slot())
            .then(|| template.command_line(&values).ok())
            .flatten();
        let task = task
            .with_options(self.settings.task_options.clone())
            .with_output(OutputRoute::Events)
            .with_memory_key(self.settings.template_text.clone());
        Ok((task, command))
    }
}
