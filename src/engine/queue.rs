//! The tasks waiting to start, in order, and the reports of tasks that
//! ended without running (removed from the queue), until the next
//! [`Engine::process`] hands them out.

use std::collections::VecDeque;

use super::Engine;
use crate::task::Outcome;
use crate::task::TaskId;
use crate::task::TaskReport;
use crate::task::TaskSpec;

/// A task waiting to start.
pub(crate) struct Queued {
    pub id: TaskId,
    pub spec: TaskSpec,
    /// Which attempt it waits for, from 1.
    pub attempt: u32,
}

/// The waiting tasks.
#[derive(Default)]
pub(crate) struct TaskQueue {
    waiting: VecDeque<Queued>,
    next_id: usize,
    /// Reports of tasks that ended outside of [`Engine::process`] (removed
    /// from the queue), handed out by the next call.
    pub ended_outside: Vec<TaskReport>,
}

impl TaskQueue {
    /// Adds a new task at the end; ids follow submission order from 0.
    pub(crate) fn push_new(&mut self, spec: TaskSpec) -> TaskId {
        let id = TaskId(self.next_id);
        self.next_id += 1;
        self.waiting.push_back(Queued {
            id,
            spec,
            attempt: 1,
        });
        id
    }

    /// Puts a task back at the head (a retry, or a start the system
    /// refused for now).
    pub(crate) fn push_front(&mut self, queued: Queued) {
        self.waiting.push_front(queued);
    }

    /// Puts back a task that was sent ahead to a worker and did not start
    /// there: before the first waiting task that was queued after it, so
    /// that tasks keep their call order.
    pub(crate) fn put_back(&mut self, queued: Queued) {
        let at = self
            .waiting
            .iter()
            .position(|waiting| waiting.id > queued.id)
            .unwrap_or(self.waiting.len());
        self.waiting.insert(at, queued);
    }

    /// Takes the task at the head.
    pub(crate) fn pop_front(&mut self) -> Option<Queued> {
        self.waiting.pop_front()
    }

    /// The task at the head.
    pub(crate) fn front(&self) -> Option<&Queued> {
        self.waiting.front()
    }

    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether nothing waits and no report waits to be handed out.
    pub(crate) fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.ended_outside.is_empty()
    }

    /// Removes task `id` if it waits; it ends as [`Outcome::Killed`] at the
    /// next [`Engine::process`]. Returns whether it was waiting.
    pub(crate) fn kill(&mut self, id: TaskId) -> bool {
        let Some(position) = self.waiting.iter().position(|q| q.id == id) else {
            return false;
        };
        if let Some(queued) = self.waiting.remove(position) {
            self.ended_outside.push(TaskReport::without_process(
                id,
                queued.spec.name,
                Outcome::Killed,
                queued.attempt - 1,
            ));
        }
        true
    }

    /// Removes every waiting task without reporting it; returns their ids.
    pub(crate) fn drain(&mut self) -> Vec<TaskId> {
        self.waiting.drain(..).map(|q| q.id).collect()
    }
}

impl Engine {
    /// Queues a task; ids follow submission order from 0.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::{Engine, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler, TaskId};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// let first = engine.submit(TaskSpec::command(Command::new("true")));
    /// let second = engine.submit(TaskSpec::command(Command::new("true")));
    /// assert_eq!((first, second), (TaskId::from(0), TaskId::from(1)));
    /// assert_eq!(engine.queued(), 2);
    /// ```
    pub fn submit(&mut self, spec: TaskSpec) -> TaskId {
        self.queue.push_new(spec)
    }

    /// Tasks waiting to start: in the queue, or sent ahead to a reused
    /// worker (see [`EngineSettings::tasks_ahead`](super::EngineSettings::tasks_ahead)).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.queue.len() + self.queued_at_workers()
    }

    /// Removes every queued task without running or reporting it; returns
    /// their ids.
    ///
    /// ```
    /// use dummymp::engine::{Engine, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler, TaskId};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::command(Command::new("true")));
    /// assert_eq!(engine.drop_queued(), vec![TaskId::from(0)]);
    /// assert!(engine.is_idle());
    /// ```
    pub fn drop_queued(&mut self) -> Vec<TaskId> {
        self.queue.drain()
    }
}
