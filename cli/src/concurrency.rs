//! `-j`: how many jobs may run at once, and how that becomes the library's
//! [`dummymp::Scheduler`] settings.

use std::fmt;
use std::str::FromStr;

use dummymp::{Priority, Scheduler};

/// The value of `-j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLimit {
    /// `-j N`: at most N jobs at once (0: no cap of our own).
    Count(usize),
    /// `-j N%`: at most N percent of the usable CPUs (rounded, at least 1).
    PercentOfCpus(u32),
}

/// Why a `-j` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a number of jobs (N), a share of the usable CPUs (N%) or 0 for no cap")]
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

/// The cap in jobs that a `-j` value means on a machine with
/// `usable_cpus` usable CPUs: `None` for no cap of our own.
pub fn resolve_cap(limit: Option<JobLimit>, usable_cpus: usize) -> Option<usize> {
    match limit {
        None | Some(JobLimit::Count(0)) => None,
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
pub fn scheduler_for(priority: Priority, limit: Option<JobLimit>) -> Scheduler {
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
        assert_eq!(resolve_cap(Some(JobLimit::Count(0)), 4), None);
        assert_eq!(resolve_cap(None, 4), None);
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
