//! Starting the task at the head of the queue: its process (a reused
//! worker, or a new one through the launch seam), its slot, its deadline,
//! and the [`RunningTask`] that watches it.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use super::Engine;
use super::events::{Event, EventSink};
use super::pool::{Reusable, WorkerKind};
use super::running::{Reader, RunningTask};
use super::transient::is_transient;
use crate::launch::LaunchIo;
use crate::protocol::FrameBuffer;
use crate::task::Outcome;
use crate::task::StartInfo;
use crate::task::TaskReport;

/// What came of trying to start the task at the head of the queue.
pub(crate) enum Start {
    /// Its process runs.
    Started,
    /// It could not start and has ended (its report is out).
    Failed,
    /// The system refused for now; it went back to wait for one of ours
    /// to end.
    Refused,
    /// The queue was empty.
    NothingQueued,
}

impl Engine {
    /// Starts the task at the head of the queue.
    pub(super) fn start_next(&mut self, sink: &mut (impl EventSink + ?Sized)) -> Start {
        let Some(mut queued) = self.queue.pop_front() else {
            return Start::NothingQueued;
        };
        let slot = self.slots.acquire();
        let start = StartInfo {
            id: queued.id,
            slot,
            attempt: queued.attempt,
        };
        let started = Instant::now();
        let started_wall = SystemTime::now();
        let mut worker_kind = None;
        let launched = self
            .launch_spec(&mut queued.spec, &start)
            .and_then(|(spec, request)| {
                if self.settings.reuse_workers && spec.io == LaunchIo::Worker {
                    let kind = WorkerKind::of(&spec);
                    let reused = self.reuse_idle_worker(&kind, request.as_deref());
                    worker_kind = Some(kind);
                    if let Some(worker) = reused {
                        return Ok((worker, false));
                    }
                }
                self.start_process(&spec, request.as_deref())
                    .map(|process| {
                        let worker = Reusable {
                            process,
                            frames: FrameBuffer::default(),
                            pace: None,
                        };
                        (worker, true)
                    })
            });
        match launched {
            Ok((
                Reusable {
                    process,
                    frames,
                    pace,
                },
                fresh,
            )) => {
                let pid = process.pid;
                self.scheduler.own_processes().add_group(pid);
                log::debug!(
                    target: "dummymp::engine",
                    "[PID {pid}] started {} ({}), attempt {}",
                    queued.id,
                    queued.spec.name,
                    queued.attempt
                );
                let deadline = queued.spec.options.timeout.map(|t| started + t);
                let reader = if queued.spec.is_call() {
                    Reader::worker(frames)
                } else {
                    Reader::command()
                };
                self.running.push(RunningTask {
                    id: queued.id,
                    attempt: queued.attempt,
                    slot,
                    process,
                    started,
                    started_wall,
                    deadline,
                    ending: None,
                    reader,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    io_ready: false,
                    exit_ready: false,
                    received: 0,
                    reniced: self.yielding.renice_new,
                    paused_since: None,
                    worker_kind,
                    spec: queued.spec,
                    ahead: VecDeque::new(),
                    pace,
                    retire: false,
                    fresh,
                });
                sink.event(Event::Started {
                    id: start.id,
                    pid,
                    slot,
                    attempt: start.attempt,
                });
                Start::Started
            }
            Err(error) if is_transient(&error) && !self.running.is_empty() => {
                log::debug!(
                    target: "dummymp::engine",
                    "cannot start {} yet ({error}); retrying when a task ends",
                    queued.id
                );
                self.slots.release(slot);
                self.queue.push_front(queued);
                self.starts.spawn_blocked = true;
                Start::Refused
            }
            Err(error) => {
                self.slots.release(slot);
                let mut report = TaskReport::without_process(
                    queued.id,
                    queued.spec.name,
                    Outcome::FailedToStart {
                        error: error.to_string(),
                        errno: error.raw_os_error(),
                    },
                    queued.attempt,
                );
                report.started_at = Some(started_wall);
                sink.event(Event::Ended(Box::new(report)));
                Start::Failed
            }
        }
    }
}
