//! Admission: how many queued tasks start now. The scheduler decides for
//! the CPUs, the foreign load, the memory and the cap; here are the rules
//! it does not know: the delay between starts, the launcher's room, a task
//! that can never fit in memory, and starts the system refused for now.

use std::time::Instant;

use super::Engine;
use super::events::{Event, EventSink};
use super::memory;
use super::starting::{Begun, Start};
use crate::task::Outcome;
use crate::task::TaskReport;

/// What admission remembers between decisions.
#[derive(Debug, Default)]
pub(crate) struct StartState {
    /// The system refused a new process while some of ours run: try again
    /// when one of them ends.
    pub spawn_blocked: bool,
    /// When a task last ended (a worker refused its setup before then may
    /// find room now).
    pub last_task_end: Option<Instant>,
    /// When the last task started.
    pub last_start: Option<Instant>,
}

impl StartState {
    /// A task ended: what refused a start may have passed.
    pub(crate) fn task_ended(&mut self) {
        self.spawn_blocked = false;
        self.last_task_end = Some(Instant::now());
    }

    /// Whether a task ended at or after `since`.
    pub(crate) fn ended_since(&self, since: Instant) -> bool {
        self.last_task_end.is_some_and(|end| end >= since)
    }
}

/// The most starts waiting for the fork server's answers at once.
const MOST_FORKING: usize = 16;

/// What came of the starts of one round.
#[derive(Default)]
struct StartCounts {
    /// Tasks that ended at once (they could not start).
    ended_at_once: usize,
    /// No more starts this time: the queue is empty, the system or the
    /// front end refused.
    stop: bool,
}

impl Engine {
    /// When the start delay lets the next task start, if it holds one back.
    pub(super) fn delayed_until(&self) -> Option<Instant> {
        self.settings
            .start_delay
            .zip(self.starts.last_start)
            .map(|(delay, last)| last + delay)
    }

    /// Starts as many queued tasks as the scheduler allows.
    pub(super) fn start_ready(&mut self, sink: &mut (impl EventSink + ?Sized)) {
        // A task that could not start frees its slot at once, and no event
        // will come for it: ask the scheduler again until every slot it
        // grants holds a task (or the queue is empty).
        loop {
            if self.delayed_until().is_some_and(|at| Instant::now() < at) {
                return;
            }
            let waiting = if self.starts.spawn_blocked {
                0
            } else {
                self.queue.len()
            };
            let memory = match self.queue.front() {
                Some(head) if waiting > 0 => {
                    let settled = self.running.is_empty() && self.sweeper.is_idle();
                    match memory::head_memory(
                        &self.scheduler,
                        &head.spec,
                        self.running.len(),
                        settled,
                    ) {
                        memory::HeadMemory::Estimate(estimate) => estimate,
                        memory::HeadMemory::Never(error) => {
                            self.never_fits(error, sink);
                            continue;
                        }
                    }
                }
                _ => None,
            };
            let mut slots =
                self.scheduler
                    .free_slots_with_memory(self.running.len(), waiting, memory);
            if self.settings.start_delay.is_some() {
                slots = slots.min(1);
            }
            let mut counts = StartCounts::default();
            // Workers asked of the fork server: the next starts are begun
            // before their answers are waited for, so that the server
            // forks while this process goes on (starts finish in the order
            // they began).
            let mut forking = Vec::new();
            for _ in 0..slots {
                if !sink.accepts_starts() || !self.launcher_has_room() {
                    counts.stop = true;
                    break;
                }
                let Some(begun) = self.begin_next() else {
                    counts.stop = true;
                    break;
                };
                let wait_later = begun.is_forking() && forking.len() + 1 < MOST_FORKING;
                forking.push(begun);
                if !wait_later {
                    self.finish_starts(&mut forking, &mut counts, sink);
                    if counts.stop {
                        break;
                    }
                }
            }
            self.finish_starts(&mut forking, &mut counts, sink);
            let (stop, ended_at_once) = (counts.stop, counts.ended_at_once);
            if stop || ended_at_once == 0 {
                return;
            }
        }
    }

    /// Finishes the starts begun, in order; one the front end no longer
    /// takes is given up (its task goes back to the queue).
    fn finish_starts(
        &mut self,
        begun: &mut Vec<Begun>,
        counts: &mut StartCounts,
        sink: &mut (impl EventSink + ?Sized),
    ) {
        for begun in begun.drain(..) {
            if !sink.accepts_starts() {
                self.abandon_start(begun);
                counts.stop = true;
                continue;
            }
            match self.finish_start(begun, sink) {
                Start::Started => {
                    self.activity += 1;
                    self.starts.last_start = Some(Instant::now());
                }
                Start::Failed => {
                    self.activity += 1;
                    counts.ended_at_once += 1;
                }
                Start::Refused => counts.stop = true,
            }
        }
    }

    /// The task at the head of the queue needs more memory than this
    /// machine can ever give it under the priority mode (`error` says how
    /// much): it ends now rather than waiting for ever.
    fn never_fits(&mut self, error: String, sink: &mut (impl EventSink + ?Sized)) {
        let Some(queued) = self.queue.pop_front() else {
            return;
        };
        sink.event(Event::Ended(Box::new(TaskReport::without_process(
            queued.id,
            queued.spec.name,
            Outcome::FailedToStart { error, errno: None },
            queued.attempt,
        ))));
    }

    /// Launcher-specific: whether the launcher has the CPUs the task at the
    /// head of the queue needs (a Slurm allocation counts the CPUs its
    /// steps take, for tasks that need more than one).
    fn launcher_has_room(&self) -> bool {
        let Some(next) = self.queue.front() else {
            return true;
        };
        let launcher = self.launch.launcher();
        let in_use = self
            .running
            .iter()
            .map(|task| launcher.task_cpus(task.spec.options.cpus))
            .sum();
        launcher.has_room_for(in_use, next.spec.options.cpus)
    }
}
