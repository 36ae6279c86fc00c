//! Starting the task at the head of the queue: its process (a reused
//! worker, or a new one through the launch seam), its slot, its deadline,
//! and the [`RunningTask`] that watches it.

use std::collections::VecDeque;
use std::io;
use std::time::{Instant, SystemTime};

use super::Engine;
use super::events::{Event, EventSink};
use super::pool::{Reusable, WorkerKind, send_request};
use super::queue::Queued;
use super::running::{Reader, RunningTask};
use super::transient::is_transient;
use crate::launch::{LaunchIo, LaunchSpec, Starting};
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
}

/// A task whose start has begun ([`Engine::begin_next`]): its process may
/// still be on its way from the fork server.
pub(crate) struct Begun {
    queued: Queued,
    slot: usize,
    started: Instant,
    started_wall: SystemTime,
    worker_kind: Option<WorkerKind>,
    launch: io::Result<Launching>,
}

/// How a begun task gets its process.
enum Launching {
    /// An idle worker took its request.
    Reused(Reusable),
    /// A new process, and the request to send it once it is there.
    New {
        starting: Starting,
        spec: LaunchSpec,
        request: Option<Vec<u8>>,
    },
}

impl Begun {
    /// Whether its process is still to come from the fork server (so that
    /// it pays to begin more starts before finishing it).
    pub(crate) fn is_forking(&self) -> bool {
        matches!(
            self.launch,
            Ok(Launching::New {
                starting: Starting::Forking(_),
                ..
            })
        )
    }
}

impl Engine {
    /// Begins starting the task at the head of the queue: an idle worker
    /// takes it, or its process is asked for; [`Engine::finish_start`]
    /// completes it. `None` when the queue is empty.
    pub(super) fn begin_next(&mut self) -> Option<Begun> {
        let mut queued = self.queue.pop_front()?;
        let slot = self.slots.acquire();
        let start = StartInfo {
            id: queued.id,
            slot,
            attempt: queued.attempt,
        };
        let started = Instant::now();
        let started_wall = SystemTime::now();
        let mut worker_kind = None;
        let launch = self
            .launch_spec(&mut queued.spec, &start)
            .and_then(|(spec, request)| {
                if self.settings.reuse_workers && spec.io == LaunchIo::Worker {
                    let kind = WorkerKind::of(&spec);
                    let reused = self.reuse_idle_worker(&kind, request.as_deref());
                    worker_kind = Some(kind);
                    if let Some(worker) = reused {
                        return Ok(Launching::Reused(worker));
                    }
                }
                self.make_room_for_a_new_process();
                let starting = self.launch.begin(&spec)?;
                Ok(Launching::New {
                    starting,
                    spec,
                    request,
                })
            });
        Some(Begun {
            queued,
            slot,
            started,
            started_wall,
            worker_kind,
            launch,
        })
    }

    /// Gives up a begun start before its task started (the front end
    /// stopped taking starts): the task goes back to the queue, and a
    /// worker already asked for ends unused.
    pub(super) fn abandon_start(&mut self, begun: Begun) {
        self.slots.release(begun.slot);
        match begun.launch {
            Ok(Launching::Reused(worker)) => self.end_worker_now(worker.process),
            Ok(Launching::New { starting, spec, .. }) => {
                if let Ok(process) = self.launch.finish(starting, &spec) {
                    self.end_worker_now(process);
                }
            }
            Err(_) => {}
        }
        self.queue.put_back(begun.queued);
    }

    /// Completes a start [`Engine::begin_next`] began (in the order begun).
    pub(super) fn finish_start(
        &mut self,
        begun: Begun,
        sink: &mut (impl EventSink + ?Sized),
    ) -> Start {
        let Begun {
            queued,
            slot,
            started,
            started_wall,
            worker_kind,
            launch,
        } = begun;
        let start = StartInfo {
            id: queued.id,
            slot,
            attempt: queued.attempt,
        };
        let launched = launch.and_then(|launching| match launching {
            Launching::Reused(worker) => Ok((worker, false)),
            Launching::New {
                starting,
                spec,
                request,
            } => {
                let process = self.launch.finish(starting, &spec)?;
                let process = send_request(process, request.as_deref())?;
                let worker = Reusable {
                    process,
                    frames: FrameBuffer::default(),
                    pace: None,
                };
                Ok((worker, true))
            }
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
                    pauses: Default::default(),
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
                self.queue.put_back(queued);
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
