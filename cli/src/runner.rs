//! The event loop: starts jobs when the library's scheduler allows, reads
//! their output, reaps them, and reacts to timeouts, `--halt` and signals.
//!
//! One thread, one `poll(2)` over: the SIGCHLD and stop-signal pipes, every
//! running job's output pipes, standard input (while more jobs may come
//! from it) and the scheduler's wake-up descriptor. The loop sleeps until
//! one of them is ready or the next deadline (a job's timeout, the end of a
//! grace period, the scheduler's next measurement) comes; it never polls on
//! a timer.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime};

use dummymp::Scheduler;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};

use crate::error::CliError;
use crate::exit_status;
use crate::halt::{HaltCounts, HaltMode, HaltPolicy};
use crate::inputs::JobInputs;
use crate::job::{EndedByUs, Ending, FinishedJob, JobSpec, RunningJob, read_pipe};
use crate::job_log::{JobLogEntry, JobLogWriter};
use crate::output::{Captured, OutputMode, Printer, Stream};
use crate::process_groups::GroupTerminator;
use crate::progress::Progress;
use crate::results::{JobResult, ResultsWriter};
use crate::resume::ResumePlan;
use crate::signals::{SignalPipes, StopSignal};
use crate::slots::SlotPool;
use crate::spawn::{Launcher, exit_code_for_spawn_error};
use crate::template::{JobValues, Template};

/// How many jobs are kept ready to start (read ahead from the inputs).
const PENDING_TARGET: usize = 1024;

/// The size of the buffer pipes and standard input are read through.
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
    /// How long a job may run.
    pub timeout: Option<Duration>,
    /// How many runs a failing job gets in all.
    pub retries: u32,
    /// When to stop early.
    pub halt: Option<HaltPolicy>,
}

/// Everything the event loop works with.
#[derive(Debug)]
pub struct RunParts {
    /// What to do.
    pub settings: RunSettings,
    /// Decides how many jobs may start.
    pub scheduler: Scheduler,
    /// Starts job processes.
    pub launcher: Launcher,
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
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
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

/// What a ready descriptor in the poll set belongs to.
#[derive(Debug, Clone, Copy)]
enum Source {
    ChildExited,
    Stop(usize),
    SchedulerWake,
    Stdin,
    Output(usize, Stream),
}

/// The event loop's state.
#[derive(Debug)]
pub struct Runner {
    settings: RunSettings,
    scheduler: Scheduler,
    launcher: Launcher,
    signals: SignalPipes,
    inputs: JobInputs,
    resume: Option<ResumePlan>,
    printer: Printer,
    progress: Progress,
    /// Whether the bar learns about jobs as they are queued (their total is
    /// not known in advance).
    counts_queued_jobs: bool,
    keeps_command: bool,
    job_log: Option<JobLogWriter>,
    results: Option<ResultsWriter>,
    terminator: GroupTerminator,
    pending: VecDeque<JobSpec>,
    next_seq: u64,
    running: Vec<RunningJob>,
    slots: SlotPool,
    succeeded: u64,
    failed: u64,
    stop: Option<StopCause>,
    stop_signals: usize,
    scratch: Vec<u8>,
}

impl Runner {
    /// A runner that has not started anything yet.
    pub fn new(parts: RunParts) -> Runner {
        let RunParts {
            settings,
            scheduler,
            launcher,
            signals,
            inputs,
            resume,
            mut printer,
            mut progress,
            job_log,
            results,
            grace,
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
        let terminator = GroupTerminator::new(grace, scheduler.own_processes().clone());
        Runner {
            keeps_command: job_log.is_some() || results.is_some() || printer.is_verbose(),
            settings,
            scheduler,
            launcher,
            signals,
            inputs,
            resume,
            printer,
            progress,
            counts_queued_jobs,
            job_log,
            results,
            terminator,
            pending: VecDeque::new(),
            next_seq: 1,
            running: Vec::new(),
            slots: SlotPool::default(),
            succeeded: 0,
            failed: 0,
            stop: None,
            stop_signals: 0,
            scratch: vec![0; SCRATCH_SIZE],
        }
    }

    /// Runs every job; returns the exit status.
    pub fn run(mut self) -> Result<u8, CliError> {
        loop {
            self.start_jobs();
            if self.is_done() {
                break;
            }
            if let Err(error) = self.wait_for_events() {
                self.kill_everything();
                return Err(error);
            }
        }
        self.finish()
    }

    fn is_done(&self) -> bool {
        self.running.is_empty()
            && self.terminator.is_empty()
            && (self.stop.is_some() || (self.pending.is_empty() && self.inputs.exhausted()))
    }

    /// Moves inputs that are available into the queue of jobs to start,
    /// skipping those an earlier run did.
    fn queue_jobs(&mut self) {
        while self.stop.is_none() && self.pending.len() < PENDING_TARGET {
            let Some(inputs) = self.inputs.next_inputs() else {
                break;
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            if self.resume.as_ref().is_some_and(|plan| plan.skips(seq)) {
                let turn = self.printer.skip_job(seq);
                self.after_print(turn);
                continue;
            }
            if self.counts_queued_jobs
                && let Some(bar) = self.progress.add_jobs(1)
            {
                self.printer.set_bar(bar);
            }
            self.pending.push_back(JobSpec {
                seq,
                inputs,
                attempt: 1,
            });
        }
    }

    /// Starts as many queued jobs as the scheduler allows.
    fn start_jobs(&mut self) {
        // A job that could not start frees its slot at once, and no event
        // would come for it: ask again until every slot holds a job.
        loop {
            if self.stop.is_some() {
                return;
            }
            self.queue_jobs();
            // Asked even with nothing waiting: it also takes in a finished
            // measurement, which empties the wake-up descriptor.
            let slots = self
                .scheduler
                .free_slots(self.running.len(), self.pending.len());
            let mut not_started = 0;
            for _ in 0..slots {
                if self.stop.is_some() {
                    break;
                }
                let Some(spec) = self.pending.pop_front() else {
                    break;
                };
                if !self.start(spec) {
                    not_started += 1;
                }
            }
            if not_started == 0 {
                return;
            }
        }
    }

    /// Starts a job; false when it could not start (it is complete then).
    fn start(&mut self, spec: JobSpec) -> bool {
        let slot = self.slots.acquire();
        let values = JobValues {
            seq: spec.seq,
            slot,
            inputs: &spec.inputs,
        };
        let invocation = self.settings.template.invocation(&values);
        let command = self
            .keeps_command
            .then(|| self.settings.template.command_line(&values).ok())
            .flatten();
        let tag = if self.settings.tag {
            spec.tag()
        } else {
            Vec::new()
        };
        let started = Instant::now();
        let started_wall = SystemTime::now();
        let launched = match &invocation {
            Ok(invocation) => self.launcher.launch(invocation).map_err(|error| {
                let shown = self
                    .settings
                    .template
                    .command_line(&values)
                    .unwrap_or_default();
                (
                    format!("cannot run {}: {error}", String::from_utf8_lossy(&shown)),
                    exit_code_for_spawn_error(&error),
                )
            }),
            Err(refused) => Err((
                format!("job {}: {refused}", spec.seq),
                crate::spawn::CANNOT_RUN_EXIT,
            )),
        };
        match launched {
            Ok(launched) => {
                // Non-blocking, so that the output left after the job ends
                // can be read without waiting for processes it left behind.
                // This cannot fail on a pipe we just made.
                let _ = rustix::io::ioctl_fionbio(&launched.stdout, true);
                let _ = rustix::io::ioctl_fionbio(&launched.stderr, true);
                self.scheduler
                    .own_processes()
                    .add_group(launched.pid.as_raw_nonzero().get() as u32);
                if let Some(command) = &command {
                    self.printer.announce(spec.seq, command);
                }
                self.running.push(RunningJob {
                    spec,
                    slot,
                    pid: launched.pid,
                    tag,
                    command,
                    started,
                    started_wall,
                    deadline: self.settings.timeout.map(|timeout| started + timeout),
                    ended_by_us: None,
                    stdout_pipe: Some(launched.stdout),
                    stderr_pipe: Some(launched.stderr),
                    stdout: Captured::default(),
                    stderr: Captured::default(),
                });
                self.progress.set_running(self.running.len());
                true
            }
            Err((message, code)) => {
                self.slots.release(slot);
                let mut stderr = Captured::default();
                stderr.push(format!("dummymp: {message}\n").as_bytes());
                self.complete(FinishedJob {
                    spec,
                    tag,
                    command,
                    started_wall,
                    runtime: started.elapsed(),
                    ending: Ending::NotStarted(code),
                    ended_by_us: None,
                    stdout: Captured::default(),
                    stderr,
                });
                false
            }
        }
    }

    /// When the loop must wake up even if no descriptor is ready.
    fn next_wakeup(&self) -> Option<Instant> {
        let timeouts = self
            .running
            .iter()
            .filter(|job| job.ended_by_us.is_none())
            .filter_map(|job| job.deadline);
        // The scheduler has a deadline only while jobs wait for a
        // measurement that could let them start.
        let measurement = self
            .stop
            .is_none()
            .then(|| self.scheduler.next_deadline())
            .flatten();
        timeouts
            .chain(self.terminator.next_deadline())
            .chain(measurement)
            .min()
    }

    /// Waits for the next event and handles it.
    fn wait_for_events(&mut self) -> Result<(), CliError> {
        let timeout = self.next_wakeup().map(|at| {
            let wait = at.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: wait.subsec_nanos().into(),
            }
        });
        let ready = self.poll_once(timeout.as_ref())?;
        for source in ready {
            match source {
                Source::Output(index, stream) => self.read_output(index, stream),
                Source::Stdin => self.read_stdin(),
                Source::Stop(index) => {
                    let (signal, pipe) = &self.signals.stop[index];
                    let (signal, count) = (*signal, pipe.take());
                    if count > 0 {
                        self.on_stop_signal(signal, count);
                    }
                }
                // The scheduler takes the result in when asked next.
                Source::SchedulerWake => {}
                Source::ChildExited => {
                    self.signals.child.take();
                    self.reap_children()?;
                }
            }
        }
        self.check_deadlines(Instant::now());
        Ok(())
    }

    /// One `poll`: the sources that are ready, in the order they should be
    /// handled (output before reaping, so that a job's output is read
    /// before it is reaped whenever both are ready).
    fn poll_once(&self, timeout: Option<&Timespec>) -> Result<Vec<Source>, CliError> {
        let stdin = io::stdin();
        let mut fds = Vec::with_capacity(6 + 2 * self.running.len());
        let mut sources = Vec::with_capacity(fds.capacity());
        let wanted = PollFlags::IN;
        for (index, job) in self.running.iter().enumerate() {
            if let Some(pipe) = &job.stdout_pipe {
                fds.push(PollFd::from_borrowed_fd(pipe.as_fd(), wanted));
                sources.push(Source::Output(index, Stream::Stdout));
            }
            if let Some(pipe) = &job.stderr_pipe {
                fds.push(PollFd::from_borrowed_fd(pipe.as_fd(), wanted));
                sources.push(Source::Output(index, Stream::Stderr));
            }
        }
        if self.stop.is_none() && self.inputs.wants_stdin() && self.pending.len() < PENDING_TARGET {
            fds.push(PollFd::from_borrowed_fd(stdin.as_fd(), wanted));
            sources.push(Source::Stdin);
        }
        if self.stop.is_none()
            && let Some(fd) = self.scheduler.wake_fd()
        {
            fds.push(PollFd::from_borrowed_fd(fd, wanted));
            sources.push(Source::SchedulerWake);
        }
        for (index, (_, pipe)) in self.signals.stop.iter().enumerate() {
            fds.push(PollFd::from_borrowed_fd(pipe.fd(), wanted));
            sources.push(Source::Stop(index));
        }
        fds.push(PollFd::from_borrowed_fd(self.signals.child.fd(), wanted));
        sources.push(Source::ChildExited);
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::INTR) => return Ok(Vec::new()),
            Err(error) => return Err(CliError::os("cannot wait for events")(error)),
        }
        Ok(fds
            .iter()
            .zip(sources)
            .filter(|(fd, _)| !fd.revents().is_empty())
            .map(|(_, source)| source)
            .collect())
    }

    fn read_output(&mut self, index: usize, stream: Stream) {
        let Some(job) = self.running.get_mut(index) else {
            return;
        };
        let captured = match stream {
            Stream::Stdout => {
                read_pipe(&mut job.stdout_pipe, &mut job.stdout, &mut self.scratch);
                &mut job.stdout
            }
            Stream::Stderr => {
                read_pipe(&mut job.stderr_pipe, &mut job.stderr, &mut self.scratch);
                &mut job.stderr
            }
        };
        let printed = self
            .printer
            .print_lines(job.spec.seq, &job.tag, stream, captured);
        if let Err(error) = printed {
            self.output_failed(error);
        }
    }

    fn read_stdin(&mut self) {
        if let Err(error) = self.inputs.read_stdin_once(&mut self.scratch) {
            self.fatal(error);
        }
    }

    /// Reaps every child that has exited.
    fn reap_children(&mut self) -> Result<(), CliError> {
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => self.on_child_exit(pid, status),
                Ok(None) | Err(Errno::CHILD) => break,
                Err(Errno::INTR) => {}
                Err(error) => return Err(CliError::os("cannot reap jobs")(error)),
            }
        }
        self.terminator.forget_gone();
        Ok(())
    }

    fn on_child_exit(&mut self, pid: Pid, status: WaitStatus) {
        // Any other child is a process a job left behind, adopted by us as
        // subreaper: nothing to record.
        let Some(index) = self.running.iter().position(|job| job.pid == pid) else {
            return;
        };
        let mut job = self.running.swap_remove(index);
        read_pipe(&mut job.stdout_pipe, &mut job.stdout, &mut self.scratch);
        read_pipe(&mut job.stderr_pipe, &mut job.stderr, &mut self.scratch);
        // What processes it left behind write from now on is not collected.
        job.stdout_pipe = None;
        job.stderr_pipe = None;
        self.slots.release(job.slot);
        if self.terminator.is_ending(pid) {
            self.terminator.leader_reaped(pid);
        } else {
            self.scheduler
                .own_processes()
                .remove_group(pid.as_raw_nonzero().get() as u32);
        }
        self.progress.set_running(self.running.len());
        self.complete(FinishedJob {
            spec: job.spec,
            tag: job.tag,
            command: job.command,
            started_wall: job.started_wall,
            runtime: job.started.elapsed(),
            ending: Ending::from_status(status),
            ended_by_us: job.ended_by_us,
            stdout: job.stdout,
            stderr: job.stderr,
        });
    }

    /// A job's process ended: retry it, or record, count and print it.
    fn complete(&mut self, mut job: FinishedJob) {
        if job.ended_by_us == Some(EndedByUs::Cancelled) {
            // It did not get to finish: printed, so nothing is lost, but
            // neither logged nor counted, so that --resume runs it again.
            self.print_finished(&mut job);
            return;
        }
        if !job.succeeded() && job.spec.attempt < self.settings.retries && self.stop.is_none() {
            let mut spec = job.spec;
            spec.attempt += 1;
            self.pending.push_front(spec);
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
        let Some(job) = self.running.iter_mut().find(|job| job.spec.seq == seq) else {
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
            if policy.mode == HaltMode::Now {
                self.cancel_running();
            }
        }
    }

    /// The jobs that succeeded, failed, and all jobs (those known so far
    /// when their total is not known).
    fn halt_counts(&self) -> HaltCounts {
        let known_so_far =
            self.succeeded + self.failed + self.running.len() as u64 + self.pending.len() as u64;
        let total = match self.inputs.known_total() {
            Some(total) => {
                total
                    - self
                        .resume
                        .as_ref()
                        .map_or(0, |plan| plan.skipped_up_to(total))
            }
            None => known_so_far,
        };
        HaltCounts {
            succeeded: self.succeeded,
            failed: self.failed,
            total: total.max(known_so_far),
        }
    }

    fn on_stop_signal(&mut self, signal: StopSignal, count: usize) {
        self.stop_signals += count;
        if !matches!(self.stop, Some(StopCause::Signal(_) | StopCause::Fatal(_))) {
            self.stop = Some(StopCause::Signal(signal));
        }
        self.cancel_running();
        if self.stop_signals >= 2 {
            self.terminator.kill_all_now();
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
            self.cancel_running();
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
        self.cancel_running();
    }

    /// Ends every running job that is not being ended already.
    fn cancel_running(&mut self) {
        let now = Instant::now();
        for job in &mut self.running {
            if job.ended_by_us.is_none() {
                job.ended_by_us = Some(EndedByUs::Cancelled);
                self.terminator.terminate(job.pid, now);
            }
        }
    }

    /// The last resort when the event loop itself fails: SIGKILL to every
    /// job's process group, without waiting.
    fn kill_everything(&mut self) {
        for job in &self.running {
            let _ = rustix::process::kill_process_group(job.pid, Signal::KILL);
        }
        self.terminator.kill_all_now();
    }

    fn check_deadlines(&mut self, now: Instant) {
        for job in &mut self.running {
            if job.ended_by_us.is_none() && job.deadline.is_some_and(|deadline| now >= deadline) {
                job.ended_by_us = Some(EndedByUs::TimedOut);
                self.terminator.terminate(job.pid, now);
            }
        }
        self.terminator.kill_overdue(now);
        self.terminator.forget_gone();
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
