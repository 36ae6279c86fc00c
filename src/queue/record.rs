//! Turning the engine's events into what [`DummyMp`](super::DummyMp)
//! keeps: a report per task with its decoded value, the progress counts,
//! and the start and end callbacks.

use crate::engine::{Event, EventSink};
use crate::task::Outcome;
use crate::task::{Progress, TaskReport};

use super::{Callback, TaskEntry};

/// Records events into a [`DummyMp`](super::DummyMp)'s fields.
pub(super) struct Recorder<'a> {
    pub tasks: &'a mut Vec<TaskEntry>,
    pub completed: &'a mut usize,
    pub running: &'a mut usize,
    pub on_start: &'a mut Option<Callback>,
    pub on_end: &'a mut Option<Callback>,
}

impl Recorder<'_> {
    fn progress(&self) -> Progress {
        Progress {
            completed: *self.completed,
            running: *self.running,
            total: self.tasks.len(),
        }
    }

    fn ended(&mut self, mut report: TaskReport) {
        if report.pid.is_some() {
            *self.running = self.running.saturating_sub(1);
        }
        let Some(entry) = self.tasks.get_mut(report.id.index()) else {
            return;
        };
        // A task queued as a spec (a foreign call) keeps its encoded value.
        if let Some(returns) = entry.returns
            && let Some(encoded) = report.returned.take()
        {
            match (returns.decode)(encoded) {
                Ok(value) => report.value = Some(value),
                Err(e) => {
                    report.outcome = Outcome::Failed {
                        reason: format!("cannot decode the return value: {e}"),
                    }
                }
            }
        }
        if !report.outcome.is_success() && report.outcome != Outcome::Killed {
            let pid = report
                .pid
                .map_or_else(|| "-".to_string(), |p| p.to_string());
            log::warn!(
                target: "dummymp",
                "[PID {pid}] {} ({}) {}",
                report.id,
                entry.name,
                report.outcome
            );
        }
        entry.report = Some(report);
        *self.completed += 1;
        let progress = self.progress();
        if let Some(callback) = self.on_end {
            callback(progress);
        }
    }
}

impl EventSink for Recorder<'_> {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { .. } => {
                *self.running += 1;
                let progress = self.progress();
                if let Some(callback) = self.on_start {
                    callback(progress);
                }
            }
            Event::Retrying { .. } => *self.running = self.running.saturating_sub(1),
            Event::Ended(report) => self.ended(*report),
            Event::Output { .. } | Event::Paused { .. } | Event::Resumed { .. } => {}
            Event::Reniced { .. } => {}
        }
    }
}
