//! The scheduling decision: how many more tasks may start right now, and
//! what our running tasks should do when foreign load appears.
//!
//! [`Scheduler`] is shared by the library's task runner and by the
//! `dummymp` command-line tool: both ask it for free slots and poll its
//! wake-up descriptor, so the priority modes, the foreign-load measurement,
//! the usable CPU count, the memory reserve and the process cap behave the
//! same everywhere. Its parts: [`memory`] (admission by available memory),
//! [`running_advice`] (advice for running tasks), [`decision`] (the reason for
//! the last decision, for people).

pub(crate) mod decision;
pub(crate) mod memory;
mod memory_needs;
pub(crate) mod running_advice;

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use crate::cpus::CpuInfo;
use crate::load::monitor::LoadMonitor;
use crate::load::{LoadMeasurement, OwnProcesses};
use crate::priority::Priority;
use decision::{Decision, SlotLimit};
use memory::MemoryAdmission;
use running_advice::{Advisor, RunningAdvice};

/// Decides how many tasks may run at once, from the priority mode, the
/// foreign load, the usable CPUs, the available memory and the process cap;
/// and advises what our running tasks should do when foreign load appears.
///
/// The scheduler never blocks: measurements run on a background thread. A
/// caller that waits for events should include [`Scheduler::wake_fd`] in its
/// `poll` set and wake up at [`Scheduler::next_deadline`] at the latest, then
/// ask [`Scheduler::free_slots`] (and [`Scheduler::running_advice`], if it
/// acts on it) again. [`Scheduler::last_decision`] tells why.
///
/// ```
/// use dummymp::{Priority, Scheduler};
/// let mut scheduler = Scheduler::new(Priority::Nuclear, 1);
/// // Nuclear uses every usable CPU, but the cap is one process.
/// assert_eq!(scheduler.free_slots(0, 10), 1);
/// assert_eq!(scheduler.free_slots(1, 9), 0);
/// println!("{}", scheduler.last_decision()); // waiting (9 waiting, 1 running): the process cap of 1 is reached
/// ```
pub struct Scheduler {
    priority: Priority,
    max_processes: usize,
    capacity: Option<usize>,
    /// Whether the last decision left tasks waiting that a measurement
    /// could let start (not so while the process cap is reached).
    measurement_wanted: bool,
    /// Whether the last decision waits with nothing of ours running: then
    /// measurements follow each other without pause.
    waiting_idle: bool,
    /// Whether running tasks are advised on (the last
    /// [`Scheduler::running_advice`] had tasks to advise on in a mode that
    /// yields), and whether some are to be paused.
    advising: bool,
    pausing: bool,
    /// When memory should be looked at again, while tasks wait for it.
    memory_recheck: Option<Instant>,
    cpu: CpuInfo,
    own: OwnProcesses,
    monitor: LoadMonitor,
    memory: MemoryAdmission,
    advisor: Advisor,
    last: Decision,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("priority", &self.priority)
            .field("max_processes", &self.max_processes)
            .field("capacity", &self.capacity)
            .field("cpu", &self.cpu)
            .field("measurement", &self.monitor.current())
            .field("last", &self.last)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler for `priority` with at most `max_processes` tasks at once
    /// (0: no cap beyond the CPUs).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let scheduler = Scheduler::new(Priority::Generous, 4);
    /// assert_eq!(scheduler.priority(), Priority::Generous);
    /// assert_eq!(scheduler.max_processes(), 4);
    /// ```
    pub fn new(priority: Priority, max_processes: usize) -> Scheduler {
        let own = OwnProcesses::new();
        let monitor = LoadMonitor::new(priority, own.clone());
        Scheduler {
            priority,
            max_processes,
            capacity: None,
            measurement_wanted: false,
            waiting_idle: false,
            advising: false,
            pausing: false,
            memory_recheck: None,
            cpu: CpuInfo::current(),
            own,
            monitor,
            memory: MemoryAdmission::new(),
            advisor: Advisor::default(),
            last: Decision::none(priority),
        }
    }

    /// The priority mode.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// assert_eq!(Scheduler::new(Priority::Extreme, 0).priority(), Priority::Extreme);
    /// ```
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Changes the priority mode; measurements made under another mode are
    /// dropped, and the next decision starts from a new measurement.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// scheduler.set_priority(Priority::Nuclear);
    /// assert_eq!(scheduler.priority(), Priority::Nuclear);
    /// assert_eq!(scheduler.free_slots(0, 1000), scheduler.cpu_info().usable);
    /// ```
    pub fn set_priority(&mut self, priority: Priority) {
        self.priority = priority;
        self.monitor.set_priority(priority);
    }

    /// The process cap (0: none).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// assert_eq!(Scheduler::new(Priority::Normal, 0).max_processes(), 0);
    /// assert_eq!(Scheduler::new(Priority::Normal, 3).max_processes(), 3);
    /// ```
    pub fn max_processes(&self) -> usize {
        self.max_processes
    }

    /// Sets the process cap (0: none).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 0);
    /// scheduler.set_max_processes(2);
    /// assert_eq!(scheduler.free_slots(0, 1000), 2.min(scheduler.cpu_info().usable));
    /// ```
    pub fn set_max_processes(&mut self, max_processes: usize) {
        self.max_processes = max_processes;
    }

    /// How many tasks may run when no foreign load is counted (`None`: one
    /// per usable CPU, the default).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert_eq!(scheduler.capacity(), None);
    /// scheduler.set_capacity(Some(16));
    /// assert_eq!(scheduler.capacity(), Some(16));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Sets how many tasks may run when no foreign load is counted. The
    /// default (`None`) is one per usable CPU, right for CPU-bound tasks; a
    /// larger capacity suits tasks that mostly wait (the command-line tool
    /// sets it from `-j`). Counted foreign CPUs are subtracted from it in
    /// every mode but `Nuclear`, and the process cap still applies.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 0);
    /// scheduler.set_capacity(Some(8)); // tasks that mostly wait: 8 at once, whatever the CPUs
    /// assert_eq!(scheduler.free_slots(0, 1000), 8);
    /// assert_eq!(scheduler.free_slots(8, 992), 0);
    /// ```
    pub fn set_capacity(&mut self, capacity: Option<usize>) {
        self.capacity = capacity;
    }

    /// The processes that never count as foreign load. Register the process
    /// group of every task you start with [`OwnProcesses::add_group`].
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let scheduler = Scheduler::new(Priority::Normal, 0);
    /// scheduler.own_processes().add_group(4242); // a task's process group
    /// assert_eq!(scheduler.own_processes().groups(), [4242]);
    /// ```
    pub fn own_processes(&self) -> &OwnProcesses {
        &self.own
    }

    /// The CPU facts the scheduler works with (read when it was created,
    /// refreshed with every sampled measurement).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert_eq!(scheduler.cpu_info().usable, dummymp::usable_cpus());
    /// ```
    pub fn cpu_info(&self) -> &CpuInfo {
        &self.cpu
    }

    /// The measurement decisions are based on now, if any.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert!(scheduler.measurement().is_none());
    /// scheduler.available_cpus(); // measures, blocking
    /// let measurement = scheduler.measurement().unwrap();
    /// assert_eq!(measurement.priority, Priority::Normal);
    /// assert!(measurement.available_cpus <= measurement.usable_cpus);
    /// ```
    pub fn measurement(&self) -> Option<&LoadMeasurement> {
        self.monitor.current().map(|m| &**m)
    }

    /// The last decision of [`Scheduler::free_slots`] (or
    /// [`Scheduler::free_slots_with_memory`]) and why: show it with `{}`.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler, SlotLimit};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 1);
    /// scheduler.free_slots(1, 5);
    /// assert_eq!(scheduler.last_decision().limit, SlotLimit::ProcessCap);
    /// println!("{}", scheduler.last_decision()); // why: the process cap of 1 is reached
    /// ```
    pub fn last_decision(&self) -> &Decision {
        &self.last
    }

    /// How many more tasks may start now, with `running` of ours running and
    /// `waiting` ready to start. Never blocks. The same as
    /// [`Scheduler::free_slots_with_memory`] with the per-task memory
    /// estimate set by [`Scheduler::set_memory_per_task`] (none by default:
    /// then a task starts only while more than the mode's memory reserve is
    /// available).
    ///
    /// The CPU budget is the capacity (one task per usable CPU unless set)
    /// in `Nuclear`, else the capacity minus the foreign CPUs of the current
    /// measurement; the cap limits it in every mode. When the budget is used
    /// up and none of our tasks runs, every mode but `Generous` starts one
    /// task anyway.
    ///
    /// When more tasks wait than may start, the process cap is not what
    /// holds them back, and the last measurement is stale, a new one starts
    /// in the background; when this call grants a task before anything was
    /// measured (the forced first task), the measurement starts at the next
    /// call instead, so that the task gets the CPU first. While tasks wait
    /// for CPUs with none of ours running, measurements follow each other
    /// without pause (one result per sampling interval), so that a task
    /// starts soon after the load goes away. Call again when a task ends,
    /// when [`Scheduler::wake_fd`] is readable, and once
    /// [`Scheduler::next_deadline`] passes.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 0);
    /// let usable = scheduler.cpu_info().usable;
    /// assert_eq!(scheduler.free_slots(0, 1000), usable); // one per usable CPU
    /// assert_eq!(scheduler.free_slots(0, 1), 1); // never more than wait
    /// assert_eq!(scheduler.free_slots(usable, 1000), 0);
    /// ```
    pub fn free_slots(&mut self, running: usize, waiting: usize) -> usize {
        let per_task = self.memory.per_task();
        self.free_slots_with_memory(running, waiting, per_task)
    }

    /// [`Scheduler::free_slots`] for tasks that need `per_task_bytes` of
    /// memory each (`None`: unknown). A task starts only when, once it has
    /// taken that much, the mode's reserve
    /// ([`Priority::memory_reserve_percent`] of the usable memory) is still
    /// available, counting what our running tasks may still take before
    /// they reach the same size. A task that starts while none of ours
    /// runs keeps no reserve (in every mode but `Generous`), but must still
    /// fit. The available memory is read at every call that the CPUs would
    /// let a task start; while memory holds tasks back,
    /// [`Scheduler::next_deadline`] asks to be called again after one
    /// sampling interval. Ask [`Scheduler::memory_fit`] first for a task
    /// that may never fit: with none of ours running this call starts a
    /// task exactly when that one says it fits.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 0);
    /// // One byte per task fits; no machine has u64::MAX bytes.
    /// assert!(scheduler.free_slots_with_memory(0, 1, Some(1)) == 1);
    /// assert_eq!(scheduler.free_slots_with_memory(0, 1, Some(u64::MAX)), 0);
    /// ```
    pub fn free_slots_with_memory(
        &mut self,
        running: usize,
        waiting: usize,
        per_task_bytes: Option<u64>,
    ) -> usize {
        self.monitor.collect();
        let measurement = self.monitor.current().cloned();
        if let Some(m) = &measurement {
            self.cpu.usable = m.usable_cpus;
        }
        let budget = match (self.priority, &measurement) {
            (priority, _) if !priority.measures_load() => self.room(0),
            (_, Some(m)) => self.room(m.foreign_cpus),
            (_, None) => 0,
        };
        let budget = match self.max_processes {
            0 => budget,
            cap => budget.min(cap),
        };
        let mut cpu_slots = budget.saturating_sub(running);
        let forced = cpu_slots == 0 && running == 0 && waiting > 0 && self.priority.forces_one();
        if forced {
            cpu_slots = 1;
        }
        let cpu_slots = cpu_slots.min(waiting);
        let cap_reached = self.max_processes != 0 && running + cpu_slots >= self.max_processes;
        self.measurement_wanted = waiting > cpu_slots && !cap_reached;
        self.waiting_idle = self.measurement_wanted && running == 0 && cpu_slots == 0;
        self.update_cadence();
        let measured = measurement.is_some();
        let forced_before_measuring = !measured && cpu_slots > 0;
        if self.measurement_wanted && !forced_before_measuring {
            self.monitor.refresh_if_stale(Instant::now());
        }

        let (slots, memory) = if cpu_slots > 0 {
            self.memory
                .admit(self.priority, running, cpu_slots, per_task_bytes, &self.own)
        } else {
            (0, None)
        };
        let slots = slots.min(cpu_slots);
        if running == 0 && slots > 0 {
            // Out-of-memory kills while none of ours ran were not ours.
            self.memory.forget_oom_kills();
        }
        let held_by_memory = slots < cpu_slots;
        self.memory_recheck = held_by_memory.then(|| Instant::now() + self.recheck_interval());

        let limit = if held_by_memory {
            SlotLimit::Memory
        } else if forced {
            SlotLimit::ForcedOne
        } else if slots == waiting {
            SlotLimit::Nothing
        } else if cap_reached {
            SlotLimit::ProcessCap
        } else if !measured && self.priority.measures_load() {
            SlotLimit::FirstMeasurement
        } else {
            SlotLimit::Cpus
        };
        self.last = Decision {
            slots,
            running,
            waiting,
            limit,
            priority: self.priority,
            max_processes: self.max_processes,
            capacity: self.room(0),
            measurement,
            memory,
        };
        slots
    }

    /// What our `running` tasks should do about foreign load now (see
    /// [`RunningAdvice`]): in `Generous` and `Normal`, run at a lower
    /// priority once foreign load leaves fewer CPUs than they use; in
    /// `Generous`, also pause the most recently started ones down to the
    /// CPUs left free, and continue them when the load goes. Other modes
    /// always keep every task running. Never blocks.
    ///
    /// The load judged is what foreign processes *want*
    /// ([`LoadMeasurement::wanted_cpus`]: the time they waited for a CPU
    /// counts too), since our running tasks take part of what they would
    /// use. Only sampled measurements count (never the instant estimate). While
    /// tasks run in a mode that yields, this call keeps measurements coming
    /// at the mode's re-measure interval, and back to back (one per sampling
    /// interval) while some are to be paused; call it whenever
    /// [`Scheduler::wake_fd`] is readable or [`Scheduler::next_deadline`]
    /// passes, and once with 0 when none runs any more, so that these
    /// measurements stop. Pausing happens at once; continuing and withdrawing the
    /// priority advice wait for [`CALM_MEASUREMENTS`](crate::CALM_MEASUREMENTS)
    /// measurements in a row that leave room, so that load hovering around a
    /// limit does not stop and continue tasks over and over.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Aggressive, 0);
    /// let advice = scheduler.running_advice(3);
    /// assert_eq!(advice.keep_running, 3);
    /// assert!(!advice.renice);
    /// ```
    pub fn running_advice(&mut self, running: usize) -> RunningAdvice {
        self.monitor.collect();
        let measured = self
            .monitor
            .sampled()
            .cloned()
            .map(|m| (self.room(m.wanted_cpus), m.taken_at));
        let advice = self.advisor.advise(self.priority, measured, running);
        self.advising = running > 0 && self.priority.renices_running_tasks();
        self.pausing = self.advisor.pausing(running);
        self.update_cadence();
        if self.advising {
            self.monitor.refresh_if_stale(Instant::now());
        }
        advice
    }

    /// Measurements back to back while waiting with nothing of ours running,
    /// or while tasks are to be paused.
    fn update_cadence(&mut self) {
        self.monitor
            .set_continuous(self.waiting_idle || (self.advising && self.pausing));
    }

    /// How long to wait before looking at the memory again.
    fn recheck_interval(&self) -> Duration {
        self.priority
            .sample_interval()
            .unwrap_or(Duration::from_millis(100))
    }

    /// Readable when a background measurement has a result: include it in
    /// your `poll` set and call [`Scheduler::free_slots`] when it fires.
    /// `None` until the first measurement starts.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert!(scheduler.wake_fd().is_none());
    /// // One of ours runs, four wait, nothing is measured yet: a measurement starts.
    /// assert_eq!(scheduler.free_slots(1, 4), 0);
    /// assert!(scheduler.wake_fd().is_some()); // poll it; ask again when readable
    /// ```
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.monitor.wake_fd()
    }

    /// When [`Scheduler::free_slots`] (and [`Scheduler::running_advice`])
    /// should be asked again even if nothing else happens: a measurement is
    /// due then, or tasks wait for memory. `None` when only an event can
    /// change the answer: nothing waits (or runs, for the advice), the cap
    /// is reached, a measurement is in progress, or the mode never
    /// measures.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 0);
    /// scheduler.free_slots(0, 1000);
    /// assert_eq!(scheduler.next_deadline(), None); // Nuclear never measures
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        let measurement = (self.measurement_wanted || self.advising)
            .then(|| self.monitor.next_deadline())
            .flatten();
        match (measurement, self.memory_recheck) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a load measurement is in progress in the background (its
    /// result will make [`Scheduler::wake_fd`] readable).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert!(!scheduler.measuring());
    /// scheduler.free_slots(1, 4); // tasks wait for a first measurement
    /// assert!(scheduler.measuring());
    /// ```
    pub fn measuring(&self) -> bool {
        self.monitor.measuring()
    }

    /// CPUs available to us under the mode (before the process cap): the
    /// capacity (every usable CPU unless set) in `Nuclear`, else what
    /// foreign load leaves of it. Blocks for one sampling interval unless a
    /// fresh measurement exists.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert!(scheduler.available_cpus() <= scheduler.cpu_info().usable);
    /// let mut nuclear = Scheduler::new(Priority::Nuclear, 0);
    /// assert_eq!(nuclear.available_cpus(), nuclear.cpu_info().usable);
    /// ```
    pub fn available_cpus(&mut self) -> usize {
        let m = self.monitor.measure_blocking();
        self.cpu.usable = m.usable_cpus;
        self.room(m.foreign_cpus)
    }

    /// What `foreign_cpus` of foreign load leave of the capacity (`Nuclear`
    /// counts none).
    fn room(&self, foreign_cpus: usize) -> usize {
        let capacity = self.capacity.unwrap_or(self.cpu.usable);
        if self.priority.measures_load() {
            capacity.saturating_sub(foreign_cpus)
        } else {
            capacity
        }
    }

    /// Forgets every measurement, re-reads the CPU facts and looks up the
    /// memory limits again (learned memory estimates are kept).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// scheduler.available_cpus();
    /// assert!(scheduler.measurement().is_some());
    /// scheduler.reset_measurements();
    /// assert!(scheduler.measurement().is_none());
    /// ```
    pub fn reset_measurements(&mut self) {
        self.monitor.forget();
        self.cpu = CpuInfo::current();
        self.memory.rediscover();
        self.advisor = Advisor::default();
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

    #[test]
    fn custom_modes_follow_their_rules() {
        use crate::CustomPriority;
        let interval = std::time::Duration::from_secs(1);
        let custom =
            |threshold| CustomPriority::new("custom", threshold, interval, interval).unwrap();
        // Counting nobody, it is Nuclear: every usable CPU, never measured.
        let mut s = Scheduler::new(Priority::Custom(custom(f64::INFINITY)), 0);
        assert_eq!(s.free_slots(0, 1000), s.cpu_info().usable);
        assert!(s.next_deadline().is_none() && s.wake_fd().is_none());
        assert!(
            s.last_decision()
                .to_string()
                .contains("custom: other processes are ignored")
        );
        // With Generous's rules, it waits for its first sample.
        let patient = custom(40.0).with_rules_of(Priority::Generous);
        let mut s = Scheduler::new(Priority::Custom(patient), 0);
        assert_eq!(s.free_slots(0, 5), 0);
        // With Normal's (its nearest politer mode), it forces one first.
        let mut s = Scheduler::new(Priority::Custom(custom(40.0)), 0);
        assert_eq!(s.free_slots(0, 5), 1);
    }
}
