//! CPU counts: how many CPUs the machine has, and how many of them this
//! process may use once CPU affinity (`taskset`, Slurm, cpusets) and cgroup
//! CPU quotas (containers, systemd slices) are taken into account.

use crate::platform;

pub use crate::cpu_set::CpuSet;

/// What this process knows about the CPUs it may use.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    /// CPUs online on the machine.
    pub total: usize,
    /// CPUs this process's affinity mask allows it to run on.
    pub allowed: CpuSet,
    /// CPU bandwidth granted by cgroup quotas, in CPUs (`1.5` is one and a
    /// half), or `None` when no quota applies.
    pub quota: Option<f64>,
    /// CPUs this process may keep busy: the allowed CPUs, further limited by
    /// the quota rounded down (but never below one).
    pub usable: usize,
}

impl CpuInfo {
    /// Reads the current facts from the operating system.
    ///
    /// ```
    /// let cpus = dummymp::CpuInfo::current();
    /// assert!(cpus.usable >= 1 && cpus.usable <= cpus.allowed.len());
    /// assert_eq!(cpus.usable, dummymp::usable_cpus());
    /// ```
    pub fn current() -> CpuInfo {
        let fallback = || std::thread::available_parallelism().map_or(1, |n| n.get());
        let total = platform::online_cpu_count().unwrap_or_else(|_| fallback());
        let allowed = platform::affinity(None)
            .ok()
            .filter(|set| !set.is_empty())
            .unwrap_or_else(|| CpuSet::from_ids(0..total));
        let quota = platform::cgroup_cpu_limit();
        let usable = usable_from(allowed.len(), quota);
        CpuInfo {
            total,
            allowed,
            quota,
            usable,
        }
    }
}

/// CPUs usable with `allowed` CPUs and a cgroup `quota` in CPUs.
pub(crate) fn usable_from(allowed: usize, quota: Option<f64>) -> usize {
    let by_quota = quota.map_or(usize::MAX, |q| (q.floor() as usize).max(1));
    allowed.min(by_quota).max(1)
}

/// Number of CPUs online on the machine, whatever this process may use.
///
/// ```
/// assert!(dummymp::total_cpus() >= dummymp::usable_cpus());
/// ```
pub fn total_cpus() -> usize {
    CpuInfo::current().total
}

/// Number of CPUs this process may keep busy: its CPU affinity mask,
/// limited by any cgroup CPU quota (a container limited to 2 CPUs on a
/// 64-core host gets 2). Never less than one.
///
/// ```
/// assert!(dummymp::usable_cpus() >= 1);
/// ```
pub fn usable_cpus() -> usize {
    CpuInfo::current().usable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_follows_the_smaller_limit() {
        assert_eq!(usable_from(64, Some(2.0)), 2);
        assert_eq!(usable_from(64, Some(1.5)), 1);
        assert_eq!(usable_from(64, Some(0.2)), 1);
        assert_eq!(usable_from(4, Some(8.0)), 4);
        assert_eq!(usable_from(4, None), 4);
    }

    #[test]
    fn this_process_has_usable_cpus() {
        let info = CpuInfo::current();
        assert!(info.usable >= 1);
        assert!(info.usable <= info.allowed.len());
        assert_eq!(info.usable, usable_from(info.allowed.len(), info.quota));
        // The affinity mask holds online CPUs only, so never more than the
        // machine has.
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
        let online = platform::parse_cpu_list(&online).unwrap();
        assert_eq!(info.total, online.len());
        assert!(
            info.allowed.iter().all(|cpu| online.contains(cpu)),
            "{:?} not within the online {online:?}",
            info.allowed
        );
        assert!(info.allowed.len() <= info.total, "{info:?}");
    }
}
