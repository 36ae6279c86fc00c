//! The counting rules that turn foreign processes' CPU shares into busy
//! CPUs.
//!
//! - **Per-process rule** (the original's): a foreign process counts only
//!   when its share of one CPU is above the mode's threshold; the counted
//!   shares are summed and rounded to the nearest CPU.
//! - **Machine-wide rule**: all foreign processes together, whatever their
//!   size, less the mode's threshold (one threshold's worth of background
//!   noise is forgiven, for the whole machine), rounded to the nearest CPU.
//!   Eight loops at 25 % each count as nothing under the per-process rule
//!   in `Normal`, but as 2 CPUs (200 - 30 = 170 %) under this one, while a
//!   machine whose background noise adds up to less than the threshold plus
//!   half a CPU loses nothing.
//!
//! The foreign CPUs are the larger of the two. A process whose CPU affinity
//! keeps it off all of our CPUs counts under neither rule, and one that can
//! reach only some of our CPUs counts for at most that many.
//!
//! What foreign processes *want* of our CPUs (for our running tasks to
//! yield to) is counted apart: the per-process rule applied to the CPU
//! time each used *plus the time it waited for a CPU*, the processes
//! counted together counting for at most the CPUs of ours they can reach.
//! A busy loop that shares its CPU with one of our tasks gets half of it
//! (which rounds to nothing, or to one by chance) but wants all of it.

use std::time::Instant;

use super::{ForeignProcess, LoadMeasurement, LoadRule, MeasurementKind};
use crate::cpus::{CpuInfo, CpuSet};
use crate::platform::ProcessName;
use crate::priority::Priority;

/// The CPUs a process may run on, looked up only for processes that used
/// some CPU.
pub(crate) type AffinityOf<'a> = &'a dyn Fn(i32) -> Option<CpuSet>;

/// Looks up a process's affinity through the operating system.
pub(crate) fn system_affinity(pid: i32) -> Option<CpuSet> {
    crate::platform::affinity(Some(pid)).ok()
}

/// One foreign process's share of a CPU, before the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Share {
    pub pid: i32,
    pub name: ProcessName,
    /// The CPU time it used, in percent of the interval.
    pub percent: f64,
    /// The time it waited, runnable, for a CPU, in percent of the interval
    /// (0 when not known).
    pub waited_percent: f64,
}

/// CPUs a share of `percent` of one CPU stands for, to the nearest CPU.
fn whole_cpus(percent: f64) -> usize {
    (percent.max(0.0) / 100.0).round() as usize
}

/// Applies both rules and the affinity rule to the shares of the foreign
/// processes that used some CPU, and sums up.
pub(crate) fn summarize(
    priority: Priority,
    kind: MeasurementKind,
    shares: &[Share],
    cpu: &CpuInfo,
    affinity_of: AffinityOf<'_>,
    processes_scanned: usize,
    taken_at: Instant,
) -> LoadMeasurement {
    let threshold = priority.threshold_percent().unwrap_or(f64::INFINITY);
    let mut counted = Vec::new();
    let mut machine_percent = 0.0;
    let mut active_processes = 0;
    let mut wanted = Wanted::default();
    for share in shares {
        let wants = share.percent + share.waited_percent;
        if share.percent <= 0.0 && wants <= threshold {
            continue;
        }
        let reach = match affinity_of(share.pid) {
            Some(set) => set.intersection(&cpu.allowed),
            // Vanished, or not ours to inspect: assume it can run anywhere.
            None => cpu.allowed.clone(),
        };
        if reach.is_empty() {
            continue;
        }
        if wants > threshold {
            wanted.add(wants, &reach);
        }
        if share.percent <= 0.0 {
            continue;
        }
        let reach = reach.len();
        let percent = share.percent.min(reach as f64 * 100.0);
        machine_percent += percent;
        active_processes += 1;
        if share.percent > threshold {
            counted.push(ForeignProcess {
                pid: share.pid,
                name: share.name.to_string(),
                cpu_percent: percent,
            });
        }
    }
    counted.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
    let foreign_percent: f64 = counted.iter().map(|p| p.cpu_percent).sum();
    let per_process_cpus = whole_cpus(foreign_percent);
    let machine_cpus = whole_cpus(machine_percent - threshold);
    let (rule, foreign_cpus) = if machine_cpus > per_process_cpus {
        (LoadRule::MachineWide, machine_cpus)
    } else {
        (LoadRule::PerProcess, per_process_cpus)
    };
    LoadMeasurement {
        priority,
        kind,
        counted,
        foreign_percent,
        per_process_cpus,
        machine_percent,
        active_processes,
        machine_cpus,
        rule,
        foreign_cpus,
        wanted_cpus: wanted.cpus().max(foreign_cpus),
        usable_cpus: cpu.usable,
        available_cpus: cpu.usable.saturating_sub(foreign_cpus),
        processes_scanned,
        taken_at,
    }
}

/// What the foreign processes above the threshold want, counting the time
/// they waited for a CPU: each for at most the CPUs of ours it can reach,
/// all together for at most the CPUs of ours any of them can reach.
#[derive(Default)]
struct Wanted {
    percent: f64,
    reached: CpuSet,
}

impl Wanted {
    fn add(&mut self, percent: f64, reach: &CpuSet) {
        self.percent += percent.min(reach.len() as f64 * 100.0);
        self.reached.add_all(reach);
    }

    fn cpus(&self) -> usize {
        whole_cpus(self.percent.min(self.reached.len() as f64 * 100.0))
    }
}

/// The measurement when the machine's totals show at most `upper_bound`
/// percent of one CPU of foreign use, no more than the threshold: then no
/// process can be above it, and the machine-wide rule counts nothing.
pub(crate) fn quiet(
    priority: Priority,
    upper_bound: f64,
    cpu: &CpuInfo,
    taken_at: Instant,
) -> LoadMeasurement {
    LoadMeasurement {
        machine_percent: upper_bound.max(0.0),
        ..summarize(
            priority,
            MeasurementKind::Aggregate,
            &[],
            cpu,
            &|_| None,
            0,
            taken_at,
        )
    }
}

/// A measurement that counts no foreign load: what `Nuclear` assumes, and
/// what is left when measuring is impossible.
pub(crate) fn nothing_counted(
    priority: Priority,
    cpu: &CpuInfo,
    taken_at: Instant,
) -> LoadMeasurement {
    summarize(
        priority,
        MeasurementKind::Sampled,
        &[],
        cpu,
        &|_| None,
        0,
        taken_at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_cpus() -> CpuInfo {
        CpuInfo {
            total: 2,
            allowed: CpuSet::from_ids([0, 1]),
            quota: None,
            usable: 2,
        }
    }

    fn shares(percents: &[f64]) -> Vec<Share> {
        percents
            .iter()
            .enumerate()
            .map(|(i, &percent)| Share {
                pid: 5000 + i as i32,
                name: ProcessName::from_bytes(b"loop"),
                percent,
                waited_percent: 0.0,
            })
            .collect()
    }

    fn apply(percents: &[f64], priority: Priority) -> LoadMeasurement {
        summarize(
            priority,
            MeasurementKind::Sampled,
            &shares(percents),
            &two_cpus(),
            &|_| None,
            100,
            Instant::now(),
        )
    }

    #[test]
    fn many_small_loops_count_under_the_machine_wide_rule() {
        let m = apply(&[25.0; 8], Priority::Normal);
        assert!(m.counted.is_empty(), "none is above 30 %");
        assert_eq!(m.per_process_cpus, 0);
        assert_eq!(m.machine_percent, 200.0);
        assert_eq!(m.active_processes, 8);
        assert_eq!(m.machine_cpus, 2, "200 - 30 = 170 %");
        assert_eq!(m.rule, LoadRule::MachineWide);
        assert_eq!(m.foreign_cpus, 2);
        assert_eq!(m.available_cpus, 0);
    }

    #[test]
    fn background_noise_costs_nothing() {
        // Forty daemons at 1 % and a few at 5 %: 60 % of a CPU in total.
        let mut noise = vec![1.0; 40];
        noise.extend([5.0; 4]);
        for priority in [Priority::Generous, Priority::Normal, Priority::Extreme] {
            let m = apply(&noise, priority);
            assert_eq!(m.foreign_cpus, 0, "{priority}: {m:?}");
            assert_eq!(m.rule, LoadRule::PerProcess);
        }
    }

    #[test]
    fn big_processes_count_under_the_per_process_rule() {
        let m = apply(&[100.0, 3.0, 3.0], Priority::Normal);
        assert_eq!(m.counted.len(), 1);
        assert_eq!(m.per_process_cpus, 1);
        assert_eq!(m.machine_cpus, 1, "106 - 30 = 76 %");
        assert_eq!(
            m.rule,
            LoadRule::PerProcess,
            "a tie keeps the original's rule"
        );
        assert_eq!(m.foreign_cpus, 1);
    }

    #[test]
    fn the_threshold_is_per_mode_and_strict() {
        let m = apply(&[40.0, 60.0], Priority::Normal);
        assert_eq!(m.counted.len(), 2);
        assert_eq!(m.foreign_cpus, 1);
        let m = apply(&[40.0, 60.0], Priority::Aggressive);
        assert_eq!(m.counted.len(), 1);
        assert_eq!(m.counted[0].pid, 5001);
        let m = apply(&[40.0, 50.0], Priority::Aggressive);
        assert!(m.counted.is_empty(), "50 % is not above 50 %");
        let m = apply(&[40.0, 60.0], Priority::Extreme);
        assert!(m.counted.is_empty());
        assert_eq!(m.machine_cpus, 0, "100 - 80 = 20 %");
        assert_eq!(m.available_cpus, 2);
    }

    #[test]
    fn a_custom_mode_counts_above_its_own_threshold() {
        use crate::priority::CustomPriority;
        let custom = |threshold| {
            let interval = std::time::Duration::from_secs(1);
            Priority::Custom(CustomPriority::new("custom", threshold, interval, interval).unwrap())
        };
        let m = apply(&[60.0, 90.0], custom(75.0));
        assert_eq!(m.counted.len(), 1, "60 % is below 75 %");
        assert_eq!(m.counted[0].pid, 5001);
        let m = apply(&[60.0, 90.0], custom(f64::INFINITY));
        assert!(m.counted.is_empty(), "a mode that counts nobody");
    }

    #[test]
    fn processes_that_cannot_reach_our_cpus_do_not_count() {
        let affinity = |pid: i32| match pid {
            5000 => Some(CpuSet::from_ids([7])),    // off our CPUs
            5001 => Some(CpuSet::from_ids([1, 7])), // reaches one of ours
            _ => Some(CpuSet::from_ids([1])),       // two threads squeezed on one of ours
        };
        let m = summarize(
            Priority::Normal,
            MeasurementKind::Sampled,
            &shares(&[100.0, 100.0, 200.0]),
            &two_cpus(),
            &affinity,
            3,
            Instant::now(),
        );
        let pids: Vec<(i32, f64)> = m
            .counted
            .iter()
            .map(|p| (p.pid, p.cpu_percent.round()))
            .collect();
        assert_eq!(pids, vec![(5001, 100.0), (5002, 100.0)]);
        assert_eq!(m.machine_percent, 200.0, "the unreachable one is left out");
        assert_eq!(m.available_cpus, 0);
    }

    #[test]
    fn what_processes_want_counts_the_time_they_waited_for_a_cpu() {
        let share = |pid: i32, percent: f64, waited_percent: f64| Share {
            pid,
            name: ProcessName::from_bytes(b"loop"),
            percent,
            waited_percent,
        };
        let on_cpu_1 = |_: i32| Some(CpuSet::from_ids([1]));
        let measure = |shares: &[Share], affinity: AffinityOf<'_>| {
            summarize(
                Priority::Normal,
                MeasurementKind::Sampled,
                shares,
                &two_cpus(),
                affinity,
                shares.len(),
                Instant::now(),
            )
        };
        // A loop sharing CPU 1 with one of our tasks: it gets 45 % and
        // waits the rest of the time.
        let m = measure(&[share(5000, 45.0, 55.0)], &on_cpu_1);
        assert_eq!((m.foreign_cpus, m.wanted_cpus), (0, 1));
        // Five loops squeezed on CPU 1 want it, but no more than it (the
        // rules count what they used: none is above the threshold, and
        // together they use it).
        let m = measure(&[share(5000, 20.0, 80.0); 5], &on_cpu_1);
        assert_eq!((m.foreign_cpus, m.wanted_cpus), (1, 1));
        assert!(m.counted.is_empty());
        // A process that got no CPU time at all still wants one.
        let m = measure(&[share(5000, 0.0, 100.0)], &|_| None);
        assert_eq!((m.active_processes, m.wanted_cpus), (0, 1));
        // Waiting that does not pass the threshold does not count.
        let m = measure(&[share(5000, 10.0, 10.0)], &|_| None);
        assert_eq!(m.wanted_cpus, 0);
        // Never less than the rules count.
        let m = apply(&[25.0; 8], Priority::Normal);
        assert_eq!((m.foreign_cpus, m.wanted_cpus), (2, 2));
    }

    #[test]
    fn a_quiet_machine_counts_nothing() {
        let m = quiet(Priority::Normal, 12.0, &two_cpus(), Instant::now());
        assert_eq!(m.kind, MeasurementKind::Aggregate);
        assert_eq!(m.machine_percent, 12.0);
        assert_eq!(m.foreign_cpus, 0);
        assert_eq!(m.available_cpus, 2);
        assert_eq!(m.processes_scanned, 0);
    }
}
