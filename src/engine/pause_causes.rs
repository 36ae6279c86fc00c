//! Why a running task is paused (other users' load, the front end), and
//! since when: a task is stopped at its first cause and continued once
//! every cause is lifted (see [`pausing`](super::pausing)).

use std::time::{Duration, Instant};

/// Why a running task is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseCause {
    /// Other users' processes need its CPU.
    Load,
    /// The front end paused every task ([`Engine::pause_all`]).
    FrontEnd,
}

/// The causes a running task is paused for, and since when it is stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pauses {
    load: bool,
    front_end: bool,
    since: Option<Instant>,
}

impl Pauses {
    /// Whether the task is stopped (for any cause).
    pub(crate) fn is_paused(&self) -> bool {
        self.since.is_some()
    }

    /// A paused task counts as paused since `now` from here on (a reused
    /// worker that goes on to its next task: that task's timeout starts
    /// now).
    pub(crate) fn restart_clock(&mut self, now: Instant) {
        if self.since.is_some() {
            self.since = Some(now);
        }
    }

    /// Whether the task is paused for `cause`.
    pub(crate) fn holds(&self, cause: PauseCause) -> bool {
        match cause {
            PauseCause::Load => self.load,
            PauseCause::FrontEnd => self.front_end,
        }
    }

    fn cause_mut(&mut self, cause: PauseCause) -> &mut bool {
        match cause {
            PauseCause::Load => &mut self.load,
            PauseCause::FrontEnd => &mut self.front_end,
        }
    }

    /// Adds `cause` at `now`; true when the task has to be stopped now (it
    /// was running).
    pub(super) fn add(&mut self, cause: PauseCause, now: Instant) -> bool {
        *self.cause_mut(cause) = true;
        if self.since.is_some() {
            return false;
        }
        self.since = Some(now);
        true
    }

    /// Lifts `cause` at `now`; when no cause is left, the task has to be
    /// continued now: returns how long it was stopped.
    pub(super) fn lift(&mut self, cause: PauseCause, now: Instant) -> Option<Duration> {
        *self.cause_mut(cause) = false;
        if self.load || self.front_end {
            return None;
        }
        let since = self.since.take()?;
        Some(now.saturating_duration_since(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_paused_for_both_causes_runs_again_when_both_are_lifted() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut pauses = Pauses::default();
        assert!(pauses.add(PauseCause::Load, at(1)), "stopped");
        assert!(!pauses.add(PauseCause::FrontEnd, at(2)), "stopped already");
        assert!(pauses.holds(PauseCause::Load) && pauses.holds(PauseCause::FrontEnd));
        assert_eq!(pauses.lift(PauseCause::Load, at(3)), None, "still held");
        assert!(pauses.is_paused());
        assert_eq!(
            pauses.lift(PauseCause::FrontEnd, at(5)),
            Some(Duration::from_secs(4)),
            "continued: stopped from the first pause to the last lift"
        );
        assert!(!pauses.is_paused());
        // The other way round.
        assert!(pauses.add(PauseCause::FrontEnd, at(6)));
        assert!(!pauses.add(PauseCause::Load, at(7)));
        assert_eq!(pauses.lift(PauseCause::FrontEnd, at(8)), None);
        assert_eq!(
            pauses.lift(PauseCause::Load, at(9)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn lifting_a_cause_that_does_not_hold_changes_nothing() {
        let t0 = Instant::now();
        let mut pauses = Pauses::default();
        assert_eq!(pauses.lift(PauseCause::FrontEnd, t0), None);
        assert!(pauses.add(PauseCause::Load, t0));
        assert_eq!(pauses.lift(PauseCause::FrontEnd, t0), None);
        assert!(pauses.is_paused());
    }
}
