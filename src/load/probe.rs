//! One measurement, start to end: readings of the machine's total CPU time
//! and of our own processes, and scans of the process table only when the
//! totals leave room for foreign load above the threshold.
//!
//! The totals give an upper bound on foreign CPU use over the interval:
//! the machine's busy time (the larger of the sampled busy time and the
//! elapsed time of every online CPU less its idle time, which tickless
//! kernels measure exactly) less the CPU time of this process and of the
//! first process of each of our tasks, plus a margin for rounding to clock
//! ticks (two ticks for the totals, two per process of ours read). When
//! that bound is at most the mode's threshold, no foreign process can be
//! above it and the machine-wide rule counts nothing either, so the
//! per-process scans would change nothing: the cost of a measurement then
//! does not depend on the number of processes on the machine. Our tasks'
//! other processes are not read, so their CPU time only makes the bound
//! larger (a scan follows, never a wrong answer).
//!
//! When measurements are fed from a file ([`fed`](super::fed)), a probe
//! reads nothing and a measurement reads that file at its end.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::fed;
use super::rules::{self, system_affinity};
use super::snapshot::{self, Snapshot};
use super::{LoadMeasurement, MeasurementKind, OwnProcesses, ProcessScan};
use crate::cpus::CpuInfo;
use crate::platform::{self, CpuTimes, ProcessTable};
use crate::priority::Priority;

/// Ticks added to the bound for the rounding of the machine's totals.
const TOTALS_MARGIN_TICKS: f64 = 2.0;
/// Ticks added per process of ours read (user and system time are each
/// rounded down to a tick).
const OWN_PROCESS_MARGIN_TICKS: f64 = 2.0;

/// The CPU time of one of our processes at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnTime {
    pub pid: i32,
    pub start_ticks: u64,
    pub cpu_ticks: u64,
}

/// What was read at one instant: the machine's totals, our processes' CPU
/// times, and, when asked for, a scan of every process.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub taken: Instant,
    pub times: CpuTimes,
    pub ours: Vec<OwnTime>,
    pub snapshot: Option<Snapshot>,
}

/// The most foreign CPU use, in percent of one CPU, that the machine's
/// totals allow between two probes.
pub(crate) fn foreign_upper_bound(before: &Probe, after: &Probe, online_cpus: usize) -> f64 {
    let ticks_per_second = platform::clock_ticks_per_second() as f64;
    let elapsed = after
        .taken
        .saturating_duration_since(before.taken)
        .max(Duration::from_millis(1))
        .as_secs_f64()
        * ticks_per_second;
    let sampled_busy = after
        .times
        .busy_ticks
        .saturating_sub(before.times.busy_ticks) as f64;
    let idle = after
        .times
        .idle_ticks
        .saturating_sub(before.times.idle_ticks) as f64;
    let busy = sampled_busy.max(online_cpus as f64 * elapsed - idle);
    let mut ours = 0.0;
    let mut read = 0;
    for now in &after.ours {
        let earlier = before
            .ours
            .iter()
            .find(|t| t.pid == now.pid && t.start_ticks == now.start_ticks);
        // A process we did not see at the start may have run before it:
        // leave it out, which only makes the bound larger.
        if let Some(earlier) = earlier {
            ours += now.cpu_ticks.saturating_sub(earlier.cpu_ticks) as f64;
            read += 1;
        }
    }
    let margin = TOTALS_MARGIN_TICKS + OWN_PROCESS_MARGIN_TICKS * read as f64;
    ((busy - ours + margin) / elapsed * 100.0).max(0.0)
}

/// Takes measurements for one mode; keeps its buffers from one to the next.
pub(crate) struct Sampler {
    priority: Priority,
    own: OwnProcesses,
    scan: ProcessScan,
    table: ProcessTable,
    /// The storage of a scan no longer needed, for the next one.
    spare: Option<Snapshot>,
    /// The file measurements are fed from instead (see [`fed`]).
    fed: Option<PathBuf>,
}

impl Sampler {
    pub(crate) fn new(priority: Priority, own: OwnProcesses, scan: ProcessScan) -> Sampler {
        Sampler {
            priority,
            own,
            scan,
            table: ProcessTable::new(),
            spare: None,
            fed: fed::source(),
        }
    }

    /// Reads the totals and our processes, and scans every process when
    /// `scan`.
    pub(crate) fn probe(&mut self, scan: bool) -> io::Result<Probe> {
        if self.fed.is_some() {
            return Ok(Probe {
                taken: Instant::now(),
                times: CpuTimes::default(),
                ours: Vec::new(),
                snapshot: None,
            });
        }
        let times = platform::cpu_times()?;
        let taken = Instant::now();
        let mut ours = Vec::new();
        let pids =
            std::iter::once(self.own.root()).chain(self.own.groups().into_iter().map(|g| g as i32));
        for pid in pids {
            if let Some(p) = self.table.read(pid) {
                ours.push(OwnTime {
                    pid,
                    start_ticks: p.start_ticks,
                    cpu_ticks: p.cpu_ticks,
                });
            }
        }
        let mut probe = Probe {
            taken,
            times,
            ours,
            snapshot: None,
        };
        if scan {
            self.add_scan(&mut probe)?;
        }
        Ok(probe)
    }

    fn add_scan(&mut self, probe: &mut Probe) -> io::Result<()> {
        probe.snapshot = Some(Snapshot::take(&mut self.table, self.spare.take())?);
        Ok(())
    }

    /// The instant estimate from the scan of `probe` (which must have one).
    pub(crate) fn estimate(&self, probe: &Probe, cpu: &CpuInfo) -> Option<LoadMeasurement> {
        if let Some(path) = &self.fed {
            return fed::measure(path, self.priority, MeasurementKind::Estimate, cpu).ok();
        }
        let snapshot = probe.snapshot.as_ref()?;
        let shares = snapshot::estimate_shares(snapshot, &self.own);
        Some(rules::summarize(
            self.priority,
            MeasurementKind::Estimate,
            &shares,
            cpu,
            &system_affinity,
            snapshot.processes.len(),
            snapshot.taken,
        ))
    }

    /// Measures from `before` to one `interval` after it (sleeping until
    /// then), or to two intervals after it when the totals show load and
    /// `before` holds no scan. Returns the measurement and the probe to
    /// start the next one from.
    pub(crate) fn measure(
        &mut self,
        mut before: Probe,
        interval: Duration,
    ) -> io::Result<(LoadMeasurement, Probe)> {
        let cpu = CpuInfo::current();
        sleep_until(before.taken + interval);
        if let Some(path) = &self.fed {
            let m = fed::measure(path, self.priority, MeasurementKind::Sampled, &cpu)?;
            return Ok((m, self.probe(false)?));
        }
        let mut after = self.probe(false)?;
        if self.scan == ProcessScan::WhenLoaded {
            let threshold = self.priority.threshold_percent().unwrap_or(f64::INFINITY);
            let bound = foreign_upper_bound(&before, &after, cpu.total);
            if bound <= threshold {
                self.spare = before.snapshot.take();
                let m = rules::quiet(self.priority, bound, &cpu, after.taken);
                return Ok((m, after));
            }
        }
        if before.snapshot.is_none() {
            // The load shows only now: scan, and sample once more.
            self.add_scan(&mut after)?;
            before = after;
            sleep_until(before.taken + interval);
            after = self.probe(false)?;
        }
        self.add_scan(&mut after)?;
        let (Some(earlier), Some(later)) = (&before.snapshot, &after.snapshot) else {
            return Err(io::Error::other("a scan of the process table is missing"));
        };
        let shares = snapshot::sampled_shares(earlier, later, &self.own);
        let m = rules::summarize(
            self.priority,
            MeasurementKind::Sampled,
            &shares,
            &cpu,
            &system_affinity,
            later.processes.len(),
            later.taken,
        );
        self.spare = before.snapshot.take();
        Ok((m, after))
    }
}

fn sleep_until(deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(at: Instant, busy: u64, idle: u64, ours: &[(i32, u64)]) -> Probe {
        Probe {
            taken: at,
            times: CpuTimes {
                busy_ticks: busy,
                idle_ticks: idle,
            },
            ours: ours
                .iter()
                .map(|&(pid, cpu_ticks)| OwnTime {
                    pid,
                    start_ticks: 5,
                    cpu_ticks,
                })
                .collect(),
            snapshot: None,
        }
    }

    #[test]
    fn our_cpu_time_is_taken_off_the_machine_total() {
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now();
        // Two CPUs over one second, both busy: one with a task of ours.
        let before = probe(t0, 1000, 5000, &[(1, 0), (2, 100)]);
        let after = probe(
            t0 + Duration::from_secs(1),
            1000 + 2 * hz,
            5000,
            &[(1, 0), (2, 100 + hz)],
        );
        let bound = foreign_upper_bound(&before, &after, 2);
        let margin = (2.0 + 2.0 * 2.0) / hz as f64 * 100.0;
        assert!((bound - (100.0 + margin)).abs() < 1e-6, "{bound}");
    }

    #[test]
    fn idle_time_catches_what_the_sampled_busy_time_misses() {
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now();
        let before = probe(t0, 1000, 5000, &[]);
        // The busy time did not move, but the idle time of one CPU did not
        // either: it ran something the whole second.
        let after = probe(t0 + Duration::from_secs(1), 1000, 5000 + hz, &[]);
        let bound = foreign_upper_bound(&before, &after, 2);
        assert!(bound >= 100.0, "{bound}");
    }

    #[test]
    fn a_task_of_ours_seen_only_at_the_end_is_not_taken_off() {
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now();
        let before = probe(t0, 0, 0, &[]);
        let after = probe(t0 + Duration::from_secs(1), hz, hz, &[(9, hz)]);
        let bound = foreign_upper_bound(&before, &after, 2);
        assert!(bound >= 100.0, "{bound}");
    }

    #[test]
    fn a_quiet_machine_needs_no_scan() {
        // Nothing of ours runs and the machine is idle apart from a daemon:
        // one reading of the totals at each end.
        let mut sampler = Sampler::new(
            Priority::Generous,
            OwnProcesses::new(),
            ProcessScan::WhenLoaded,
        );
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now() - Duration::from_secs(1);
        let before = probe(t0, 0, 0, &[]);
        let after = probe(t0 + Duration::from_secs(1), hz / 20, 2 * hz - hz / 20, &[]);
        let bound = foreign_upper_bound(&before, &after, 2);
        assert!(bound < 20.0, "{bound}");
        // A real probe works and reads this process.
        let p = sampler.probe(false).unwrap();
        assert!(p.snapshot.is_none());
        assert_eq!(p.ours[0].pid, std::process::id() as i32);
    }

    #[test]
    fn always_scanning_gives_a_sampled_measurement() {
        let mut sampler = Sampler::new(Priority::Normal, OwnProcesses::new(), ProcessScan::Always);
        let before = sampler.probe(true).unwrap();
        let (m, next) = sampler.measure(before, Duration::ZERO).unwrap();
        assert_eq!(m.kind, MeasurementKind::Sampled);
        assert!(m.processes_scanned > 0);
        assert!(
            next.snapshot.is_some(),
            "the next measurement starts from this scan"
        );
    }
}
