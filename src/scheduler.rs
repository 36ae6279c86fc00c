//! The scheduling decision: how many more tasks may start right now.
//!
//! [`Scheduler`] is shared by the library's task runner and by the
//! `dummymp` command-line tool: both ask it for free slots and poll its
//! wake-up descriptor, so the priority modes, the foreign-load measurement,
//! the usable CPU count and the process cap behave the same everywhere.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use crate::cpus::CpuInfo;
use crate::load::monitor::LoadMonitor;
use crate::load::{LoadMeasurement, OwnProcesses};
use crate::priority::Priority;

/// Decides how many tasks may run at once, from the priority mode, the
/// foreign load, the usable CPUs and the process cap.
///
/// The scheduler never blocks: measurements run on a background thread. A
/// caller that waits for events should include [`Scheduler::wake_fd`] in its
/// `poll` set and wake up at [`Scheduler::next_deadline`] at the latest, then
/// ask [`Scheduler::free_slots`] again.
///
/// ```
/// use dummymp::{Priority, Scheduler};
/// let mut scheduler = Scheduler::new(Priority::Nuclear, 1);
/// // Nuclear uses every usable CPU, but the cap is one process.
/// assert_eq!(scheduler.free_slots(0, 10), 1);
/// assert_eq!(scheduler.free_slots(1, 9), 0);
/// ```
pub struct Scheduler {
    priority: Priority,
    max_processes: usize,
    capacity: Option<usize>,
    /// Whether the last decision left tasks waiting that a measurement
    /// could let start (not so while the process cap is reached).
    measurement_wanted: bool,
    cpu: CpuInfo,
    own: OwnProcesses,
    monitor: LoadMonitor,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("priority", &self.priority)
            .field("max_processes", &self.max_processes)
            .field("capacity", &self.capacity)
            .field("cpu", &self.cpu)
            .field("measurement", &self.monitor.current())
            .finish()
    }
}

impl Scheduler {
    /// A scheduler for `priority` with at most `max_processes` tasks at once
    /// (0: no cap beyond the CPUs).
    pub fn new(priority: Priority, max_processes: usize) -> Scheduler {
        let own = OwnProcesses::new();
        let monitor = LoadMonitor::new(priority, own.clone());
        Scheduler {
            priority,
            max_processes,
            capacity: None,
            measurement_wanted: false,
            cpu: CpuInfo::current(),
            own,
            monitor,
        }
    }

    /// The priority mode.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Changes the priority mode; measurements made under another mode are
    /// dropped, and the next decision starts from a new measurement.
    pub fn set_priority(&mut self, priority: Priority) {
        self.priority = priority;
        self.monitor.set_priority(priority);
    }

    /// The process cap (0: none).
    pub fn max_processes(&self) -> usize {
        self.max_processes
    }

    /// Sets the process cap (0: none).
    pub fn set_max_processes(&mut self, max_processes: usize) {
        self.max_processes = max_processes;
    }

    /// How many tasks may run when no foreign load is counted (`None`: one
    /// per usable CPU, the default).
    pub fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Sets how many tasks may run when no foreign load is counted. The
    /// default (`None`) is one per usable CPU, right for CPU-bound tasks; a
    /// larger capacity suits tasks that mostly wait (the command-line tool
    /// sets it from `-j`). Counted foreign CPUs are subtracted from it in
    /// every mode but `Nuclear`, and the process cap still applies.
    pub fn set_capacity(&mut self, capacity: Option<usize>) {
        self.capacity = capacity;
    }

    /// The processes that never count as foreign load. Register the process
    /// group of every task you start with [`OwnProcesses::add_group`].
    pub fn own_processes(&self) -> &OwnProcesses {
        &self.own
    }

    /// The CPU facts the scheduler works with (read when it was created,
    /// refreshed with every sampled measurement).
    pub fn cpu_info(&self) -> &CpuInfo {
        &self.cpu
    }

    /// The measurement decisions are based on now, if any.
    pub fn measurement(&self) -> Option<&LoadMeasurement> {
        self.monitor.current()
    }

    /// How many more tasks may start now, with `running` of ours running and
    /// `waiting` ready to start. Never blocks.
    ///
    /// The budget is the capacity (one task per usable CPU unless set) in
    /// `Nuclear`, else the capacity minus the foreign CPUs of the current
    /// measurement; the cap limits it in every mode. When the budget is used
    /// up and none of our tasks runs, every mode but `Generous` starts one
    /// task anyway.
    ///
    /// When more tasks wait than may start, the process cap is not what
    /// holds them back, and the last measurement is stale, a new one starts
    /// in the background; when this call grants a task before anything was
    /// measured (the forced first task), the measurement starts at the next
    /// call instead, so that the task gets the CPU first. Call again when a
    /// task ends, when [`Scheduler::wake_fd`] is readable, and once
    /// [`Scheduler::next_deadline`] passes.
    pub fn free_slots(&mut self, running: usize, waiting: usize) -> usize {
        self.monitor.collect();
        if let Some(m) = self.monitor.current() {
            self.cpu.usable = m.usable_cpus;
        }
        let measured = self.monitor.current().is_some();
        let budget = match (self.priority, self.monitor.current()) {
            (Priority::Nuclear, _) => self.room(0),
            (_, Some(m)) => self.room(m.foreign_cpus),
            (_, None) => 0,
        };
        let budget = match self.max_processes {
            0 => budget,
            cap => budget.min(cap),
        };
        let mut slots = budget.saturating_sub(running);
        if slots == 0 && running == 0 && self.priority.forces_one() {
            slots = 1;
        }
        let slots = slots.min(waiting);
        let cap_reached = self.max_processes != 0 && running + slots >= self.max_processes;
        self.measurement_wanted = waiting > slots && !cap_reached;
        let forced_before_measuring = !measured && slots > 0;
        if self.measurement_wanted && !forced_before_measuring {
            self.monitor.refresh_if_stale(Instant::now());
        }
        slots
    }

    /// Readable when a background measurement has a result: include it in
    /// your `poll` set and call [`Scheduler::free_slots`] when it fires.
    /// `None` until the first measurement starts.
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.monitor.wake_fd()
    }

    /// When [`Scheduler::free_slots`] should be asked again even if nothing
    /// else happens (a measurement is due then). `None` when only an event
    /// can change the answer: nothing waits, the cap is reached, a
    /// measurement is in progress, or the mode never measures.
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.measurement_wanted {
            return None;
        }
        self.monitor.next_deadline()
    }

    /// CPUs available to us under the mode (before the process cap): the
    /// capacity (every usable CPU unless set) in `Nuclear`, else what
    /// foreign load leaves of it. Blocks for one sampling interval unless a
    /// fresh measurement exists.
    pub fn available_cpus(&mut self) -> usize {
        let m = self.monitor.measure_blocking();
        self.cpu.usable = m.usable_cpus;
        self.room(m.foreign_cpus)
    }

    /// What `foreign_cpus` of foreign load leave of the capacity (`Nuclear`
    /// counts none).
    fn room(&self, foreign_cpus: usize) -> usize {
        let capacity = self.capacity.unwrap_or(self.cpu.usable);
        match self.priority {
            Priority::Nuclear => capacity,
            _ => capacity.saturating_sub(foreign_cpus),
        }
    }

    /// Forgets every measurement and re-reads the CPU facts.
    pub fn reset_measurements(&mut self) {
        self.monitor.forget();
        self.cpu = CpuInfo::current();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuclear_uses_every_usable_cpu_and_the_cap_limits_it() {
        let mut s = Scheduler::new(Priority::Nuclear, 0);
        let usable = s.cpu_info().usable;
        assert_eq!(s.free_slots(0, 1000), usable);
        assert_eq!(s.free_slots(usable, 1000), 0);
        assert_eq!(s.free_slots(0, 1), 1, "never more than is waiting");
        s.set_max_processes(1);
        assert_eq!(s.free_slots(0, 1000), 1);
        assert!(s.next_deadline().is_none(), "nuclear never re-measures");
    }

    #[test]
    fn nothing_is_measured_while_the_cap_holds_tasks_back() {
        let mut s = Scheduler::new(Priority::Normal, 1);
        assert_eq!(s.free_slots(0, 5), 1);
        assert_eq!(s.free_slots(1, 4), 0);
        assert!(s.wake_fd().is_none(), "no measurement was started");
        assert!(s.next_deadline().is_none(), "only a task's end matters");
        assert_eq!(s.free_slots(0, 4), 1, "forced again, still unmeasured");
    }

    #[test]
    fn capacity_replaces_the_cpu_count() {
        let mut s = Scheduler::new(Priority::Nuclear, 0);
        s.set_capacity(Some(16));
        assert_eq!(s.free_slots(3, 1000), 13);
        s.set_max_processes(8);
        assert_eq!(s.free_slots(3, 1000), 5);
    }

    #[test]
    fn normal_forces_one_before_anything_is_measured_then_measures() {
        let mut s = Scheduler::new(Priority::Normal, 0);
        assert!(s.measurement().is_none());
        assert_eq!(s.free_slots(0, 5), 1);
        assert!(s.wake_fd().is_none(), "the forced task goes first");
        assert!(s.next_deadline().is_some_and(|d| d <= Instant::now()));
        assert_eq!(s.free_slots(1, 4), 0);
        assert!(s.next_deadline().is_none(), "now measuring");
        s.available_cpus();
        assert!(s.measurement().is_some());
    }

    #[test]
    fn generous_waits_for_its_first_sample() {
        let mut s = Scheduler::new(Priority::Generous, 0);
        assert_eq!(s.free_slots(0, 5), 0);
        assert!(s.next_deadline().is_none(), "a measurement is in flight");
    }
}
