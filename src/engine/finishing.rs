//! A task's attempt ended: what it left is swept, its memory peak is
//! learned, and it is either run again (a failure that may be retried, or
//! a worker refused for now) or reported.

use std::time::{Duration, Instant, SystemTime};

use super::Engine;
use super::ending::{self, EndReason};
use super::events::{Event, EventSink};
use super::memory;
use super::pool::Reusable;
use super::queue::Queued;
use super::running::{EndedTask, RunningTask};
use super::transient::is_transient_errno;
use crate::encoded::Encoded;
use crate::task::TaskId;
use crate::task::TaskReport;
use crate::task::TaskSpec;
use crate::task::{Outcome, ProcessExit};

/// An attempt of a task that ended, on its way to a report (or a retry).
struct EndedAttempt {
    id: TaskId,
    spec: TaskSpec,
    attempt: u32,
    pid: u32,
    outcome: Outcome,
    returned: Option<Encoded>,
    exit: Option<ProcessExit>,
    peak_rss: Option<u64>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    started_wall: SystemTime,
    runtime: Duration,
}

impl Engine {
    /// Starts ending the workers whose message stream broke: nothing more
    /// can come from them, and one that went on writing would block for
    /// ever on a pipe nobody reads. They end as [`Outcome::Failed`], saying
    /// how the stream broke.
    pub(super) fn end_broken_streams(&mut self) {
        let now = Instant::now();
        for task in &mut self.running {
            if task.ending.is_none() && task.stream_broken() {
                task.ending = Some(ending::terminate(
                    &task.process,
                    EndReason::BrokenStream,
                    self.settings.kill_grace,
                    now,
                ));
            }
        }
    }

    /// Finishes `self.running[index]`, a reused worker that sent its
    /// result: the task ends, and the worker goes on to the next task sent
    /// ahead to it (which starts now), or waits for the next one in the
    /// pool, or ends (it is retiring).
    /// Returns whether the worker went on to another task.
    pub(super) fn finish_reused(
        &mut self,
        index: usize,
        sink: &mut (impl EventSink + ?Sized),
    ) -> bool {
        self.activity += 1;
        self.starts.task_ended();
        let now = Instant::now();
        let task = &mut self.running[index];
        let runtime = now.saturating_duration_since(task.started);
        let (outcome, returned) = task.outcome(None);
        // The first task of a fresh worker took its start too.
        if !task.fresh {
            task.pace = Some(runtime);
        }
        let pid = task.process.pid;
        if let Some(next) = task.ahead.pop_front() {
            let ended = task.begin_next(next, now);
            let (id, slot, attempt) = (task.id, task.slot, task.attempt);
            self.report_reused(ended, pid, outcome, returned, runtime, sink);
            if sink.accepts_starts() {
                self.tell_started(id, pid, slot, attempt, sink);
                return true;
            }
            // The front end takes no more starts (told so by that end),
            // and the worker goes on by itself: it ends, and the tasks it
            // had (the one it begins too) wait in the queue again.
            let task = self.running.swap_remove(index);
            self.slots.release(task.slot);
            let mut back: Vec<Queued> = task.ahead.into_iter().collect();
            back.push(Queued {
                id: task.id,
                spec: task.spec,
                attempt: task.attempt,
            });
            self.end_worker_now(task.process);
            self.put_back_all(back);
            return false;
        }
        let task = self.running.swap_remove(index);
        self.slots.release(task.slot);
        let RunningTask {
            id,
            spec,
            attempt,
            process,
            started_wall,
            stdout,
            stderr,
            worker_kind,
            reader,
            pace,
            retire,
            ..
        } = task;
        match worker_kind {
            Some(kind) if !retire => self.pool.put(
                kind,
                Reusable {
                    process,
                    frames: reader.into_frames(),
                    pace,
                },
            ),
            _ => self.end_worker_now(process),
        }
        let ended = EndedTask {
            id,
            spec,
            attempt,
            started_wall,
            stdout,
            stderr,
        };
        self.report_reused(ended, pid, outcome, returned, runtime, sink);
        false
    }

    /// Reports (or retries) a task that ended in a worker that lives on.
    fn report_reused(
        &mut self,
        ended: EndedTask,
        pid: u32,
        outcome: Outcome,
        returned: Option<Encoded>,
        runtime: Duration,
        sink: &mut (impl EventSink + ?Sized),
    ) {
        self.report_or_retry(
            EndedAttempt {
                id: ended.id,
                spec: ended.spec,
                attempt: ended.attempt,
                pid,
                outcome,
                returned,
                exit: None,
                peak_rss: None,
                stdout: ended.stdout,
                stderr: ended.stderr,
                started_wall: ended.started_wall,
                runtime,
            },
            sink,
        );
    }

    /// Tells that a task sent ahead to worker `pid` started there.
    fn tell_started(
        &mut self,
        id: TaskId,
        pid: u32,
        slot: usize,
        attempt: u32,
        sink: &mut (impl EventSink + ?Sized),
    ) {
        self.activity += 1;
        self.starts.last_start = Some(Instant::now());
        log::debug!(target: "dummymp::engine", "[PID {pid}] started {id} (sent ahead), attempt {attempt}");
        sink.event(Event::Started {
            id,
            pid,
            slot,
            attempt,
        });
    }

    /// Goes through the results a worker sent before it exited: each task
    /// ahead of it that it went on to starts (and the one after it ends),
    /// so that its exit is the last task's. Reads what it sent for each.
    fn follow_last_results(&mut self, index: usize, sink: &mut (impl EventSink + ?Sized)) {
        loop {
            let task = &mut self.running[index];
            task.read(sink);
            let next = if task.ending.is_none() && task.has_task_result() {
                task.ahead.pop_front()
            } else {
                None
            };
            let Some(next) = next else {
                task.read_last(sink);
                return;
            };
            self.activity += 1;
            self.starts.task_ended();
            let now = Instant::now();
            let task = &mut self.running[index];
            let runtime = now.saturating_duration_since(task.started);
            let (outcome, returned) = task.outcome(None);
            let ended = task.begin_next(next, now);
            let (id, pid, slot, attempt) = (task.id, task.process.pid, task.slot, task.attempt);
            self.report_reused(ended, pid, outcome, returned, runtime, sink);
            self.tell_started(id, pid, slot, attempt, sink);
        }
    }

    /// Finishes `self.running[index]`, whose process exited with `exit`.
    pub(super) fn finish(
        &mut self,
        index: usize,
        exit: Option<ProcessExit>,
        sink: &mut (impl EventSink + ?Sized),
    ) {
        self.activity += 1;
        // Launcher-specific: what a launcher relays (srun's error stream)
        // is all passed on before the last read.
        self.running[index].process.settle();
        self.follow_last_results(index, sink);
        let mut task = self.running.swap_remove(index);
        // What was still ahead of it did not start.
        self.put_back_all(task.ahead.drain(..).collect());
        let peak_rss = self.sweeper.sweep(
            &mut task.process,
            self.scheduler.own_processes(),
            task.ending.is_some_and(|e| e.killed()),
            task.ending.and_then(|e| e.kill_at),
        );
        task.process.input = None;
        self.slots.release(task.slot);
        // Another task ended while this one set itself up (perhaps earlier
        // in this very pass): what refused it may have passed.
        let another_ended_since = self.starts.ended_since(task.started);
        self.starts.task_ended();
        let runtime = task.started.elapsed();

        if let Some((error, errno)) = task.worker_not_started()
            && task.ending.is_none()
            && is_transient_errno(errno)
            && (!self.running.is_empty() || another_ended_since)
        {
            log::debug!(
                target: "dummymp::engine",
                "{} could not set itself up yet ({error}); retrying when a task ends",
                task.id
            );
            // With nothing else running no end will come to unblock it:
            // it is tried again at once (and is final if refused again
            // with nothing running).
            self.starts.spawn_blocked = !self.running.is_empty();
            self.queue.push_front(Queued {
                id: task.id,
                spec: task.spec,
                attempt: task.attempt,
            });
            return;
        }

        let (outcome, returned) = task.outcome(exit);
        // Launcher-specific: Slurm says why a job step ended, unless we
        // ended it (Slurm then reports the step cancelled: by us).
        let (outcome, exit) = match task.ending {
            None => task.process.explain(outcome, exit),
            Some(_) => (outcome, exit),
        };
        let outcome = memory::explain_oom(&mut self.scheduler, outcome);
        if let Some(peak) = memory::peak_to_learn(&outcome, peak_rss) {
            let key = task.spec.memory_key().to_string();
            self.scheduler.record_peak_rss(&key, peak);
        }
        self.report_or_retry(
            EndedAttempt {
                id: task.id,
                pid: task.process.pid,
                spec: task.spec,
                attempt: task.attempt,
                outcome,
                returned,
                exit,
                peak_rss,
                stdout: task.stdout,
                stderr: task.stderr,
                started_wall: task.started_wall,
                runtime,
            },
            sink,
        );
    }

    /// A task's attempt ended: runs it again if it failed and may, else
    /// reports it.
    fn report_or_retry(&mut self, ended: EndedAttempt, sink: &mut (impl EventSink + ?Sized)) {
        log::debug!(
            target: "dummymp::engine",
            "[PID {}] {} ({}) {}",
            ended.pid,
            ended.id,
            ended.spec.name,
            ended.outcome
        );
        if !ended.outcome.is_success()
            && ended.outcome != Outcome::Killed
            && ended.attempt <= ended.spec.options.retries
            && self.gate.is_open()
        {
            sink.event(Event::Retrying {
                id: ended.id,
                outcome: &ended.outcome,
                next_attempt: ended.attempt + 1,
            });
            self.queue.push_front(Queued {
                id: ended.id,
                spec: ended.spec,
                attempt: ended.attempt + 1,
            });
            return;
        }
        sink.event(Event::Ended(Box::new(TaskReport {
            id: ended.id,
            name: ended.spec.name,
            pid: Some(ended.pid),
            outcome: ended.outcome,
            exit: ended.exit,
            stdout: ended.stdout,
            stderr: ended.stderr,
            started_at: Some(ended.started_wall),
            runtime: ended.runtime,
            attempts: ended.attempt,
            peak_rss: ended.peak_rss,
            returned: match ended.returned {
                Some(value) if !ended.spec.decoded_from_pieces => {
                    Some(Encoded::Whole(value.into_vec()))
                }
                other => other,
            },
            value: None,
        })));
    }
}
