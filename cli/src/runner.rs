//! The run: feeds jobs from the inputs to the library's engine, turns the
//! engine's events into printed output, job log lines, results and the
//! progress bar, and reacts to `--halt` and stop signals.
//!
//! Processes are the engine's business (starting, watching, timing out,
//! ending and reaping them); this module only decides *what* runs and what
//! is shown. One loop: submit what the inputs give, let the engine
//! [process](dummymp::engine::Engine::process) what happened, then sleep in
//! [`Engine::wait`](dummymp::engine::Engine::wait) until a task, the
//! scheduler, standard input (while more jobs may come from it) or a stop
//! signal has something. Nothing polls on a timer.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::time::SystemTime;

use dummymp::engine::{Engine, Event, EventSink, OutputRoute, TaskSpec};
use dummymp::{Outcome, ProcessExit, TaskId, TaskOptions};

use crate::error::CliError;
use crate::exit_status;
use crate::halt::{HaltMode, HaltOutcome, HaltPolicy};
use crate::inputs::JobInputs;
use crate::job::{
    CANNOT_RUN_EXIT, EndedByUs, Ending, FinishedJob, JobSpec, command_for,
    exit_code_for_start_error,
};
use crate::job_log::{JobLogEntry, JobLogWriter};
use crate::output::{Captured, OutputMode, Printer, Stream};
use crate::progress::Progress;
use crate::results::{JobResult, ResultsWriter};
use crate::resume::ResumePlan;
use crate::signals::{SignalPipes, StopSignal};
use crate::template::{JobValues, Template};

/// How many jobs are kept ready to start (read ahead from the inputs).
const PENDING_TARGET: usize = 1024;

/// The size of the buffer standard input is read through.
pub const SCRATCH_SIZE: usize = 64 * 1024;

/// What the run was asked to do, besides running the jobs.
#[derive(Debug)]
pub struct RunSettings {
    /// The command template.
    pub template: Template,
    /// How output is printed.
    pub output_mode: OutputMode,
    /// Whether output lines are tagged with the job's inputs.
    pub tag: bool,
    /// The options every job runs with (timeout, retries).
    pub task_options: TaskOptions,
    /// When to stop early.
    pub halt: Option<HaltPolicy>,
}

/// Everything the run works with.
#[derive(Debug)]
pub struct RunParts {
    /// What to do.
    pub settings: RunSettings,
    /// Runs the jobs (its scheduler decides how many at once).
    pub engine: Engine,
    /// The signal pipes (installed).
    pub signals: SignalPipes,
    /// Where the jobs' inputs come from.
    pub inputs: JobInputs,
    /// The jobs an earlier run already did.
    pub resume: Option<ResumePlan>,
    /// Prints the jobs' output.
    pub printer: Printer,
    /// The progress bar.
    pub progress: Progress,
    /// The `--joblog` file.
    pub job_log: Option<JobLogWriter>,
    /// The `--results` file.
    pub results: Option<ResultsWriter>,
}

/// Why no more jobs start.
#[derive(Debug)]
enum StopCause {
    /// A stop signal arrived.
    Signal(StopSignal),
    /// The `--halt` condition was met.
    Halt(HaltPolicy),
    /// Our standard output was closed.
    OutputClosed,
    /// Something we need failed; reported when the jobs are ended.
    Fatal(CliError),
}

/// A job the engine knows about.
#[derive(Debug)]
struct Job {
    spec: JobSpec,
    /// Its `--tag` prefix (empty without `--tag`).
    tag: Vec<u8>,
    /// Its command line, kept when the job log or results need it.
    command: Option<Vec<u8>>,
    started_wall: SystemTime,
    stdout: Captured,
    stderr: Captured,
}

/// The run's state.
#[derive(Debug)]
pub struct Runner {
    engine: Engine,
    signals: SignalPipes,
    inputs: JobInputs,
    resume: Option<ResumePlan>,
    next_seq: u64,
    stop_signals: usize,
    scratch: Vec<u8>,
    front: Front,
}

/// What the engine's events change: everything shown and recorded.
#[derive(Debug)]
struct Front {
    settings: RunSettings,
    printer: Printer,
    progress: Progress,
    /// Whether the bar learns about jobs as they are queued (their total is
    /// not known in advance).
    counts_queued_jobs: bool,
    keeps_command: bool,
    job_log: Option<JobLogWriter>,
    results: Option<ResultsWriter>,
    jobs: HashMap<TaskId, Job>,
    running: usize,
    succeeded: u64,
    failed: u64,
    stop: Option<StopCause>,
    /// Running jobs must be ended (a stop that ends them was decided while
    /// the engine was busy handing out events).
    end_running: bool,
}

impl Runner {
    /// A run that has not started anything yet.
    pub fn new(parts: RunParts) -> Runner {
        let RunParts {
            settings,
            engine,
            signals,
            inputs,
            resume,
            mut printer,
            mut progress,
            job_log,
            results,
        } = parts;
        let counts_queued_jobs = match inputs.known_total() {
            Some(total) => {
                let skipped = resume.as_ref().map_or(0, |plan| plan.skipped_up_to(total));
                if let Some(bar) = progress.add_jobs(total - skipped) {
                    printer.set_bar(bar);
                }
                false
            }
            None => true,
        };
        Runner {
            engine,
            signals,
            inputs,
            resume,
            next_seq: 1,
            stop_signals: 0,
            scratch: vec![0; SCRATCH_SIZE],
            front: Front {
                keeps_command: job_log.is_some() || results.is_some(),
                settings,
                printer,
                progress,
                counts_queued_jobs,
                job_log,
                results,
                jobs: HashMap::new(),
                running: 0,
                succeeded: 0,
                failed: 0,
                stop: None,
                end_running: false,
            },
        }
    }

    /// Runs every job; returns the exit status.
    pub fn run(mut self) -> Result<u8, CliError> {
        loop {
            self.submit_jobs();
            let processed = self.engine.process(&mut self.front);
            self.apply_stop();
            if let Err(error) = processed {
                self.front.fatal(CliError::Library(error));
            }
            if self.is_done() {
                break;
            }
            if let Err(error) = self.wait_for_events() {
                self.front.fatal(error);
                self.engine.kill_all_now();
            }
        }
        self.front.finish()
    }

    fn is_done(&self) -> bool {
        self.engine.is_idle() && (self.front.stop.is_some() || self.inputs.exhausted())
    }

    /// Hands the engine the jobs the inputs have ready (up to a target),
    /// skipping those an earlier run did.
    fn submit_jobs(&mut self) {
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
            let (task, command) = self.front.task_for(&spec);
            let id = self.engine.submit(task);
            let tag = if self.front.settings.tag {
                spec.tag()
            } else {
                Vec::new()
            };
            self.front.jobs.insert(
                id,
                Job {
                    spec,
                    tag,
                    command,
                    started_wall: SystemTime::now(),
                    stdout: Captured::default(),
                    stderr: Captured::default(),
                },
            );
        }
    }

    /// Acts on a stop decided while events were handed out.
    fn apply_stop(&mut self) {
        if self.front.stop.is_some() && !self.engine.is_closed() {
            for id in self.engine.close() {
                self.front.jobs.remove(&id);
            }
        }
        if std::mem::take(&mut self.front.end_running) {
            self.engine.end_all();
        }
    }

    /// Sleeps until the engine, standard input (while jobs may come from
    /// it) or a stop signal has something, and handles the latter two.
    fn wait_for_events(&mut self) -> Result<(), CliError> {
        let stdin = io::stdin();
        let wants_stdin = self.front.stop.is_none()
            && self.inputs.wants_stdin()
            && self.engine.queued() < PENDING_TARGET;
        let mut extra = Vec::with_capacity(4);
        for (_, pipe) in &self.signals.stop {
            extra.push(pipe.fd());
        }
        if wants_stdin {
            extra.push(stdin.as_fd());
        }
        let ready = self.engine.wait(None, &extra).map_err(CliError::Library)?;
        drop(extra);
        let arrived: Vec<(StopSignal, usize)> = self
            .signals
            .stop
            .iter()
            .zip(&ready)
            .filter(|(_, ready)| **ready)
            .map(|((signal, pipe), _)| (*signal, pipe.take()))
            .collect();
        for (signal, count) in arrived {
            if count > 0 {
                self.on_stop_signal(signal, count);
            }
        }
        if wants_stdin
            && ready.last() == Some(&true)
            && let JobInputs::Stdin(records) = &mut self.inputs
            && let Err(error) = records.read_once(&mut self.scratch)
        {
            self.front.fatal(error);
            self.apply_stop();
        }
        Ok(())
    }

    fn on_stop_signal(&mut self, signal: StopSignal, count: usize) {
        self.stop_signals += count;
        if !matches!(
            self.front.stop,
            Some(StopCause::Signal(_) | StopCause::Fatal(_))
        ) {
            self.front.stop = Some(StopCause::Signal(signal));
        }
        self.front.end_running = true;
        self.apply_stop();
        if self.stop_signals >= 2 {
            self.engine.kill_all_now();
        }
    }
}

impl Front {
    /// The engine task for `spec`, and its command line when it is kept.
    fn task_for(&self, spec: &JobSpec) -> (TaskSpec, Option<Vec<u8>>) {
        let template = &self.settings.template;
        let task = if template.uses_slot() {
            // {%} is known only when the job starts.
            let template = template.clone();
            let (seq, inputs) = (spec.seq, spec.inputs.clone());
            let name = format!("job {seq}");
            TaskSpec::command_with(name, move |start| {
                command_for(&template.invocation(&JobValues {
                    seq,
                    slot: start.slot,
                    inputs: &inputs,
                }))
            })
        } else {
            TaskSpec::command(command_for(&template.invocation(&JobValues {
                seq: spec.seq,
                slot: 1,
                inputs: &spec.inputs,
            })))
        };
        let command = (self.keeps_command && !template.uses_slot()).then(|| {
            template
                .invocation(&JobValues {
                    seq: spec.seq,
                    slot: 1,
                    inputs: &spec.inputs,
                })
                .display()
        });
        let task = task
            .with_options(self.settings.task_options.clone())
            .with_output(OutputRoute::Events);
        (task, command)
    }

    fn started(&mut self, id: TaskId, slot: usize) {
        self.running += 1;
        self.progress.set_running(self.running);
        let keeps_command = self.keeps_command;
        let template = &self.settings.template;
        if let Some(job) = self.jobs.get_mut(&id) {
            job.started_wall = SystemTime::now();
            if keeps_command && template.uses_slot() {
                job.command = Some(
                    template
                        .invocation(&JobValues {
                            seq: job.spec.seq,
                            slot,
                            inputs: &job.spec.inputs,
                        })
                        .display(),
                );
            }
        }
    }

    fn output(&mut self, id: TaskId, stream: dummymp::Stream, data: &[u8]) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let (stream, captured) = match stream {
            dummymp::Stream::Stdout => (Stream::Stdout, &mut job.stdout),
            dummymp::Stream::Stderr => (Stream::Stderr, &mut job.stderr),
        };
        captured.push(data);
        let printed = self
            .printer
            .print_lines(job.spec.seq, &job.tag, stream, captured);
        if let Err(error) = printed {
            self.output_failed(error);
        }
    }

    /// An attempt failed and the job runs again: what it wrote is dropped.
    fn retrying(&mut self, id: TaskId, next_attempt: u32) {
        self.running = self.running.saturating_sub(1);
        self.progress.set_running(self.running);
        if let Some(job) = self.jobs.get_mut(&id) {
            job.spec.attempt = next_attempt;
            job.stdout = Captured::default();
            job.stderr = Captured::default();
        }
    }

    fn ended(&mut self, report: dummymp::TaskReport) {
        let Some(mut job) = self.jobs.remove(&report.id) else {
            return;
        };
        if report.pid.is_some() {
            self.running = self.running.saturating_sub(1);
            self.progress.set_running(self.running);
        }
        let ending = match (&report.outcome, report.exit) {
            (Outcome::FailedToStart { error, errno }, _) => {
                let shown = job
                    .command
                    .clone()
                    .unwrap_or_else(|| report.name.as_bytes().to_vec());
                job.stderr.push(
                    format!(
                        "dummymp: cannot run {}: {error}\n",
                        String::from_utf8_lossy(&shortened(&shown))
                    )
                    .as_bytes(),
                );
                Ending::NotStarted(exit_code_for_start_error(*errno))
            }
            (_, Some(ProcessExit::Code(code))) => Ending::Exited(code),
            (_, Some(ProcessExit::Signal(signal))) => Ending::Signaled(signal),
            // Its status was lost: count it as failed.
            (_, None) => Ending::NotStarted(CANNOT_RUN_EXIT),
        };
        let ended_by_us = match report.outcome {
            Outcome::TimedOut => Some(EndedByUs::TimedOut),
            Outcome::Killed => Some(EndedByUs::Cancelled),
            _ => None,
        };
        self.complete(FinishedJob {
            spec: job.spec,
            tag: job.tag,
            command: job.command,
            started_wall: report.started_at.unwrap_or(job.started_wall),
            runtime: report.runtime,
            ending,
            ended_by_us,
            stdout: job.stdout,
            stderr: job.stderr,
        });
    }

    /// A job ended for good: record, count and print it.
    fn complete(&mut self, mut job: FinishedJob) {
        if job.ended_by_us == Some(EndedByUs::Cancelled) {
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
        self.check_halt();
    }

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
                stdout: job.stdout.kept(),
                stderr: job.stderr.kept(),
            });
            if let Err(error) = recorded {
                self.fatal(error);
            }
        }
    }

    fn print_finished(&mut self, job: &mut FinishedJob) {
        let turn =
            self.printer
                .finish_job(job.spec.seq, &job.tag, &mut job.stdout, &mut job.stderr);
        self.after_print(turn);
    }

    /// After printing: when `--keep-order` gave the turn to a job that is
    /// running, prints the lines it already wrote (line-buffer mode).
    fn after_print(&mut self, turn: io::Result<Option<u64>>) {
        let seq = match turn {
            Ok(Some(seq)) => seq,
            Ok(None) => return,
            Err(error) => return self.output_failed(error),
        };
        if self.settings.output_mode != OutputMode::LineBuffer {
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

    fn check_halt(&mut self) {
        let Some(policy) = self.settings.halt else {
            return;
        };
        if self.stop.is_none() && policy.is_met(self.succeeded, self.failed) {
            self.stop = Some(StopCause::Halt(policy));
            if policy.mode == HaltMode::Now {
                self.end_running = true;
            }
        }
    }

    /// Our output cannot be written: stop, ending the running jobs.
    fn output_failed(&mut self, error: io::Error) {
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
    fn fatal(&mut self, error: CliError) {
        if !matches!(self.stop, Some(StopCause::Fatal(_))) {
            self.stop = Some(StopCause::Fatal(error));
        }
        self.end_running = true;
    }

    fn finish(mut self) -> Result<u8, CliError> {
        if let Err(error) = self.printer.flush_held() {
            self.output_failed(error);
        }
        self.progress.finish(self.stop.is_none());
        match self.stop {
            Some(StopCause::Fatal(error)) => Err(error),
            Some(StopCause::Signal(signal)) => Ok(exit_status::for_signal(signal.number())),
            Some(StopCause::OutputClosed) => Ok(exit_status::OUTPUT_CLOSED),
            Some(StopCause::Halt(policy)) if policy.outcome == HaltOutcome::Success => Ok(0),
            Some(StopCause::Halt(_)) | None => Ok(exit_status::for_failures(self.failed)),
        }
    }
}

/// At most this much of a command is shown in an error message (a command
/// refused for its length, `E2BIG`, can be megabytes long).
const SHOWN_COMMAND_LIMIT: usize = 200;

/// `command`, cut to [`SHOWN_COMMAND_LIMIT`] bytes.
fn shortened(command: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if command.len() <= SHOWN_COMMAND_LIMIT {
        return command.into();
    }
    let mut short = command[..SHOWN_COMMAND_LIMIT].to_vec();
    short.extend_from_slice(format!("... ({} bytes)", command.len()).as_bytes());
    short.into()
}

impl EventSink for Front {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { id, slot, .. } => self.started(id, slot),
            Event::Output { id, stream, data } => self.output(id, stream, data),
            Event::Retrying {
                id, next_attempt, ..
            } => self.retrying(id, next_attempt),
            Event::Ended(report) => self.ended(*report),
            _ => {}
        }
    }

    fn accepts_starts(&self) -> bool {
        self.stop.is_none()
    }
}
