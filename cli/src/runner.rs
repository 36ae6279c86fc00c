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
use std::time::{Duration, SystemTime};

use dummymp::engine::{Engine, Event, EventSink, OutputRoute, TaskSpec};
use dummymp::{Outcome, ProcessExit, TaskId, TaskOptions};

use crate::error::CliError;
use crate::exit_status;
use crate::halt::{HaltCounts, HaltMode, HaltPolicy};
use crate::inputs::JobInputs;
use crate::job::{
    CANNOT_RUN_EXIT, EndedByUs, Ending, FinishedJob, JobSpec, NODE_LOST_EXIT, command_for,
    exit_code_for_start_error,
};
use crate::job_log::{JobLogEntry, JobLogWriter};
use crate::output::{Captured, OutputMode, Printer, Stream};
use crate::progress::Progress;
use crate::results::{JobResult, ResultsWriter};
use crate::resume::ResumePlan;
use crate::signals::{SignalPipes, StopSignal};
use crate::template::{JobValues, RefusedValue, Template};

/// How many jobs are kept ready to start (read ahead from the inputs).
const PENDING_TARGET: usize = 1024;

/// The size of the buffer standard input is read through.
pub const SCRATCH_SIZE: usize = 64 * 1024;

/// What the run was asked to do, besides running the jobs.
#[derive(Debug)]
pub struct RunSettings {
    /// The command template.
    pub template: Template,
    /// The template as the user wrote it (the memory jobs need is learned
    /// under it).
    pub template_text: String,
    /// `-v`: say why jobs wait, and when they are paused for other users.
    pub verbose: bool,
    /// `--timeout`, for the warning when a job runs past it.
    pub timeout: Option<std::time::Duration>,
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
    /// The `--halt` condition was met; the status of the job that met it.
    Halt(HaltPolicy, u8),
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
    /// How many jobs this run has in all, when the inputs tell in advance
    /// (without those a `--resume` skips).
    known_total: Option<u64>,
    /// Jobs paused for other users now.
    paused: usize,
    /// Why jobs wait, as last told (`-v` and the bar), so that it is told
    /// again only when it changes.
    told_wait: Option<String>,
    /// Why jobs wait, for the bar.
    waiting_reason: Option<String>,
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
        let known_total = inputs
            .known_total()
            .map(|total| total - resume.as_ref().map_or(0, |plan| plan.skipped_up_to(total)));
        let counts_queued_jobs = match known_total {
            Some(total) => {
                if let Some(bar) = progress.add_jobs(total) {
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
                keeps_command: job_log.is_some() || results.is_some() || printer.is_verbose(),
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
                known_total,
                paused: 0,
                told_wait: None,
                waiting_reason: None,
            },
        }
    }

    /// Runs every job; returns the exit status.
    pub fn run(mut self) -> Result<u8, CliError> {
        loop {
            self.submit_jobs();
            let processed = self.engine.process(&mut self.front);
            self.apply_stop();
            self.front
                .explain_waiting(self.engine.scheduler().last_decision());
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
                stdout: Captured::default(),
                stderr: Captured::default(),
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
                        ending: Ending::NotStarted(CANNOT_RUN_EXIT),
                        ended_by_us: None,
                        stdout: job.stdout,
                        stderr: job.stderr,
                    });
                    self.apply_stop();
                }
            }
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
            && let Err(error) = self.inputs.read_stdin_once(&mut self.scratch)
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

    /// With `-v`, says why jobs wait when the reason changes; the bar shows
    /// it too.
    fn explain_waiting(&mut self, decision: &dummymp::Decision) {
        use dummymp::SlotLimit;
        let waits = decision.waiting > decision.slots
            && matches!(
                decision.limit,
                SlotLimit::Cpus
                    | SlotLimit::Memory
                    | SlotLimit::FirstMeasurement
                    | SlotLimit::ForcedOne
            );
        // Told again when what holds the jobs back changes, not at every
        // measurement: the kind of limit and the processes counted.
        let key = waits.then(|| {
            let counted: Vec<i32> = decision
                .measurement
                .as_ref()
                .map(|m| m.counted.iter().map(|p| p.pid).collect())
                .unwrap_or_default();
            format!("{:?} {counted:?}", decision.limit)
        });
        if key == self.told_wait {
            return;
        }
        self.told_wait = key;
        self.waiting_reason = waits.then(|| match decision.limit {
            SlotLimit::Memory => "waiting for memory".to_string(),
            SlotLimit::FirstMeasurement => "measuring other users' load".to_string(),
            _ => "waiting for CPUs other users need".to_string(),
        });
        self.show_running();
        if self.settings.verbose && waits {
            self.printer.note(&format!("dummymp: {decision}"));
        }
    }

    /// The bar's message: running and paused jobs, and why jobs wait.
    fn show_running(&self) {
        let mut message = format!("{} running, ", self.running);
        if self.paused > 0 {
            message.push_str(&format!("{} paused, ", self.paused));
        }
        if let Some(reason) = &self.waiting_reason {
            message.push_str(reason);
            message.push_str(", ");
        }
        self.progress.set_message(message);
    }

    /// An attempt failed and the job runs again: what it wrote is dropped.
    fn retrying(&mut self, id: TaskId, next_attempt: u32) {
        self.running = self.running.saturating_sub(1);
        self.show_running();
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
            self.show_running();
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
            // Gone with its node: how it would have ended is unknown.
            (Outcome::NodeLost { .. }, _) => Ending::Exited(NODE_LOST_EXIT),
            (_, Some(ProcessExit::Code(code))) => Ending::Exited(code),
            (_, Some(ProcessExit::Signal(signal))) => Ending::Signaled(signal),
            // Its status was lost: count it as failed.
            (_, None) => Ending::NotStarted(CANNOT_RUN_EXIT),
        };
        if matches!(
            report.outcome,
            Outcome::TimedOut | Outcome::OutOfMemory { .. } | Outcome::NodeLost { .. }
        ) {
            let command = job.command.as_deref().map_or_else(
                || report.name.to_string(),
                |c| String::from_utf8_lossy(c).into_owned(),
            );
            if report.outcome == Outcome::TimedOut {
                self.warn_timed_out(job.spec.seq, &command);
            } else {
                // GNU parallel says nothing of a job a signal killed; this
                // one most likely did not fail by itself (nor one whose
                // node was lost).
                self.printer.note(&format!(
                    "dummymp: warning: job {} {}: {command}",
                    job.spec.seq, report.outcome
                ));
            }
        }
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
        self.check_halt(crate::halt::job_status(job.logged_ending()));
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
                stdout: &job.stdout,
                stderr: &job.stderr,
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

    /// Checks `--halt` after a job that ended with GNU parallel's status
    /// `status` (see [`crate::halt::job_status`]).
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

    /// GNU parallel's warning for a job killed by `--timeout`, on one line.
    fn warn_timed_out(&self, seq: u64, command: &str) {
        let after = self
            .settings
            .timeout
            .map(|t| format!(" of {}", humantime_seconds(t)))
            .unwrap_or_default();
        self.printer.note(&format!(
            "dummymp: warning: job {seq} was ended because it ran past its timeout{after}: {command}"
        ));
    }

    /// The jobs that succeeded, failed, and all jobs (those known so far
    /// when their total is not known).
    fn halt_counts(&self) -> HaltCounts {
        let known_so_far = self.succeeded + self.failed + self.jobs.len() as u64;
        let total = self.known_total.unwrap_or(known_so_far);
        HaltCounts {
            succeeded: self.succeeded,
            failed: self.failed,
            total: total.max(known_so_far),
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

/// A duration in seconds, as a person writes it: `1s`, `0.5s`, `90s`.
fn humantime_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{seconds}s")
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
        self.stop.is_none()
    }
}
