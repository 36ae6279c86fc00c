//! The run: feeds jobs from the inputs to the library's engine, turns the
//! engine's events into printed output, job log lines, results and the
//! progress bar, and reacts to `--halt`, stop signals and Ctrl-Z.
//!
//! Processes are the engine's business (starting, watching, timing out,
//! ending and reaping them); this module only decides *what* runs and what
//! is shown. One loop: submit what the inputs give, let the engine
//! [process](dummymp::engine::Engine::process) what happened, then sleep in
//! [`Engine::wait`](dummymp::engine::Engine::wait) until a task, the
//! scheduler, standard input (while more jobs may come from it) or a stop
//! signal has something. Nothing polls on a timer.
//!
//! This file holds the loop; the rest of the run's work is split by what
//! it is about: [`submitting`] jobs to the engine, what the engine's
//! [`events`] change, [`explaining`] why jobs wait, [`finishing`] a job
//! (logged, counted, printed, `--halt` checked) and [`stopping`] the run
//! with its exit status.

mod events;
mod explaining;
mod finishing;
mod stopping;
mod submitting;

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::time::SystemTime;

use dummymp::engine::Engine;
use dummymp::{TaskId, TaskOptions};

use crate::error::CliError;
use crate::halt::HaltPolicy;
use crate::inputs::JobInputs;
use crate::job::JobSpec;
use crate::job_log::JobLogWriter;
use crate::output::{OutputGrouping, Printer};
use crate::output_buffer::{HeldOutput, OutputBuffer};
use crate::progress::ProgressDisplay;
use crate::results::ResultsWriter;
use crate::resume::ResumePlan;
use crate::signals::{SignalPipes, StopSignal};
use crate::template::Template;
use stopping::StopCause;

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
    /// When output is printed: per job, or line by line.
    pub grouping: OutputGrouping,
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
    pub progress: ProgressDisplay,
    /// The `--joblog` file.
    pub job_log: Option<JobLogWriter>,
    /// The `--results` file.
    pub results: Option<ResultsWriter>,
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
    stdout: OutputBuffer,
    stderr: OutputBuffer,
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
    progress: ProgressDisplay,
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
    /// The jobs' output held in memory.
    held: HeldOutput,
}

impl Runner {
    /// A run that has not started anything yet.
    pub(crate) fn new(parts: RunParts) -> Runner {
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
                held: HeldOutput::default(),
            },
        }
    }

    /// Runs every job; returns the exit status.
    pub(crate) fn run(mut self) -> Result<u8, CliError> {
        loop {
            self.submit_jobs();
            let processed = self.engine.process(&mut self.front);
            self.apply_stop();
            self.front
                .explain_waiting(self.engine.scheduler().last_decision());
            self.front.explain_held_output(self.engine.queued() > 0);
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
        let mut extra = Vec::with_capacity(5);
        for (_, pipe) in &self.signals.stop {
            extra.push(pipe.fd());
        }
        extra.push(self.signals.terminal_stop.fd());
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
        if ready[self.signals.stop.len()] && self.signals.terminal_stop.take() > 0 {
            crate::signals::stop_with_jobs(&mut self.engine)?;
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
