//! The scheduler's advice for our running tasks, so that they give CPUs back:
//! when foreign load appears after they started, the considerate modes lower
//! their priority and `Generous` pauses the most recently started ones, down
//! to what is free (the engine acts on it: see `engine::yielding`).
//!
//! Each new measurement is judged once. Load that leaves fewer CPUs than
//! ours use takes effect at once: lower priority, and (in `Generous`) keep
//! only as many tasks running as CPUs are free. Going back is slower, so
//! that load that hovers around a limit does not stop and continue tasks
//! every few hundred milliseconds: paused tasks continue only after
//! [`CALM_MEASUREMENTS`] measurements in a row leave room for them (as many
//! as the smallest of those rooms), and the priority advice is withdrawn
//! only after as many measurements in a row leave room for every task.

use std::fmt;
use std::time::Instant;

use crate::priority::Priority;

/// How many measurements in a row must show room before tasks continue or
/// the priority advice is withdrawn.
pub const CALM_MEASUREMENTS: u32 = 2;

/// What the scheduler advises about our running tasks (see
/// [`Scheduler::running_advice`](crate::Scheduler::running_advice)).
///
/// ```
/// use dummymp::RunningAdvice;
/// let advice = RunningAdvice { renice: true, keep_running: 1 };
/// assert_eq!(advice.to_string(), "keep 1 running, lower their priority");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningAdvice {
    /// Run our tasks at a lower priority (`nice`): the running ones, and
    /// those started while this holds. Raising a priority back needs
    /// privileges, so tasks already lowered may stay so.
    pub renice: bool,
    /// How many of our running tasks may keep running: pause (`SIGSTOP`)
    /// the most recently started ones beyond it, and continue (`SIGCONT`)
    /// paused ones, oldest first, when it grows.
    pub keep_running: usize,
}

impl fmt::Display for RunningAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keep {} running", self.keep_running)?;
        if self.renice {
            f.write_str(", lower their priority")?;
        }
        Ok(())
    }
}

/// The state behind [`RunningAdvice`], with its hysteresis.
#[derive(Debug, Clone, Default)]
pub(crate) struct Advisor {
    renice: bool,
    /// Measurements in a row with room for every running task.
    calm_for_renice: u32,
    /// How many may run while some are paused.
    keep: Option<usize>,
    /// Measurements in a row with room for more than `keep`, and the
    /// smallest such room.
    calm_for_keep: u32,
    smallest_room: usize,
    /// The measurement last judged.
    judged: Option<Instant>,
}

impl Advisor {
    /// The advice for `running` tasks of ours, judging the measurement
    /// taken at `taken_at` (if not judged yet) that leaves `room` CPUs to
    /// us (`None`: nothing measured yet).
    pub(crate) fn advise(
        &mut self,
        priority: Priority,
        measured: Option<(usize, Instant)>,
        running: usize,
    ) -> RunningAdvice {
        if !priority.renices_running_tasks() {
            *self = Advisor::default();
            return RunningAdvice {
                renice: false,
                keep_running: running,
            };
        }
        if let Some((room, taken_at)) = measured
            && self.judged != Some(taken_at)
        {
            self.judged = Some(taken_at);
            self.judge(priority, room, running);
        }
        if self.keep.is_some_and(|keep| keep >= running) {
            self.keep = None;
        }
        RunningAdvice {
            renice: self.renice,
            keep_running: self.keep.unwrap_or(running).min(running),
        }
    }

    fn judge(&mut self, priority: Priority, room: usize, running: usize) {
        if room < running {
            self.renice = true;
            self.calm_for_renice = 0;
        } else if self.renice {
            self.calm_for_renice += 1;
            if self.calm_for_renice >= CALM_MEASUREMENTS {
                self.renice = false;
                self.calm_for_renice = 0;
            }
        }
        if !priority.pauses_running_tasks() {
            self.keep = None;
            return;
        }
        let active = self.keep.unwrap_or(running).min(running);
        if room < active {
            self.keep = Some(room);
            self.calm_for_keep = 0;
        } else if room > active && self.keep.is_some() {
            self.smallest_room = if self.calm_for_keep == 0 {
                room
            } else {
                self.smallest_room.min(room)
            };
            self.calm_for_keep += 1;
            if self.calm_for_keep >= CALM_MEASUREMENTS {
                self.keep = Some(self.smallest_room);
                self.calm_for_keep = 0;
            }
        } else {
            self.calm_for_keep = 0;
        }
    }

    /// Whether some of our tasks should be paused now.
    pub(crate) fn pausing(&self, running: usize) -> bool {
        self.keep.is_some_and(|keep| keep < running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Feeds one new measurement per room and returns the advice after each.
    fn replay(priority: Priority, running: usize, rooms: &[usize]) -> Vec<(bool, usize)> {
        let mut yielding = Advisor::default();
        let t0 = Instant::now();
        rooms
            .iter()
            .enumerate()
            .map(|(i, &room)| {
                let at = t0 + Duration::from_secs(i as u64);
                let advice = yielding.advise(priority, Some((room, at)), running);
                (advice.renice, advice.keep_running)
            })
            .collect()
    }

    #[test]
    fn generous_pauses_at_once_and_continues_after_two_calm_measurements() {
        let advice = replay(Priority::Generous, 4, &[4, 1, 3, 4, 4, 4, 4]);
        assert_eq!(
            advice,
            [
                (false, 4), // room for all
                (true, 1),  // load: keep one
                (true, 1),  // room for 3, once
                (true, 3),  // twice: the smaller room of the two
                (false, 3), // room for all twice: the priority advice goes
                (false, 4), // and the last paused task continues
                (false, 4),
            ]
        );
    }

    #[test]
    fn load_that_flickers_does_not_flap() {
        let advice = replay(Priority::Generous, 2, &[0, 2, 0, 2, 0, 2]);
        assert!(
            advice.iter().all(|&(renice, keep)| renice && keep == 0),
            "{advice:?}"
        );
    }

    #[test]
    fn normal_only_lowers_the_priority() {
        let advice = replay(Priority::Normal, 3, &[3, 1, 0, 3, 3]);
        assert_eq!(
            advice,
            [(false, 3), (true, 3), (true, 3), (true, 3), (false, 3)]
        );
    }

    #[test]
    fn the_other_modes_never_yield() {
        for priority in [Priority::Aggressive, Priority::Extreme, Priority::Nuclear] {
            let advice = replay(priority, 3, &[0, 0]);
            assert_eq!(advice, [(false, 3), (false, 3)], "{priority}");
        }
    }

    #[test]
    fn a_measurement_is_judged_once_and_ended_tasks_free_their_place() {
        let mut yielding = Advisor::default();
        let at = Instant::now();
        let a = yielding.advise(Priority::Generous, Some((1, at)), 3);
        assert_eq!(a.keep_running, 1);
        assert!(yielding.pausing(3));
        // The same measurement again: no calm counted.
        for _ in 0..3 {
            assert_eq!(
                yielding
                    .advise(Priority::Generous, Some((3, at)), 3)
                    .keep_running,
                1
            );
        }
        // Two tasks ended: the one left may run.
        let a = yielding.advise(Priority::Generous, Some((1, at)), 1);
        assert_eq!(a.keep_running, 1);
        assert!(!yielding.pausing(1));
        let none = yielding.advise(Priority::Generous, None, 2);
        assert_eq!(none.keep_running, 2, "nothing paused any more");
    }
}
