//! The scheduler's last decision and its reason, kept for people: the
//! command-line tool's `-v` and progress bar, a library user's log.

use std::fmt;
use std::sync::Arc;

use super::memory::MemoryStatus;
use crate::load::LoadMeasurement;
use crate::priority::Priority;

/// What held back the last decision of
/// [`Scheduler::free_slots`](crate::Scheduler::free_slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotLimit {
    /// Nothing: every waiting task may start (or none waits).
    Nothing,
    /// The process cap is reached.
    ProcessCap,
    /// The mode waits for its first measurement of foreign load.
    FirstMeasurement,
    /// The CPUs: foreign load and our running tasks leave no more.
    Cpus,
    /// No CPU is free, but none of ours runs: one task starts anyway.
    ForcedOne,
    /// The memory: another task would leave less than the mode's reserve
    /// available (or would not fit at all).
    Memory,
}

/// The last decision of [`Scheduler::free_slots`](crate::Scheduler::free_slots)
/// (or [`Scheduler::free_slots_with_memory`](crate::Scheduler::free_slots_with_memory))
/// and the facts behind it.
///
/// Its `Display` form is one line for people, such as `waiting (5 waiting,
/// 0 running): 2 of 2 CPUs busy with other processes: pid 123 (sh) 87 %`.
///
/// ```
/// use dummymp::{Priority, Scheduler, SlotLimit};
/// let mut scheduler = Scheduler::new(Priority::Nuclear, 2);
/// scheduler.free_slots(2, 3);
/// let decision = scheduler.last_decision();
/// assert_eq!(decision.limit, SlotLimit::ProcessCap);
/// assert_eq!(
///     decision.to_string(),
///     "waiting (3 waiting, 2 running): the process cap of 2 is reached"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// How many tasks may start.
    pub slots: usize,
    /// How many of ours were running.
    pub running: usize,
    /// How many were waiting to start.
    pub waiting: usize,
    /// What held it back.
    pub limit: SlotLimit,
    /// The mode it was made in.
    pub priority: Priority,
    /// The process cap (0: none).
    pub max_processes: usize,
    /// How many tasks may run when no foreign load is counted.
    pub capacity: usize,
    /// The load measurement it was based on, if any.
    pub measurement: Option<Arc<LoadMeasurement>>,
    /// The memory facts, when memory was looked at (only when the CPUs let
    /// some task start).
    pub memory: Option<MemoryStatus>,
}

impl Decision {
    /// The decision before any was made.
    pub(crate) fn none(priority: Priority) -> Decision {
        Decision {
            slots: 0,
            running: 0,
            waiting: 0,
            limit: SlotLimit::Nothing,
            priority,
            max_processes: 0,
            capacity: 0,
            measurement: None,
            memory: None,
        }
    }

    fn cpus(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.measurement {
            _ if !self.priority.measures_load() => write!(
                f,
                "{}: other processes are ignored, room for {}",
                self.priority, self.capacity
            ),
            Some(m) => write!(f, "{m}"),
            None => f.write_str("nothing measured yet"),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = format!("{} waiting, {} running", self.waiting, self.running);
        if self.waiting == 0 {
            return write!(f, "nothing waits ({} running)", self.running);
        }
        if self.slots == 0 {
            write!(f, "waiting ({counts}): ")?;
        } else {
            write!(f, "starting {} ({counts}): ", self.slots)?;
        }
        match self.limit {
            SlotLimit::Nothing | SlotLimit::Cpus => self.cpus(f),
            SlotLimit::ProcessCap => {
                write!(f, "the process cap of {} is reached", self.max_processes)
            }
            SlotLimit::FirstMeasurement => write!(
                f,
                "{} waits for its first measurement of other processes' load",
                self.priority
            ),
            SlotLimit::ForcedOne => {
                f.write_str("none of ours runs, so one starts anyway; ")?;
                self.cpus(f)
            }
            SlotLimit::Memory => match &self.memory {
                Some(memory) => write!(f, "{memory}"),
                None => f.write_str("not enough memory"),
            },
        }
    }
}
