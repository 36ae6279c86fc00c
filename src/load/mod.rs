//! Measuring the CPU load of *foreign* processes: every process on the
//! machine that is neither this process nor one of its descendants (nor a
//! process left in the process group of one of our tasks).
//!
//! A measurement reads the CPU times of every process twice, a sampling
//! interval apart, and counts the processes whose share of one CPU is above
//! the priority mode's threshold. Processes whose CPU affinity keeps them off
//! all of our CPUs are not counted, and one that can reach only some of our
//! CPUs counts for at most that many. Before the first sampled measurement
//! is in, a single scan gives an [`MeasurementKind::Estimate`]: every foreign
//! process that is runnable at that instant and whose lifetime average is
//! above the threshold.
//!
//! [`monitor`] runs measurements on a background thread so that the
//! scheduler never waits for one.

pub(crate) mod monitor;

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::cpus::{CpuInfo, CpuSet};
use crate::platform::{self, ProcessSample};
use crate::priority::Priority;

/// The processes that belong to us and never count as foreign load: this
/// process, all of its descendants, and every process still in the process
/// group of one of our running tasks (a task's child that was re-parented
/// after its parent exited stays in that group).
///
/// Cloning gives another handle to the same set.
#[derive(Debug, Clone)]
pub struct OwnProcesses {
    root: i32,
    groups: Arc<Mutex<HashSet<i32>>>,
}

impl Default for OwnProcesses {
    fn default() -> Self {
        OwnProcesses {
            root: std::process::id() as i32,
            groups: Arc::default(),
        }
    }
}

impl OwnProcesses {
    /// The set for this process, with no task process group yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts every process of the group `pgid` as ours.
    pub fn add_group(&self, pgid: u32) {
        self.lock().insert(pgid as i32);
    }

    /// Stops counting the group `pgid` as ours (its processes are gone).
    pub fn remove_group(&self, pgid: u32) {
        self.lock().remove(&(pgid as i32));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pids among `processes` that are ours.
    fn select(&self, processes: &[ProcessSample]) -> HashSet<i32> {
        let groups = self.lock().clone();
        let parent: HashMap<i32, i32> = processes.iter().map(|p| (p.pid, p.ppid)).collect();
        let mut verdict: HashMap<i32, bool> = HashMap::with_capacity(processes.len());
        verdict.insert(self.root, true);
        let mut chain = Vec::new();
        for p in processes {
            if groups.contains(&p.pgrp) {
                verdict.insert(p.pid, true);
            }
        }
        for p in processes {
            chain.clear();
            let mut pid = p.pid;
            let ours = loop {
                if let Some(&known) = verdict.get(&pid) {
                    break known;
                }
                chain.push(pid);
                match parent.get(&pid) {
                    Some(&ppid) if ppid > 0 && ppid != pid && chain.len() < 4096 => pid = ppid,
                    _ => break false,
                }
            };
            for &pid in &chain {
                verdict.insert(pid, ours);
            }
        }
        verdict
            .into_iter()
            .filter_map(|(pid, ours)| ours.then_some(pid))
            .collect()
    }
}

/// Whether a measurement sampled CPU times over an interval or is the
/// instant estimate made before the first sample is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasurementKind {
    /// One scan: runnable processes whose lifetime average is above the
    /// threshold.
    Estimate,
    /// Two scans a sampling interval apart.
    Sampled,
}

/// A foreign process that was counted as load.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignProcess {
    /// Its process id.
    pub pid: i32,
    /// The share of one CPU it was counted for, in percent (a process with
    /// two busy threads counts up to 200).
    pub cpu_percent: f64,
}

/// The result of measuring foreign load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadMeasurement {
    /// The mode whose threshold was applied.
    pub priority: Priority,
    /// How it was measured.
    pub kind: MeasurementKind,
    /// The foreign processes counted as load, busiest first.
    pub counted: Vec<ForeignProcess>,
    /// Sum of the counted processes' CPU shares, in percent of one CPU.
    pub foreign_percent: f64,
    /// The foreign load in CPUs, rounded to the nearest CPU (one loop
    /// measured at 100.5 % is one CPU, not two).
    pub foreign_cpus: usize,
    /// CPUs this process may use (see [`CpuInfo::usable`]).
    pub usable_cpus: usize,
    /// Usable CPUs left free by the foreign load.
    pub available_cpus: usize,
    /// When the measurement was complete.
    pub taken_at: Instant,
}

/// One scan of the process table.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    taken: Instant,
    uptime_ticks: u64,
    processes: Vec<ProcessSample>,
}

impl Snapshot {
    pub(crate) fn take() -> io::Result<Snapshot> {
        let uptime_ticks = platform::uptime_ticks()?;
        let processes = platform::scan_processes()?;
        Ok(Snapshot {
            taken: Instant::now(),
            uptime_ticks,
            processes,
        })
    }
}

/// The CPUs a process may run on, looked up only for processes that are
/// about to be counted.
pub(crate) type AffinityOf<'a> = &'a dyn Fn(i32) -> Option<CpuSet>;

/// Looks up a process's affinity through the operating system.
pub(crate) fn system_affinity(pid: i32) -> Option<CpuSet> {
    platform::affinity(Some(pid)).ok()
}

/// The instant estimate from one snapshot.
pub(crate) fn estimate(
    snapshot: &Snapshot,
    priority: Priority,
    cpu: &CpuInfo,
    own: &OwnProcesses,
    affinity_of: AffinityOf<'_>,
) -> LoadMeasurement {
    let ticks_per_second = platform::clock_ticks_per_second() as f64;
    let ours = own.select(&snapshot.processes);
    let shares = snapshot
        .processes
        .iter()
        .filter(|p| p.runnable && !ours.contains(&p.pid))
        .map(|p| {
            let lifetime = snapshot.uptime_ticks.saturating_sub(p.start_ticks) as f64;
            // A process younger than a second that is running now is taken
            // as busy: its average says nothing yet.
            let share = if lifetime < ticks_per_second {
                100.0
            } else {
                p.cpu_ticks as f64 / lifetime * 100.0
            };
            (p.pid, share)
        });
    summarize(
        priority,
        MeasurementKind::Estimate,
        shares,
        cpu,
        affinity_of,
        snapshot.taken,
    )
}

/// The sampled measurement from two snapshots of the same mode.
pub(crate) fn sampled(
    before: &Snapshot,
    after: &Snapshot,
    priority: Priority,
    cpu: &CpuInfo,
    own: &OwnProcesses,
    affinity_of: AffinityOf<'_>,
) -> LoadMeasurement {
    let ticks_per_second = platform::clock_ticks_per_second() as f64;
    let elapsed = after
        .taken
        .saturating_duration_since(before.taken)
        .max(Duration::from_millis(1))
        .as_secs_f64();
    let earlier: HashMap<i32, &ProcessSample> =
        before.processes.iter().map(|p| (p.pid, p)).collect();
    let ours = own.select(&after.processes);
    let shares = after
        .processes
        .iter()
        .filter(|p| !ours.contains(&p.pid))
        .map(|p| {
            let previous = earlier
                .get(&p.pid)
                .filter(|q| q.start_ticks == p.start_ticks)
                .map_or(0, |q| q.cpu_ticks);
            let ticks = p.cpu_ticks.saturating_sub(previous) as f64;
            (p.pid, ticks / (ticks_per_second * elapsed) * 100.0)
        });
    summarize(
        priority,
        MeasurementKind::Sampled,
        shares,
        cpu,
        affinity_of,
        after.taken,
    )
}

/// Applies the threshold and the affinity rule, and sums up.
fn summarize(
    priority: Priority,
    kind: MeasurementKind,
    shares: impl Iterator<Item = (i32, f64)>,
    cpu: &CpuInfo,
    affinity_of: AffinityOf<'_>,
    taken_at: Instant,
) -> LoadMeasurement {
    let threshold = priority.threshold_percent().unwrap_or(f64::INFINITY);
    let mut counted: Vec<ForeignProcess> = shares
        .filter(|&(_, share)| share > threshold)
        .filter_map(|(pid, share)| {
            let reach = match affinity_of(pid) {
                Some(set) => set.intersection_len(&cpu.allowed),
                // Vanished, or not ours to inspect: assume it can run anywhere.
                None => cpu.allowed.len(),
            };
            (reach > 0).then(|| ForeignProcess {
                pid,
                cpu_percent: share.min(reach as f64 * 100.0),
            })
        })
        .collect();
    counted.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
    let foreign_percent: f64 = counted.iter().map(|p| p.cpu_percent).sum();
    let foreign_cpus = (foreign_percent / 100.0).round() as usize;
    LoadMeasurement {
        priority,
        kind,
        counted,
        foreign_percent,
        foreign_cpus,
        usable_cpus: cpu.usable,
        available_cpus: cpu.usable.saturating_sub(foreign_cpus),
        taken_at,
    }
}

/// Measures foreign load now, blocking for the mode's sampling interval.
///
/// In [`Priority::Nuclear`], which ignores other processes, nothing is
/// measured and every usable CPU is available.
///
/// ```no_run
/// use dummymp::{OwnProcesses, Priority, measure_foreign_load};
/// let m = measure_foreign_load(Priority::Normal, &OwnProcesses::new())?;
/// println!("{} of {} CPUs are free", m.available_cpus, m.usable_cpus);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn measure_foreign_load(priority: Priority, own: &OwnProcesses) -> io::Result<LoadMeasurement> {
    match priority.sample_interval() {
        Some(interval) => measure_foreign_load_over(priority, own, interval),
        None => Ok(summarize(
            priority,
            MeasurementKind::Sampled,
            std::iter::empty(),
            &CpuInfo::current(),
            &system_affinity,
            Instant::now(),
        )),
    }
}

/// Measures foreign load with the thresholds of `priority` over a sampling
/// interval of your choice (blocking for it). A zero interval measures the
/// cost of two scans of the process table, nothing more meaningful.
pub fn measure_foreign_load_over(
    priority: Priority,
    own: &OwnProcesses,
    interval: Duration,
) -> io::Result<LoadMeasurement> {
    let cpu = CpuInfo::current();
    let before = Snapshot::take()?;
    std::thread::sleep(interval);
    let after = Snapshot::take()?;
    Ok(sampled(
        &before,
        &after,
        priority,
        &cpu,
        own,
        &system_affinity,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, pgrp: i32, cpu_ticks: u64) -> ProcessSample {
        ProcessSample {
            pid,
            ppid,
            pgrp,
            runnable: true,
            cpu_ticks,
            start_ticks: 10,
        }
    }

    fn two_cpus() -> CpuInfo {
        CpuInfo {
            total: 2,
            allowed: CpuSet::from_ids([0, 1]),
            quota: None,
            usable: 2,
        }
    }

    fn snap(at: Instant, processes: Vec<ProcessSample>) -> Snapshot {
        Snapshot {
            taken: at,
            uptime_ticks: 1_000_000,
            processes,
        }
    }

    /// A process that used `percent` of a CPU over one second.
    fn busy(pid: i32, percent: u64, ticks_per_second: u64) -> (ProcessSample, ProcessSample) {
        (
            proc(pid, 1, pid, 1000),
            proc(pid, 1, pid, 1000 + percent * ticks_per_second / 100),
        )
    }

    fn measure(
        own: &OwnProcesses,
        pairs: &[(ProcessSample, ProcessSample)],
        priority: Priority,
        affinity_of: AffinityOf<'_>,
    ) -> LoadMeasurement {
        let t0 = Instant::now();
        let before = snap(t0, pairs.iter().map(|p| p.0).collect());
        let after = snap(
            t0 + Duration::from_secs(1),
            pairs.iter().map(|p| p.1).collect(),
        );
        sampled(&before, &after, priority, &two_cpus(), own, affinity_of)
    }

    fn anywhere(_: i32) -> Option<CpuSet> {
        None
    }

    #[test]
    fn one_loop_slightly_over_one_cpu_leaves_one_cpu_free() {
        let hz = platform::clock_ticks_per_second();
        // 100.5 % of a CPU: the tick counts make it 100 + half a tick.
        let (a, mut b) = busy(5000, 100, hz);
        b.cpu_ticks += hz / 200;
        let m = measure(&OwnProcesses::new(), &[(a, b)], Priority::Normal, &anywhere);
        assert!(m.foreign_percent >= 100.0, "{m:?}");
        assert_eq!(m.foreign_cpus, 1);
        assert_eq!(m.available_cpus, 1);
    }

    #[test]
    fn threshold_is_per_mode_and_strict() {
        let hz = platform::clock_ticks_per_second();
        let pairs = [busy(5000, 40, hz), busy(5001, 60, hz)];
        let own = OwnProcesses::new();
        let normal = measure(&own, &pairs, Priority::Normal, &anywhere);
        assert_eq!(normal.counted.len(), 2);
        assert_eq!(normal.foreign_cpus, 1);
        let aggressive = measure(&own, &pairs, Priority::Aggressive, &anywhere);
        assert_eq!(aggressive.counted.len(), 1);
        assert_eq!(aggressive.counted[0].pid, 5001);
        let extreme = measure(&own, &pairs, Priority::Extreme, &anywhere);
        assert!(extreme.counted.is_empty());
        assert_eq!(extreme.available_cpus, 2);
    }

    #[test]
    fn descendants_and_task_groups_are_ours() {
        let hz = platform::clock_ticks_per_second();
        let me = std::process::id() as i32;
        let child = |pid, ppid, pgrp| {
            (
                proc(pid, ppid, pgrp, 0),
                proc(pid, ppid, pgrp, hz), // 100 %
            )
        };
        let own = OwnProcesses::new();
        own.add_group(7001);
        let pairs = [
            child(7001, me, 7001),   // a worker
            child(7002, 7001, 7001), // its child
            child(7003, 7002, 7003), // a grandchild in its own group: still a descendant
            child(7004, 1, 7001),    // an orphan left in a task's group
            child(7005, 1, 7005),    // foreign
        ];
        let m = measure(&own, &pairs, Priority::Normal, &anywhere);
        let pids: Vec<i32> = m.counted.iter().map(|p| p.pid).collect();
        assert_eq!(pids, vec![7005]);
        own.remove_group(7001);
        let m = measure(&own, &pairs, Priority::Normal, &anywhere);
        assert_eq!(
            m.counted.len(),
            2,
            "the orphan is foreign once the group is gone"
        );
    }

    #[test]
    fn processes_that_cannot_reach_our_cpus_do_not_count() {
        let hz = platform::clock_ticks_per_second();
        let pairs = [
            busy(5000, 100, hz),
            busy(5001, 100, hz),
            busy(5002, 200, hz),
        ];
        let affinity = |pid: i32| match pid {
            5000 => Some(CpuSet::from_ids([7])),    // off our CPUs
            5001 => Some(CpuSet::from_ids([1, 7])), // reaches one of ours
            _ => Some(CpuSet::from_ids([1])),       // two threads squeezed on one of ours
        };
        let m = measure(&OwnProcesses::new(), &pairs, Priority::Normal, &affinity);
        let pids: Vec<(i32, f64)> = m
            .counted
            .iter()
            .map(|p| (p.pid, p.cpu_percent.round()))
            .collect();
        assert_eq!(pids, vec![(5001, 100.0), (5002, 100.0)]);
        assert_eq!(m.available_cpus, 0);
    }

    #[test]
    fn a_process_born_between_scans_counts_for_its_whole_time() {
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now();
        let before = snap(t0, vec![]);
        let after = snap(
            t0 + Duration::from_secs(1),
            vec![proc(6000, 1, 6000, hz / 2)],
        );
        let m = sampled(
            &before,
            &after,
            Priority::Normal,
            &two_cpus(),
            &OwnProcesses::new(),
            &anywhere,
        );
        assert_eq!(m.counted.len(), 1);
        assert!((m.counted[0].cpu_percent - 50.0).abs() < 1.0);
    }

    #[test]
    fn estimate_counts_runnable_busy_processes_only() {
        let hz = platform::clock_ticks_per_second();
        let uptime = 1_000 * hz;
        let mut idle_runnable = proc(1, 0, 1, hz); // 1 s of CPU in 990 s
        idle_runnable.start_ticks = 10 * hz;
        let mut hog = proc(2, 1, 2, 90 * hz); // 90 s of CPU in 100 s
        hog.start_ticks = uptime - 100 * hz;
        let mut sleeping_hog = hog;
        sleeping_hog.pid = 3;
        sleeping_hog.runnable = false;
        let mut newborn = proc(4, 1, 4, 0);
        newborn.start_ticks = uptime - 1;
        let snapshot = Snapshot {
            taken: Instant::now(),
            uptime_ticks: uptime,
            processes: vec![idle_runnable, hog, sleeping_hog, newborn],
        };
        let m = estimate(
            &snapshot,
            Priority::Normal,
            &two_cpus(),
            &OwnProcesses::new(),
            &anywhere,
        );
        let mut pids: Vec<i32> = m.counted.iter().map(|p| p.pid).collect();
        pids.sort();
        assert_eq!(pids, vec![2, 4]);
        assert_eq!(m.kind, MeasurementKind::Estimate);
        assert_eq!(m.available_cpus, 0);
    }

    #[test]
    fn nuclear_measures_nothing() {
        let m = measure_foreign_load(Priority::Nuclear, &OwnProcesses::new()).unwrap();
        assert!(m.counted.is_empty());
        assert_eq!(m.available_cpus, m.usable_cpus);
    }
}
