//! Memory-aware admission: how many tasks the available memory lets start,
//! per-task memory estimates learned from finished tasks, whether a task
//! can ever fit, and which task ends the out-of-memory killer most likely
//! caused.
//!
//! The available memory is read again at every decision (`MemAvailable`,
//! and what each cgroup limit leaves); nothing is sampled. A task may start
//! when, after it takes its estimate, the mode's reserve is still
//! available; a task that starts while none of ours runs keeps no reserve
//! in the modes that start one then (all but `Generous`). Our running
//! tasks may not have reached their peak yet: when the available memory
//! would not do for every running task to grow to the estimate, their
//! resident memory is read and what they may still take is held back too.
//!
//! One rule, [`fit`], decides whether a task fits now and whether it never
//! will: "never" is "needs more than the usable memory less what a lone
//! task keeps free", which no amount of waiting changes, or "does not fit
//! with none of ours running" where a memory cgroup of ours sets the limit
//! (what is held below it is our own cgroup's, and nothing of ours is left
//! to end). Where the machine's memory sets it, a task that does not fit
//! with none of ours running waits for other users to free theirs (a
//! memory hog's end), as a considerate program should.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::load::OwnProcesses;
use crate::platform::{self, MemoryFigures, MemorySource, OomCounter};
use crate::priority::Priority;

/// How many finished tasks' peaks are remembered per key.
const PEAKS_KEPT: usize = 16;

/// The memory facts behind one admission decision, in bytes.
///
/// Its `Display` form reads like `1.2 GiB of 15.6 GiB available, 1.6 GiB
/// kept free for others, 2.0 GiB per task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStatus {
    /// All the memory there is to use: the machine's, or a smaller cgroup
    /// limit.
    pub total: u64,
    /// What is available now.
    pub available: u64,
    /// What must stay available to others: the mode's reserve (none for a
    /// task started because none of ours runs).
    pub reserve: u64,
    /// The per-task estimate the decision used, if any.
    pub per_task: Option<u64>,
    /// Memory our running tasks may still take before they reach the
    /// estimate (0 unless it had to be looked up).
    pub growth: u64,
}

impl fmt::Display for MemoryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} memory available, {} kept free for others",
            Bytes(self.available),
            Bytes(self.total),
            Bytes(self.reserve)
        )?;
        match self.per_task {
            Some(per_task) => write!(f, ", {} per task", Bytes(per_task))?,
            None => f.write_str(", no per-task estimate")?,
        }
        if self.growth > 0 {
            write!(f, ", {} more for running tasks", Bytes(self.growth))?;
        }
        Ok(())
    }
}

/// A byte count for people: `512 KiB`, `1.2 GiB`.
pub(crate) struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else if value < 10.0 {
            write!(f, "{value:.1} {}", UNITS[unit])
        } else {
            write!(f, "{value:.0} {}", UNITS[unit])
        }
    }
}

/// Whether a task that needs some memory can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryFit {
    /// It fits now.
    Fits,
    /// It does not fit now, but may once our running tasks end, or (where
    /// the machine's memory is the limit) once other users free theirs.
    NotNow,
    /// It needs more than the usable memory less what a lone task keeps
    /// free, or it does not fit with none of ours running inside a memory
    /// cgroup whose limit binds (what holds the memory there is the
    /// cgroup's own): it would wait for ever. Report it rather than queue
    /// it.
    Never,
}

/// The memory side of the scheduler.
#[derive(Debug, Default)]
pub(crate) struct MemoryAdmission {
    source: MemorySource,
    per_task: Option<u64>,
    peaks: HashMap<String, VecDeque<u64>>,
    oom: OomCounter,
    /// The out-of-memory kill count up to which every kill was put down
    /// to a task of ours or happened while none of ours ran.
    oom_seen: Option<u64>,
}

impl MemoryAdmission {
    pub(crate) fn new() -> MemoryAdmission {
        let mut admission = MemoryAdmission {
            source: MemorySource::discover(),
            oom: OomCounter::discover(),
            ..MemoryAdmission::default()
        };
        admission.oom_seen = admission.oom.read();
        admission
    }

    /// Looks up the cgroup limits and the out-of-memory kill counter again.
    pub(crate) fn rediscover(&mut self) {
        self.source = MemorySource::discover();
        self.oom = OomCounter::discover();
        self.oom_seen = self.oom.read();
    }

    /// Forgets the out-of-memory kills counted so far: called when a task
    /// starts while none of ours runs, so that kills of other processes
    /// meanwhile are not put down to our next tasks.
    pub(crate) fn forget_oom_kills(&mut self) {
        self.oom_seen = self.oom.read();
    }

    /// Whether the out-of-memory killer most likely ended a task of ours
    /// that `SIGKILL` we did not send ended: the kernel counted a kill that
    /// no other task was blamed for. Each counted kill is blamed once.
    pub(crate) fn take_oom_kill(&mut self) -> bool {
        let Some(now) = self.oom.read() else {
            return false;
        };
        match self.oom_seen {
            Some(seen) if now > seen => {
                self.oom_seen = Some(seen + 1);
                true
            }
            _ => {
                self.oom_seen = Some(now);
                false
            }
        }
    }

    /// All the memory there is to use (the smallest cgroup limit, or the
    /// machine's memory), when it can be read.
    pub(crate) fn total(&self) -> Option<u64> {
        Some(self.read(0)?.total)
    }

    pub(crate) fn per_task(&self) -> Option<u64> {
        self.per_task
    }

    pub(crate) fn set_per_task(&mut self, bytes: Option<u64>) {
        self.per_task = bytes;
    }

    pub(crate) fn record_peak(&mut self, key: &str, bytes: u64) {
        let peaks = self.peaks.entry(key.to_string()).or_default();
        if peaks.len() == PEAKS_KEPT {
            peaks.pop_front();
        }
        peaks.push_back(bytes);
    }

    /// The largest of the last peaks recorded under `key`.
    pub(crate) fn learned(&self, key: &str) -> Option<u64> {
        self.peaks.get(key)?.iter().copied().max()
    }

    /// The figures now, or `None` when they cannot be read (memory is then
    /// not a limit).
    pub(crate) fn read(&self, enough: u64) -> Option<MemoryFigures> {
        match self.source.read(enough) {
            Ok(figures) => Some(figures),
            Err(error) => {
                log::debug!(target: "dummymp::memory", "cannot read the available memory: {error}");
                None
            }
        }
    }

    /// Whether a task needing `per_task` bytes can start now, later or
    /// never, with `running` of ours running (see [`fit`]), and the facts
    /// behind the answer (`None` when memory cannot be read: it fits).
    /// Without `own`, what the running tasks may still take is not looked
    /// up: "never" is still exact (it does not depend on it), "now" may
    /// say it fits where it does not.
    pub(crate) fn fit(
        &self,
        priority: Priority,
        per_task: u64,
        running: usize,
        own: Option<&OwnProcesses>,
    ) -> (MemoryFit, Option<MemoryStatus>) {
        let enough = per_task.saturating_mul(running as u64 + 1);
        let Some(figures) = self.read(enough) else {
            return (MemoryFit::Fits, None);
        };
        let kept = reserve_kept(priority, figures.total, running);
        let room = figures.available.saturating_sub(kept);
        // Every running task at the estimate still leaves room: their real
        // size changes nothing.
        let worst_case = per_task.saturating_mul(running as u64);
        let growth = match own {
            Some(own) if per_task.saturating_add(worst_case) > room => {
                growth_of_running(own, per_task, running)
            }
            _ => 0,
        };
        let status = MemoryStatus {
            total: figures.total,
            available: figures.available,
            reserve: kept,
            per_task: Some(per_task),
            growth,
        };
        (
            fit(figures, priority, per_task, running, growth),
            Some(status),
        )
    }

    /// How many of `wanted` tasks may start as far as memory goes, with
    /// `running` of ours running, and the facts behind it (`None` when
    /// memory cannot be read).
    pub(crate) fn admit(
        &self,
        priority: Priority,
        running: usize,
        wanted: usize,
        per_task: Option<u64>,
        own: &OwnProcesses,
    ) -> (usize, Option<MemoryStatus>) {
        let per_task = per_task.filter(|&bytes| bytes > 0);
        let lone = running == 0 && priority.forces_one();
        // Nothing to keep free and nothing to fit: no need to look.
        if per_task.is_none() && ((lone && wanted == 1) || priority.memory_reserve_percent() == 0.0)
        {
            return (wanted, None);
        }
        // Enough that the cheap reading decides: every running task at its
        // estimate, the wanted ones, and the reserve of a large machine.
        let enough = per_task.map_or(0, |e| e.saturating_mul((running + wanted) as u64));
        let Some(figures) = self.read(enough) else {
            return (wanted, None);
        };
        let (slots, growth) = memory_slots(figures, priority, per_task, running, wanted, |e| {
            growth_of_running(own, e, running)
        });
        // The reserve the first task kept, when it decided.
        let reserve = if slots <= 1 {
            reserve_kept(priority, figures.total, running)
        } else {
            reserve_bytes(priority, figures.total)
        };
        let status = MemoryStatus {
            total: figures.total,
            available: figures.available,
            reserve,
            per_task,
            growth,
        };
        (slots, Some(status))
    }
}

/// What our `running` tasks (their process groups in `own`) may still take
/// before each reaches `estimate`: at most `estimate` each.
fn growth_of_running(own: &OwnProcesses, estimate: u64, running: usize) -> u64 {
    own.groups()
        .into_iter()
        .map(|pid| estimate.saturating_sub(platform::resident_bytes(pid as i32).unwrap_or(0)))
        .sum::<u64>()
        .min(estimate.saturating_mul(running as u64))
}

/// The mode's reserve for `total` bytes of usable memory.
pub(crate) fn reserve_bytes(priority: Priority, total: u64) -> u64 {
    (total as f64 * priority.memory_reserve_percent() / 100.0) as u64
}

/// What must stay available once a task starts with `running` of ours
/// running: the mode's reserve, but nothing for a task that starts while
/// none of ours runs in the modes that start one then (all but
/// `Generous`, which always keeps its reserve).
pub(crate) fn reserve_kept(priority: Priority, total: u64, running: usize) -> u64 {
    if running == 0 && priority.forces_one() {
        0
    } else {
        reserve_bytes(priority, total)
    }
}

/// The one rule for a task of `per_task` bytes, with `running` of ours
/// running that may still take `growth`: it fits when the available memory
/// less [`reserve_kept`] and `growth` holds it. When it does not, it never
/// will if it needs more than the usable memory less what a lone task
/// keeps, or if none of ours runs inside a memory cgroup whose limit binds
/// (nothing of ours is left to end, and what holds the rest is the
/// cgroup's own: waiting would be for ever); else it may, once ours end or
/// other users free the machine's memory.
pub(crate) fn fit(
    figures: MemoryFigures,
    priority: Priority,
    per_task: u64,
    running: usize,
    growth: u64,
) -> MemoryFit {
    let room = figures
        .available
        .saturating_sub(reserve_kept(priority, figures.total, running))
        .saturating_sub(growth);
    let lone_room = figures
        .total
        .saturating_sub(reserve_kept(priority, figures.total, 0));
    if per_task <= room {
        MemoryFit::Fits
    } else if per_task > lone_room || (running == 0 && figures.cgroup_bound) {
        MemoryFit::Never
    } else {
        MemoryFit::NotNow
    }
}

/// How many of `wanted` tasks of `per_task` bytes (unknown: `None`) may
/// start with `running` of ours running; and the memory held back for the
/// running tasks' growth, which `growth_of_running(per_task)` looks up only
/// when the available memory would not do for every running task to grow
/// to the estimate. Tasks started together keep the mode's reserve; the
/// first of them keeps [`reserve_kept`], and starts exactly when [`fit`]
/// says it fits.
pub(crate) fn memory_slots(
    figures: MemoryFigures,
    priority: Priority,
    per_task: Option<u64>,
    running: usize,
    wanted: usize,
    growth_of_running: impl FnOnce(u64) -> u64,
) -> (usize, u64) {
    if wanted == 0 {
        return (0, 0);
    }
    let reserve = reserve_bytes(priority, figures.total);
    let headroom = figures.available.saturating_sub(reserve);
    let Some(per_task) = per_task else {
        // Nothing known about the task: start only above the reserve (the
        // first one: above what it keeps).
        let first_kept = reserve_kept(priority, figures.total, running);
        let slots = if headroom > 0 {
            wanted
        } else {
            usize::from(figures.available > first_kept)
        };
        return (slots, 0);
    };
    let fits = |room: u64| ((room / per_task) as usize).min(wanted);
    let worst_case = headroom.saturating_sub(per_task.saturating_mul(running as u64));
    let (slots, growth) = if running == 0 || fits(worst_case) >= wanted {
        (fits(worst_case), 0)
    } else {
        let growth = growth_of_running(per_task);
        (fits(headroom.saturating_sub(growth)), growth)
    };
    // Beside ours, the first task keeps the same reserve as the others and
    // `slots` already says whether it fits; alone, it may keep less.
    if slots == 0 && fit(figures, priority, per_task, running, growth) == MemoryFit::Fits {
        return (1, growth);
    }
    (slots, growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// A cgroup's limit: the memory held below it is the cgroup's own.
    fn figures(total: u64, available: u64) -> MemoryFigures {
        MemoryFigures {
            total,
            available,
            cgroup_bound: true,
        }
    }

    /// The machine's memory: what is held is other users' too.
    fn machine(total: u64, available: u64) -> MemoryFigures {
        MemoryFigures {
            cgroup_bound: false,
            ..figures(total, available)
        }
    }

    fn no_growth_lookup(_: u64) -> u64 {
        panic!("the running tasks' memory should not be looked up")
    }

    const MIB: u64 = 1 << 20;

    #[test]
    fn tasks_start_while_the_reserve_stays_free() {
        // 20 GiB usable, Normal keeps 2 GiB: 10 GiB available leaves 8 GiB
        // for 2 GiB tasks.
        let m = figures(20 * GIB, 10 * GIB);
        let normal = Priority::Normal;
        let slots = |per_task, running, wanted| {
            memory_slots(m, normal, per_task, running, wanted, no_growth_lookup)
        };
        assert_eq!(slots(Some(2 * GIB), 0, 10), (4, 0));
        assert_eq!(slots(Some(2 * GIB), 0, 3), (3, 0));
        assert_eq!(
            memory_slots(m, normal, Some(2 * GIB), 1, 10, |_| 2 * GIB),
            (3, 2 * GIB),
            "one runs and may double: 6 / 2"
        );
        assert_eq!(
            slots(Some(9 * GIB), 0, 3),
            (1, 0),
            "alone it keeps no reserve"
        );
        assert_eq!(slots(Some(11 * GIB), 0, 3), (0, 0));
        assert_eq!(slots(Some(9 * GIB), 0, 0), (0, 0), "none wanted");
    }

    #[test]
    fn without_an_estimate_only_the_reserve_counts() {
        let normal = Priority::Normal;
        let m = figures(20 * GIB, 3 * GIB);
        assert_eq!(
            memory_slots(m, normal, None, 5, 4, no_growth_lookup),
            (4, 0)
        );
        let m = figures(20 * GIB, 2 * GIB);
        assert_eq!(
            memory_slots(m, normal, None, 5, 4, no_growth_lookup),
            (0, 0)
        );
        assert_eq!(
            memory_slots(m, normal, None, 0, 4, no_growth_lookup),
            (1, 0),
            "one alone keeps nothing"
        );
        assert_eq!(
            memory_slots(m, Priority::Generous, None, 0, 4, no_growth_lookup),
            (0, 0),
            "Generous keeps its 4 GiB even alone"
        );
    }

    #[test]
    fn running_tasks_that_may_still_grow_hold_memory_back() {
        let m = figures(20 * GIB, 10 * GIB);
        // Two running tasks of 2 GiB could take 4 GiB more in the worst
        // case, leaving room for 2 new ones; 3 are wanted, so their real
        // size is looked up: they hold 1.5 GiB each already.
        let (slots, growth) = memory_slots(m, Priority::Normal, Some(2 * GIB), 2, 3, |estimate| {
            2 * (estimate - 3 * GIB / 2)
        });
        assert_eq!(growth, GIB);
        assert_eq!(slots, 3, "(8 - 1) / 2 = 3");
    }

    /// The case that waited for ever: a 300 MiB cgroup, 299 MiB available
    /// with none of ours running, a task of 288 MiB, Normal (30 MiB
    /// reserve). Alone it keeps no reserve, so it fits and starts.
    #[test]
    fn a_task_that_fits_alone_starts_alone() {
        let m = figures(300 * MIB, 299 * MIB);
        assert_eq!(fit(m, Priority::Normal, 288 * MIB, 0, 0), MemoryFit::Fits);
        assert_eq!(
            memory_slots(m, Priority::Normal, Some(288 * MIB), 0, 2, no_growth_lookup),
            (1, 0)
        );
    }

    #[test]
    fn alone_a_task_fits_to_the_byte_or_never() {
        let available = 299 * MIB;
        let m = figures(300 * MIB, available);
        for (priority, kept) in [
            (Priority::Normal, 0),
            (Priority::Nuclear, 0),
            (Priority::Generous, 60 * MIB),
        ] {
            let just = available - kept;
            assert_eq!(fit(m, priority, just, 0, 0), MemoryFit::Fits, "{priority}");
            assert_eq!(
                fit(m, priority, just + 1, 0, 0),
                MemoryFit::Never,
                "{priority}: nothing of ours is left to end"
            );
            let slots =
                |per_task| memory_slots(m, priority, Some(per_task), 0, 1, no_growth_lookup).0;
            assert_eq!(slots(just), 1, "{priority}");
            assert_eq!(slots(just + 1), 0, "{priority}");
        }
    }

    #[test]
    fn alone_on_a_shared_machine_a_task_waits_for_other_users_memory() {
        // A memory hog of another user leaves 4 GiB of 24 GiB; Generous
        // keeps 4.8 GiB. The hog may end: wait, unless the task could not
        // fit even on the empty machine.
        let m = machine(24 * GIB, 4 * GIB);
        for priority in [Priority::Generous, Priority::Normal] {
            assert_eq!(
                fit(m, priority, 5 * GIB, 0, 0),
                MemoryFit::NotNow,
                "{priority}"
            );
            assert_eq!(
                memory_slots(m, priority, Some(5 * GIB), 0, 1, no_growth_lookup).0,
                0,
                "{priority}"
            );
            assert_eq!(
                fit(m, priority, 25 * GIB, 0, 0),
                MemoryFit::Never,
                "{priority}"
            );
        }
        // The same figures set by a cgroup of ours: nothing to wait for.
        let ours = figures(24 * GIB, 4 * GIB);
        assert_eq!(
            fit(ours, Priority::Generous, 5 * GIB, 0, 0),
            MemoryFit::Never
        );
    }

    #[test]
    fn beside_ours_a_task_waits_unless_it_could_never_fit() {
        let m = figures(300 * MIB, 100 * MIB);
        let normal = Priority::Normal;
        // Normal keeps 30 MiB beside a running task.
        assert_eq!(fit(m, normal, 70 * MIB, 1, 0), MemoryFit::Fits);
        assert_eq!(fit(m, normal, 70 * MIB + 1, 1, 0), MemoryFit::NotNow);
        assert_eq!(fit(m, normal, 60 * MIB, 1, 10 * MIB + 1), MemoryFit::NotNow);
        // Alone one day it may have all 300 MiB; never more.
        assert_eq!(fit(m, normal, 300 * MIB, 1, 0), MemoryFit::NotNow);
        assert_eq!(fit(m, normal, 300 * MIB + 1, 1, 0), MemoryFit::Never);
        assert_eq!(
            fit(m, Priority::Generous, 240 * MIB + 1, 1, 0),
            MemoryFit::Never
        );
    }

    /// Inside a memory cgroup of ours, "never" is exactly the complement of
    /// "starts with none of ours running", and nothing alone waits: a task
    /// neither starts nor is reported only while some of ours run.
    #[test]
    fn never_is_exactly_what_cannot_start_alone() {
        let total = 1000;
        for priority in [
            Priority::Generous,
            Priority::Normal,
            Priority::Aggressive,
            Priority::Extreme,
            Priority::Nuclear,
        ] {
            for available in (0..=total).step_by(7) {
                let m = figures(total, available);
                for per_task in (1..=total + 3).step_by(3) {
                    let alone = fit(m, priority, per_task, 0, 0);
                    let started =
                        memory_slots(m, priority, Some(per_task), 0, 1, no_growth_lookup).0;
                    assert_ne!(alone, MemoryFit::NotNow);
                    assert_eq!(
                        started == 1,
                        alone == MemoryFit::Fits,
                        "{priority} {available} {per_task}"
                    );
                    for running in [1, 3] {
                        let (beside, _) =
                            memory_slots(m, priority, Some(per_task), running, 1, |_| 0);
                        assert_eq!(
                            beside == 1,
                            fit(m, priority, per_task, running, 0) == MemoryFit::Fits,
                            "{priority} {available} {per_task} beside {running}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_learned_estimate_is_the_largest_recent_peak() {
        let mut admission = MemoryAdmission::default();
        assert_eq!(admission.learned("f"), None);
        admission.record_peak("f", 5 * GIB);
        for _ in 0..PEAKS_KEPT - 1 {
            admission.record_peak("f", GIB);
        }
        admission.record_peak("g", 7);
        assert_eq!(admission.learned("f"), Some(5 * GIB));
        admission.record_peak("f", 2 * GIB);
        assert_eq!(
            admission.learned("f"),
            Some(2 * GIB),
            "the 5 GiB peak is old now"
        );
        assert_eq!(admission.learned("g"), Some(7));
    }

    #[test]
    fn each_out_of_memory_kill_is_blamed_once_and_those_while_idle_never() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.events");
        let count = |n: u64| std::fs::write(&file, format!("oom 0\noom_kill {n}\n")).unwrap();
        count(3);
        let mut admission = MemoryAdmission {
            oom: OomCounter::at(file.clone()),
            ..MemoryAdmission::default()
        };
        admission.forget_oom_kills();
        assert!(!admission.take_oom_kill(), "3 were there before");
        count(5);
        assert!(admission.take_oom_kill());
        assert!(admission.take_oom_kill(), "two tasks killed at once");
        assert!(!admission.take_oom_kill(), "no third");
        count(6);
        admission.forget_oom_kills();
        assert!(!admission.take_oom_kill(), "killed while none of ours ran");
        count(2);
        assert!(!admission.take_oom_kill(), "a counter that went back");
        count(3);
        assert!(admission.take_oom_kill(), "counted from where it went back");
        std::fs::remove_file(&file).unwrap();
        assert!(!admission.take_oom_kill(), "unreadable: nothing is blamed");
    }

    #[test]
    fn statuses_read_well() {
        let status = MemoryStatus {
            total: 16 * GIB,
            available: 1288 * (1 << 20),
            reserve: 1638 * (1 << 20),
            per_task: Some(2 * GIB),
            growth: 0,
        };
        assert_eq!(
            status.to_string(),
            "1.3 GiB of 16 GiB memory available, 1.6 GiB kept free for others, 2.0 GiB per task"
        );
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(300 << 20).to_string(), "300 MiB");
    }
}
