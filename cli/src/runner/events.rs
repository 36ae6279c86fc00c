//! What each of the engine's events changes: a job started (its command
//! announced), wrote output (printed as its lines come with
//! `--line-buffer`), runs again (`--retries`), was paused, continued or
//! reniced for other users, or ended (its outcome turned into a finished
//! job).

use std::time::SystemTime;

use dummymp::engine::{Event, EventSink};
use dummymp::{Stream, TaskId};

use super::Front;
use crate::job::FinishedJob;
use crate::output_buffer::OutputBuffer;
use crate::template::JobValues;

impl EventSink for Front {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { id, slot, .. } => self.started(id, slot),
            Event::Output { id, stream, data } => self.output(id, stream, data),
            Event::Retrying {
                id, next_attempt, ..
            } => self.retrying(id, next_attempt),
            Event::Ended(report) => self.ended(*report),
            Event::Paused { id } => self.yielded(
                id,
                "paused (SIGSTOP): other users' processes need the CPUs",
                1,
            ),
            Event::Resumed { id } => self.yielded(id, "continued: the CPUs are free again", -1),
            Event::Reniced { id } => self.yielded(
                id,
                "now runs at the lowest priority, for other users' processes",
                0,
            ),
            _ => {}
        }
    }

    fn accepts_starts(&self) -> bool {
        self.stop.is_none() && !self.held.holds_back(self.running)
    }
}

impl Front {
    /// A job started in `slot`: counted, its command (made now when it
    /// holds `{%}`) announced for `-v`.
    fn started(&mut self, id: TaskId, slot: usize) {
        self.running += 1;
        self.show_running();
        let keeps_command = self.keeps_command;
        let template = &self.settings.template;
        if let Some(job) = self.jobs.get_mut(&id) {
            job.started_wall = SystemTime::now();
            if keeps_command && template.uses_slot() {
                job.command = template
                    .command_line(&JobValues {
                        seq: job.spec.seq,
                        slot,
                        inputs: &job.spec.inputs,
                    })
                    .ok();
            }
            if let Some(command) = &job.command {
                self.printer.announce(job.spec.seq, command);
            }
        }
    }

    /// A job wrote `data` to `stream`: held, and its whole lines printed
    /// now when they may be (`--line-buffer`).
    fn output(&mut self, id: TaskId, stream: Stream, data: &[u8]) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let buffer = match stream {
            Stream::Stdout => &mut job.stdout,
            Stream::Stderr => &mut job.stderr,
        };
        buffer.push(data);
        let printed = self
            .printer
            .print_lines(job.spec.seq, &job.tag, stream, buffer);
        if let Err(error) = printed {
            self.output_failed(error);
        }
    }

    /// An attempt failed and the job runs again: what it wrote is dropped.
    fn retrying(&mut self, id: TaskId, next_attempt: u32) {
        self.running = self.running.saturating_sub(1);
        self.show_running();
        if let Some(job) = self.jobs.get_mut(&id) {
            job.spec.attempt = next_attempt;
            job.stdout = OutputBuffer::counted_in(&self.held);
            job.stderr = OutputBuffer::counted_in(&self.held);
        }
    }

    /// A job ended for good (after its last attempt): how it ended, told
    /// when it most likely did not fail by itself, then finished.
    fn ended(&mut self, report: dummymp::TaskReport) {
        let Some(job) = self.jobs.remove(&report.id) else {
            return;
        };
        if report.pid.is_some() {
            self.running = self.running.saturating_sub(1);
            self.show_running();
        }
        let mut finished = FinishedJob {
            spec: job.spec,
            tag: job.tag,
            command: job.command,
            started_wall: report.started_at.unwrap_or(job.started_wall),
            runtime: report.runtime,
            outcome: report.outcome,
            exit: report.exit,
            stdout: job.stdout,
            stderr: job.stderr,
        };
        if let Some(line) = finished.start_failure_line(&report.name) {
            finished.stderr.push(line.as_bytes());
        }
        if let Some(warning) = finished.warning(&report.name, self.settings.timeout) {
            self.printer.note(&warning);
        }
        self.complete(finished);
    }

    /// A job was paused, continued or reniced for other users: counted for
    /// the bar, and told with `-v`.
    fn yielded(&mut self, id: TaskId, what: &str, paused: isize) {
        self.paused = self.paused.saturating_add_signed(paused);
        self.show_running();
        if self.settings.verbose
            && let Some(job) = self.jobs.get(&id)
        {
            self.printer
                .note(&format!("dummymp: job {} {what}", job.spec.seq));
        }
    }
}
