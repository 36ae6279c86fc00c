//! Memory-aware admission: how many tasks the available memory lets start,
//! per-task memory estimates learned from finished tasks, and whether a
//! task can ever fit.
//!
//! The available memory is read again at every decision (`MemAvailable`,
//! and what each cgroup limit leaves); nothing is sampled. A task may start
//! when, after it takes its estimate, the mode's reserve is still
//! available. Our running tasks may not have reached their peak yet: when
//! the available memory would not do for every running task to grow to
//! the estimate, their resident memory is read and what they may still take
//! is held back too.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::load::OwnProcesses;
use crate::platform::{self, MemoryFigures, MemorySource};
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
    /// It does not fit now, but would once memory is freed.
    NotNow,
    /// It needs more than the usable memory less what the mode always
    /// keeps free: it would wait for ever. Report it rather than queue it.
    Never,
}

/// The memory side of the scheduler.
#[derive(Debug, Default)]
pub(crate) struct MemoryAdmission {
    source: MemorySource,
    per_task: Option<u64>,
    peaks: HashMap<String, VecDeque<u64>>,
}

impl MemoryAdmission {
    pub(crate) fn new() -> MemoryAdmission {
        MemoryAdmission {
            source: MemorySource::discover(),
            ..MemoryAdmission::default()
        }
    }

    /// Looks up the cgroup limits again.
    pub(crate) fn rediscover(&mut self) {
        self.source = MemorySource::discover();
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

    /// Whether a task needing `per_task` bytes can start, now or ever.
    pub(crate) fn fit(&self, priority: Priority, per_task: u64) -> MemoryFit {
        match self.read(u64::MAX) {
            Some(figures) => fit(figures, priority, per_task),
            None => MemoryFit::Fits,
        }
    }

    /// How many of `wanted` tasks may start as far as memory goes, and the
    /// facts behind it (`None` when memory cannot be read). `forced`: the
    /// task starts because none of ours runs, so no reserve is kept.
    pub(crate) fn admit(
        &self,
        priority: Priority,
        running: usize,
        wanted: usize,
        per_task: Option<u64>,
        forced: bool,
        own: &OwnProcesses,
    ) -> (usize, Option<MemoryStatus>) {
        let per_task = per_task.filter(|&bytes| bytes > 0);
        // Nothing to keep free and nothing to fit: no need to look.
        if per_task.is_none() && (forced || priority.memory_reserve_percent() == 0.0) {
            return (wanted, None);
        }
        // Enough that the cheap reading decides: every running task at its
        // estimate, the wanted ones, and the reserve of a large machine.
        let enough = per_task.map_or(0, |e| e.saturating_mul((running + wanted) as u64));
        let Some(figures) = self.read(enough) else {
            return (wanted, None);
        };
        let reserve = if forced {
            0
        } else {
            reserve_bytes(priority, figures.total)
        };
        let growth_of_running = |estimate: u64| -> u64 {
            own.groups()
                .into_iter()
                .map(|pid| {
                    estimate.saturating_sub(platform::resident_bytes(pid as i32).unwrap_or(0))
                })
                .sum::<u64>()
                .min(estimate.saturating_mul(running as u64))
        };
        let (slots, growth) = memory_slots(
            figures,
            reserve,
            per_task,
            running,
            wanted,
            growth_of_running,
        );
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

/// The mode's reserve for `total` bytes of usable memory.
pub(crate) fn reserve_bytes(priority: Priority, total: u64) -> u64 {
    (total as f64 * priority.memory_reserve_percent() / 100.0) as u64
}

/// [`MemoryFit`] for a task of `per_task` bytes. A task never fits when it
/// needs more than the usable memory less the reserve (less nothing in the
/// modes that start one task when none of ours runs, since that task keeps
/// no reserve).
pub(crate) fn fit(figures: MemoryFigures, priority: Priority, per_task: u64) -> MemoryFit {
    let reserve = reserve_bytes(priority, figures.total);
    let always_kept = if priority.forces_one() { 0 } else { reserve };
    if per_task > figures.total.saturating_sub(always_kept) {
        MemoryFit::Never
    } else if per_task > figures.available.saturating_sub(reserve) {
        MemoryFit::NotNow
    } else {
        MemoryFit::Fits
    }
}

/// How many of `wanted` tasks of `per_task` bytes (unknown: `None`) may
/// start with `running` of ours running, keeping `reserve` available; and
/// the memory held back for the running tasks' growth, which
/// `growth_of_running(per_task)` looks up only when the available memory
/// would not do for every running task to grow to the estimate.
pub(crate) fn memory_slots(
    figures: MemoryFigures,
    reserve: u64,
    per_task: Option<u64>,
    running: usize,
    wanted: usize,
    growth_of_running: impl FnOnce(u64) -> u64,
) -> (usize, u64) {
    let headroom = figures.available.saturating_sub(reserve);
    let Some(per_task) = per_task else {
        // Nothing known about the task: start only above the reserve.
        return (if headroom > 0 { wanted } else { 0 }, 0);
    };
    let fits = |room: u64| ((room / per_task) as usize).min(wanted);
    let worst_case = headroom.saturating_sub(per_task.saturating_mul(running as u64));
    if running == 0 || fits(worst_case) >= wanted {
        return (fits(worst_case), 0);
    }
    let growth = growth_of_running(per_task);
    (fits(headroom.saturating_sub(growth)), growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn figures(total: u64, available: u64) -> MemoryFigures {
        MemoryFigures { total, available }
    }

    fn no_growth_lookup(_: u64) -> u64 {
        panic!("the running tasks' memory should not be looked up")
    }

    #[test]
    fn tasks_start_while_the_reserve_stays_free() {
        let m = figures(16 * GIB, 10 * GIB);
        // 10 GiB available, 2 GiB reserve: 8 GiB for 2 GiB tasks.
        assert_eq!(
            memory_slots(m, 2 * GIB, Some(2 * GIB), 0, 10, no_growth_lookup),
            (4, 0)
        );
        assert_eq!(
            memory_slots(m, 2 * GIB, Some(2 * GIB), 0, 3, no_growth_lookup),
            (3, 0)
        );
        assert_eq!(
            memory_slots(m, 2 * GIB, Some(9 * GIB), 0, 3, no_growth_lookup),
            (0, 0)
        );
    }

    #[test]
    fn without_an_estimate_only_the_reserve_counts() {
        let m = figures(16 * GIB, 3 * GIB);
        assert_eq!(
            memory_slots(m, 2 * GIB, None, 5, 4, no_growth_lookup),
            (4, 0)
        );
        assert_eq!(
            memory_slots(m, 3 * GIB, None, 5, 4, no_growth_lookup),
            (0, 0)
        );
    }

    #[test]
    fn running_tasks_that_may_still_grow_hold_memory_back() {
        let m = figures(16 * GIB, 10 * GIB);
        // Two running tasks of 2 GiB could take 4 GiB more in the worst
        // case, leaving room for 2 new ones; 3 are wanted, so their real
        // size is looked up: they hold 1.5 GiB each already.
        let (slots, growth) = memory_slots(m, 2 * GIB, Some(2 * GIB), 2, 3, |estimate| {
            2 * (estimate - 3 * GIB / 2)
        });
        assert_eq!(growth, GIB);
        assert_eq!(slots, 3, "(8 - 1) / 2 = 3");
    }

    #[test]
    fn a_task_too_big_for_the_machine_never_fits() {
        let m = figures(16 * GIB, 10 * GIB);
        assert_eq!(fit(m, Priority::Normal, 8 * GIB), MemoryFit::Fits);
        assert_eq!(
            fit(m, Priority::Normal, 9 * GIB),
            MemoryFit::NotNow,
            "1.6 GiB reserve"
        );
        assert_eq!(
            fit(m, Priority::Normal, 15 * GIB),
            MemoryFit::NotNow,
            "forced, one day"
        );
        assert_eq!(fit(m, Priority::Normal, 17 * GIB), MemoryFit::Never);
        // Generous always keeps its reserve (3.2 GiB).
        assert_eq!(fit(m, Priority::Generous, 13 * GIB), MemoryFit::Never);
        assert_eq!(fit(m, Priority::Nuclear, 10 * GIB), MemoryFit::Fits);
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
