//! What the scheduler knows of the memory tasks need: the need stated for
//! every task, the peaks learned per function or command, and whether a
//! task fits now, later or never (see [`memory`](super::memory) for the
//! rules).

use super::Scheduler;
use super::memory::{self, MemoryFit};

impl Scheduler {
    /// The per-task memory estimate [`Scheduler::free_slots`] uses, in
    /// bytes (`None`: none, the default).
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert_eq!(scheduler.memory_per_task(), None);
    /// scheduler.set_memory_per_task(Some(2 << 30));
    /// assert_eq!(scheduler.memory_per_task(), Some(2 << 30));
    /// ```
    pub fn memory_per_task(&self) -> Option<u64> {
        self.memory.per_task()
    }

    /// States how much memory each task needs, in bytes: it then overrides
    /// what was learned (see [`Scheduler::memory_estimate`]). `None` goes
    /// back to learning.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Nuclear, 0);
    /// scheduler.set_memory_per_task(Some(u64::MAX)); // no machine has that much
    /// assert_eq!(scheduler.free_slots(0, 1), 0);
    /// scheduler.set_memory_per_task(None);
    /// assert_eq!(scheduler.free_slots(0, 1), 1);
    /// ```
    pub fn set_memory_per_task(&mut self, bytes: Option<u64>) {
        self.memory.set_per_task(bytes);
    }

    /// Records the peak resident memory of a finished task, under a key
    /// naming what it ran (a function, a command template): the estimate
    /// for the next tasks of that key is the largest of the last 16 peaks.
    /// The task runner uses a learned estimate only while some of ours run
    /// (it may delay a task, never refuse one), and records a task that
    /// the out-of-memory killer ended as needing all the usable memory.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// scheduler.record_peak_rss("gzip {}", 3 << 20);
    /// scheduler.record_peak_rss("gzip {}", 5 << 20);
    /// assert_eq!(scheduler.learned_memory("gzip {}"), Some(5 << 20));
    /// assert_eq!(scheduler.memory_estimate("gzip {}"), Some(5 << 20));
    /// scheduler.set_memory_per_task(Some(1 << 30));
    /// assert_eq!(scheduler.memory_estimate("gzip {}"), Some(1 << 30));
    /// ```
    pub fn record_peak_rss(&mut self, key: &str, bytes: u64) {
        self.memory.record_peak(key, bytes);
    }

    /// The memory estimate learned for `key` from recorded peaks, if any.
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert_eq!(scheduler.learned_memory("resize"), None);
    /// scheduler.record_peak_rss("resize", 40 << 20);
    /// assert_eq!(scheduler.learned_memory("resize"), Some(40 << 20));
    /// ```
    pub fn learned_memory(&self, key: &str) -> Option<u64> {
        self.memory.learned(key)
    }

    /// The memory estimate for a task of `key`: the one stated with
    /// [`Scheduler::set_memory_per_task`], else the learned one. Pass it to
    /// [`Scheduler::free_slots_with_memory`] and [`Scheduler::memory_fit`].
    ///
    /// ```
    /// use dummymp::{Priority, Scheduler};
    /// let mut scheduler = Scheduler::new(Priority::Normal, 0);
    /// scheduler.record_peak_rss("resize", 40 << 20);
    /// assert_eq!(scheduler.memory_estimate("resize"), Some(40 << 20)); // learned
    /// assert_eq!(scheduler.memory_estimate("other"), None);
    /// scheduler.set_memory_per_task(Some(1 << 30));
    /// assert_eq!(scheduler.memory_estimate("other"), Some(1 << 30)); // stated
    /// ```
    pub fn memory_estimate(&self, key: &str) -> Option<u64> {
        self.memory.per_task().or_else(|| self.memory.learned(key))
    }

    /// Whether a task needing `per_task_bytes` fits now, later, or never,
    /// with `running` of ours running: the same rule as
    /// [`Scheduler::free_slots_with_memory`]. [`MemoryFit::Never`] when it
    /// needs more than the usable memory less what a task alone keeps
    /// free, or when it does not fit with none of ours running inside a
    /// memory cgroup whose limit binds (nothing of ours is left to end):
    /// report it instead of queueing it for ever. On the machine's memory,
    /// a task that does not fit with none of ours running is
    /// [`MemoryFit::NotNow`]: other users may free theirs. Reads the memory
    /// figures.
    ///
    /// ```
    /// use dummymp::{MemoryFit, Priority, Scheduler};
    /// let scheduler = Scheduler::new(Priority::Normal, 0);
    /// assert_eq!(scheduler.memory_fit(0, 1), MemoryFit::Fits);
    /// assert_eq!(scheduler.memory_fit(0, u64::MAX), MemoryFit::Never);
    /// assert_eq!(scheduler.memory_fit(3, u64::MAX), MemoryFit::Never);
    /// ```
    pub fn memory_fit(&self, running: usize, per_task_bytes: u64) -> MemoryFit {
        self.memory
            .fit(self.priority, per_task_bytes, running, Some(&self.own))
            .0
    }

    /// Whether a task needing `per_task_bytes` never fits (as
    /// [`Scheduler::memory_fit`] says), and the figures behind the answer;
    /// cheaper: what running tasks may still take is not looked up, so a
    /// task that is not [`MemoryFit::Never`] may be either of the others.
    pub(crate) fn memory_never_fits(
        &self,
        running: usize,
        per_task_bytes: u64,
    ) -> (MemoryFit, Option<memory::MemoryStatus>) {
        self.memory
            .fit(self.priority, per_task_bytes, running, None)
    }

    /// Whether the kernel's out-of-memory killer most likely ended a task
    /// of ours that a `SIGKILL` we did not send ended (each kill the kernel
    /// counts is put down to one task); then the memory there was to use,
    /// if known.
    pub(crate) fn out_of_memory_kill(&mut self) -> Option<Option<u64>> {
        self.memory.take_oom_kill().then(|| self.memory.total())
    }
}
