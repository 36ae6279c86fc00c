//! `-j`: how many jobs may run at once, and how that becomes the library's
//! [`dummymp::Scheduler`] settings.

use std::fmt;
use std::str::FromStr;

use dummymp::{Priority, Scheduler};

/// The most jobs `-j 0` ("as many as possible") runs at once.
pub const AS_MANY_AS_POSSIBLE: usize = 1000;

/// The descriptors one running job holds in dummymp (its output pipes,
/// and room for the engine's process handle and a spare).
const DESCRIPTORS_PER_JOB: u64 = 4;

/// Descriptors kept for dummymp itself (standard streams, logs, signal
/// pipes, the scheduler's measurement).
const DESCRIPTORS_KEPT: u64 = 64;

/// The value of `-j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLimit {
    /// `-j N`: at most N jobs at once (0: as many as possible, see
    /// [`as_many_as_possible`]).
    Count(usize),
    /// `-j N%`: at most N percent of the usable CPUs (rounded, at least 1).
    PercentOfCpus(u32),
}

/// Why a `-j` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a number of jobs (N), a share of the usable CPUs (N%) or 0 for as many as possible"
)]
pub struct JobLimitError;

impl FromStr for JobLimit {
    type Err = JobLimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.strip_suffix('%') {
            Some(percent) => match percent.parse::<u32>() {
                Ok(p) if p > 0 => Ok(JobLimit::PercentOfCpus(p)),
                _ => Err(JobLimitError),
            },
            None => s.parse().map(JobLimit::Count).map_err(|_| JobLimitError),
        }
    }
}

impl fmt::Display for JobLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobLimit::Count(n) => write!(f, "{n}"),
            JobLimit::PercentOfCpus(p) => write!(f, "{p}%"),
        }
    }
}

/// What `-j 0` means here: [`AS_MANY_AS_POSSIBLE`] jobs, or fewer when
/// the soft open-file limit `open_files` leaves fewer descriptors.
pub(crate) fn as_many_as_possible(open_files: Option<u64>) -> usize {
    let by_files = open_files.map_or(AS_MANY_AS_POSSIBLE as u64, |limit| {
        limit.saturating_sub(DESCRIPTORS_KEPT) / DESCRIPTORS_PER_JOB
    });
    (by_files.clamp(1, AS_MANY_AS_POSSIBLE as u64)) as usize
}

/// The soft limit on open files, when there is one.
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// The cap in jobs that a `-j` value means on a machine with
/// `usable_cpus` usable CPUs: `None` for no cap of our own.
pub(crate) fn resolve_cap(limit: Option<JobLimit>, usable_cpus: usize) -> Option<usize> {
    match limit {
        None => None,
        Some(JobLimit::Count(0)) => Some(as_many_as_possible(open_file_limit())),
        Some(JobLimit::Count(n)) => Some(n),
        Some(JobLimit::PercentOfCpus(p)) => {
            let share = (usable_cpus as f64 * f64::from(p) / 100.0).round();
            Some((share as usize).max(1))
        }
    }
}

/// The scheduler for `priority` and `-j`: with a cap, it is both the
/// capacity (jobs that mostly wait may use more jobs than CPUs; foreign
/// CPUs are still subtracted in the considerate modes) and the process cap;
/// without one, the priority mode and the usable CPUs alone decide.
pub(crate) fn scheduler_for(priority: Priority, limit: Option<JobLimit>) -> Scheduler {
    let cap = resolve_cap(limit, dummymp::usable_cpus());
    let mut scheduler = Scheduler::new(priority, cap.unwrap_or(0));
    scheduler.set_capacity(cap);
    scheduler
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_percentages() {
        assert_eq!("4".parse(), Ok(JobLimit::Count(4)));
        assert_eq!("0".parse(), Ok(JobLimit::Count(0)));
        assert_eq!("50%".parse(), Ok(JobLimit::PercentOfCpus(50)));
        assert_eq!("0%".parse::<JobLimit>(), Err(JobLimitError));
        assert_eq!("-1".parse::<JobLimit>(), Err(JobLimitError));
        assert_eq!("many".parse::<JobLimit>(), Err(JobLimitError));
        assert_eq!(JobLimit::PercentOfCpus(150).to_string(), "150%");
    }

    #[test]
    fn percentages_round_and_never_reach_zero() {
        let half = Some(JobLimit::PercentOfCpus(50));
        assert_eq!(resolve_cap(half, 8), Some(4));
        assert_eq!(resolve_cap(half, 3), Some(2));
        assert_eq!(resolve_cap(Some(JobLimit::PercentOfCpus(1)), 4), Some(1));
        assert_eq!(resolve_cap(Some(JobLimit::PercentOfCpus(200)), 4), Some(8));
        assert_eq!(resolve_cap(None, 4), None);
    }

    /// Pins GNU parallel's `-j0`: as many jobs at once as possible (30
    /// `sleep 1` jobs finish in about a second), bounded by open files.
    #[test]
    fn zero_means_as_many_as_possible() {
        assert_eq!(as_many_as_possible(None), AS_MANY_AS_POSSIBLE);
        assert_eq!(as_many_as_possible(Some(1 << 20)), AS_MANY_AS_POSSIBLE);
        assert_eq!(as_many_as_possible(Some(1024)), 240);
        assert_eq!(as_many_as_possible(Some(10)), 1);
        assert!(resolve_cap(Some(JobLimit::Count(0)), 4).is_some_and(|cap| cap >= 1));
    }

    #[test]
    fn a_cap_is_both_capacity_and_process_cap() {
        let mut s = scheduler_for(Priority::Nuclear, Some(JobLimit::Count(7)));
        assert_eq!(s.capacity(), Some(7));
        assert_eq!(s.max_processes(), 7);
        assert_eq!(s.free_slots(0, 100), 7);
        let s = scheduler_for(Priority::Nuclear, None);
        assert_eq!((s.capacity(), s.max_processes()), (None, 0));
    }
}
