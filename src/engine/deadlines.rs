//! Time in the engine: timeouts, the ends of grace periods, the start
//! delay and the scheduler's next measurement, and what is due when they
//! pass.

use std::time::Instant;

use super::Engine;
use super::ending::{self, EndReason};

impl Engine {
    /// When [`Engine::wait`] must return even if nothing happens.
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.next_deadline(), None); // nothing to wait for
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.queue.ended_outside.is_empty() {
            return Some(Instant::now());
        }
        let tasks = self.running.iter().filter_map(|task| match &task.ending {
            None => task.deadline.filter(|_| !task.pauses.is_paused()),
            Some(ending) => ending.kill_at,
        });
        let starting = !self.queue.is_empty() && self.gate.is_open() && !self.paused;
        let measurement = (starting || self.yielding.advising)
            .then(|| self.scheduler.next_deadline())
            .flatten();
        let delayed = starting.then(|| self.delayed_until()).flatten();
        tasks
            .chain(self.sweeper.next_deadline())
            .chain(measurement)
            .chain(delayed)
            .min()
    }

    /// Ends the tasks past their timeout, and kills those whose grace
    /// period is over.
    pub(super) fn check_deadlines(&mut self, now: Instant) {
        for task in &mut self.running {
            match &mut task.ending {
                None => {
                    if !task.pauses.is_paused()
                        && task.deadline.is_some_and(|deadline| now >= deadline)
                    {
                        task.ending = Some(ending::terminate(
                            &task.process,
                            EndReason::TimedOut,
                            self.settings.kill_grace,
                            now,
                        ));
                    }
                }
                Some(ending) => {
                    if ending.kill_at.is_some_and(|at| now >= at) {
                        ending::kill(&task.process, ending);
                    }
                }
            }
        }
    }
}
