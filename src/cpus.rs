//! CPU counts: how many CPUs the machine has, and how many of them this
//! process may use once CPU affinity (`taskset`, Slurm, cpusets) and cgroup
//! CPU quotas (containers, systemd slices) are taken into account.

use std::fmt;

use crate::platform;

/// A set of CPU ids, as used by CPU affinity masks.
///
/// ```
/// use dummymp::CpuSet;
/// let a = CpuSet::from_ids([0, 1, 2, 3]);
/// let b = CpuSet::from_ids([2, 3, 4]);
/// assert_eq!(a.len(), 4);
/// assert_eq!(a.intersection_len(&b), 2);
/// assert!(b.contains(4));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CpuSet {
    words: Vec<u64>,
}

impl CpuSet {
    /// The set of the given CPU ids.
    pub fn from_ids(ids: impl IntoIterator<Item = usize>) -> Self {
        let mut set = CpuSet::default();
        for id in ids {
            let word = id / 64;
            if set.words.len() <= word {
                set.words.resize(word + 1, 0);
            }
            set.words[word] |= 1 << (id % 64);
        }
        set
    }

    /// Number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set holds no CPU.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        self.words
            .get(cpu / 64)
            .is_some_and(|w| w & (1 << (cpu % 64)) != 0)
    }

    /// Number of CPUs in both sets.
    pub fn intersection_len(&self, other: &CpuSet) -> usize {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// The CPUs in both sets.
    pub(crate) fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(a, b)| a & b)
                .collect(),
        }
    }

    /// Adds the CPUs of `other` to the set.
    pub(crate) fn add_all(&mut self, other: &CpuSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (word, more) in self.words.iter_mut().zip(&other.words) {
            *word |= more;
        }
    }

    /// The CPU ids in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |bit| w & (1 << bit) != 0)
                .map(move |bit| i * 64 + bit)
        })
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

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
    fn sets() {
        let set = CpuSet::from_ids([0, 5, 64, 130]);
        assert_eq!(set.len(), 4);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 5, 64, 130]);
        assert!(set.contains(64) && !set.contains(63));
        assert_eq!(set.intersection_len(&CpuSet::from_ids([5, 130, 7])), 2);
        assert_eq!(format!("{set:?}"), "{0, 5, 64, 130}");
    }

    #[test]
    fn this_process_has_usable_cpus() {
        let info = CpuInfo::current();
        assert!(info.usable >= 1);
        assert!(info.usable <= info.allowed.len());
        assert!(info.allowed.len() <= info.total.max(info.allowed.len()));
    }
}
