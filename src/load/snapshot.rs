//! Scans of the process table and the foreign processes' CPU shares they
//! give: over the interval between two scans, or, from a single scan, the
//! lifetime average of the processes running at that instant.

use std::io;
use std::time::{Duration, Instant};

use super::OwnProcesses;
use super::rules::Share;
use crate::platform::{self, ProcessSample, ProcessTable};

/// One scan of the process table, in increasing pid order.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub taken: Instant,
    pub uptime_ticks: u64,
    pub processes: Vec<ProcessSample>,
}

impl Snapshot {
    /// Scans the process table, reusing `recycled`'s storage if given.
    pub(crate) fn take(
        table: &mut ProcessTable,
        recycled: Option<Snapshot>,
    ) -> io::Result<Snapshot> {
        let mut processes = recycled.map(|s| s.processes).unwrap_or_default();
        let uptime_ticks = platform::uptime_ticks()?;
        table.scan(&mut processes)?;
        Ok(Snapshot {
            taken: Instant::now(),
            uptime_ticks,
            processes,
        })
    }
}

/// The foreign processes runnable at the instant of `snapshot`, each
/// weighed by its lifetime average share of a CPU. A process younger than a
/// second that runs now is taken as busy: its average says nothing yet.
pub(crate) fn estimate_shares(snapshot: &Snapshot, own: &OwnProcesses) -> Vec<Share> {
    let ticks_per_second = platform::clock_ticks_per_second() as f64;
    let mut ownership = own.classify(&snapshot.processes);
    snapshot
        .processes
        .iter()
        .filter(|p| p.runnable)
        .filter(|p| !ownership.is_ours(p.pid))
        .map(|p| {
            let lifetime = snapshot.uptime_ticks.saturating_sub(p.start_ticks) as f64;
            let percent = if lifetime < ticks_per_second {
                100.0
            } else {
                p.cpu_ticks as f64 / lifetime * 100.0
            };
            Share {
                pid: p.pid,
                name: p.name,
                percent,
                waited_percent: 0.0,
            }
        })
        .collect()
}

/// The share of a CPU each foreign process used between two scans, and
/// the time it waited, runnable, for one, when both scans found it
/// runnable (a busy loop that shares its CPU with one of our tasks uses
/// half of it, and waits for it the other half). Only processes that used
/// or waited for some CPU are listed. A process born between the scans
/// counts for its whole CPU and waiting time.
pub(crate) fn sampled_shares(
    before: &Snapshot,
    after: &Snapshot,
    own: &OwnProcesses,
) -> Vec<Share> {
    let ticks_per_second = platform::clock_ticks_per_second() as f64;
    let elapsed = after
        .taken
        .saturating_duration_since(before.taken)
        .max(Duration::from_millis(1))
        .as_secs_f64();
    let mut ownership = own.classify(&after.processes);
    let mut earlier = before.processes.iter().peekable();
    let mut shares = Vec::new();
    for p in &after.processes {
        // Both tables are in pid order: walk them side by side.
        while earlier.next_if(|q| q.pid < p.pid).is_some() {}
        let previous = earlier
            .next_if(|q| q.pid == p.pid)
            .filter(|q| q.start_ticks == p.start_ticks);
        let ticks = p
            .cpu_ticks
            .saturating_sub(previous.map_or(0, |q| q.cpu_ticks));
        let waited_ns = match (previous.map(|q| q.waited_ns), p.waited_ns) {
            (Some(Some(before)), Some(now)) => now.saturating_sub(before),
            (None, Some(now)) => now,
            _ => 0,
        };
        if (ticks == 0 && waited_ns == 0) || ownership.is_ours(p.pid) {
            continue;
        }
        shares.push(Share {
            pid: p.pid,
            name: p.name,
            percent: ticks as f64 / (ticks_per_second * elapsed) * 100.0,
            waited_percent: waited_ns as f64 / 1e9 / elapsed * 100.0,
        });
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ProcessName;

    pub(crate) fn proc(pid: i32, ppid: i32, pgrp: i32, cpu_ticks: u64) -> ProcessSample {
        ProcessSample {
            pid,
            name: ProcessName::from_bytes(b"sh"),
            ppid,
            pgrp,
            runnable: true,
            cpu_ticks,
            start_ticks: 10,
            waited_ns: None,
        }
    }

    fn snap(at: Instant, mut processes: Vec<ProcessSample>) -> Snapshot {
        processes.sort_by_key(|p| p.pid);
        Snapshot {
            taken: at,
            uptime_ticks: 1_000_000,
            processes,
        }
    }

    fn percents(shares: &[Share]) -> Vec<(i32, i64)> {
        shares
            .iter()
            .map(|s| (s.pid, s.percent.round() as i64))
            .collect()
    }

    #[test]
    fn shares_over_the_interval_leave_out_ours_and_the_idle() {
        let hz = platform::clock_ticks_per_second();
        let me = std::process::id() as i32;
        let t0 = Instant::now();
        let before = snap(
            t0,
            vec![
                proc(100, 1, 100, 1000),
                proc(101, 1, 101, 5000),
                proc(102, me, 102, 0),
                proc(103, 1, 103, 7),
            ],
        );
        let after = snap(
            t0 + Duration::from_secs(1),
            vec![
                proc(100, 1, 100, 1000 + hz), // 100 %
                proc(101, 1, 101, 5000),      // idle
                proc(102, me, 102, hz),       // ours
                proc(104, 1, 104, hz / 2),    // born between the scans: 50 %
            ],
        );
        let shares = sampled_shares(&before, &after, &OwnProcesses::new());
        assert_eq!(percents(&shares), vec![(100, 100), (104, 50)]);
        assert_eq!(shares[0].name.as_bytes(), b"sh");
    }

    #[test]
    fn waiting_for_a_cpu_counts_when_both_scans_read_it() {
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now();
        let waiting = |pid, cpu_ticks, waited_ns| ProcessSample {
            waited_ns,
            ..proc(pid, 1, pid, cpu_ticks)
        };
        let before = snap(
            t0,
            vec![
                waiting(100, 0, Some(7_000_000_000)),
                waiting(101, 0, None),
                waiting(102, 0, Some(0)),
            ],
        );
        let after = snap(
            t0 + Duration::from_secs(1),
            vec![
                // Ran half of the second and waited the other half.
                waiting(100, hz / 2, Some(7_500_000_000)),
                // Not runnable at the first scan: its waiting is unknown.
                waiting(101, hz / 2, Some(9_000_000_000)),
                // Waited a quarter of the second and never ran.
                waiting(102, 0, Some(250_000_000)),
                // Born between the scans: all of its waiting counts.
                waiting(103, hz / 4, Some(250_000_000)),
            ],
        );
        let shares = sampled_shares(&before, &after, &OwnProcesses::new());
        assert_eq!(
            percents(&shares),
            vec![(100, 50), (101, 50), (102, 0), (103, 25)]
        );
        let waited: Vec<(i32, i64)> = shares
            .iter()
            .map(|s| (s.pid, s.waited_percent.round() as i64))
            .collect();
        assert_eq!(waited, vec![(100, 50), (101, 0), (102, 25), (103, 25)]);
    }

    #[test]
    fn a_reused_pid_counts_from_zero() {
        let hz = platform::clock_ticks_per_second();
        let t0 = Instant::now();
        let before = snap(t0, vec![proc(100, 1, 100, 10 * hz)]);
        let mut reborn = proc(100, 1, 100, hz / 4);
        reborn.start_ticks = 99;
        let after = snap(t0 + Duration::from_secs(1), vec![reborn]);
        let shares = sampled_shares(&before, &after, &OwnProcesses::new());
        assert_eq!(percents(&shares), vec![(100, 25)]);
    }

    #[test]
    fn estimate_counts_runnable_processes_by_their_average() {
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
        let shares = estimate_shares(&snapshot, &OwnProcesses::new());
        assert_eq!(percents(&shares), vec![(1, 0), (2, 90), (4, 100)]);
    }
}
