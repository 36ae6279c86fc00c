//! Which processes are ours, and so never foreign load: this process, its
//! descendants, and whatever is left in the process group of one of our
//! tasks.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::platform::ProcessSample;

/// The processes that belong to us and never count as foreign load: this
/// process, all of its descendants, and every process still in the process
/// group of one of our running tasks (a task's child that was re-parented
/// after its parent exited stays in that group).
///
/// Cloning gives another handle to the same set.
///
/// ```
/// use dummymp::OwnProcesses;
/// let own = OwnProcesses::new();
/// let shared = own.clone();
/// own.add_group(4242);
/// assert_eq!(shared.groups(), vec![4242]);
/// shared.remove_group(4242);
/// assert!(own.groups().is_empty());
/// ```
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
    ///
    /// ```
    /// use dummymp::OwnProcesses;
    /// assert!(OwnProcesses::new().groups().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts every process of the group `pgid` as ours.
    ///
    /// ```
    /// use dummymp::OwnProcesses;
    /// let own = OwnProcesses::new();
    /// own.add_group(300);
    /// own.add_group(200);
    /// assert_eq!(own.groups(), [200, 300]);
    /// ```
    pub fn add_group(&self, pgid: u32) {
        self.lock().insert(pgid as i32);
    }

    /// Stops counting the group `pgid` as ours (its processes are gone).
    ///
    /// ```
    /// use dummymp::OwnProcesses;
    /// let own = OwnProcesses::new();
    /// own.add_group(300);
    /// own.remove_group(300);
    /// assert!(own.groups().is_empty());
    /// ```
    pub fn remove_group(&self, pgid: u32) {
        self.lock().remove(&(pgid as i32));
    }

    /// The process groups counted as ours now, in increasing order. A task
    /// runs in a group of its own whose id is the pid of the task's first
    /// process.
    ///
    /// ```
    /// use dummymp::OwnProcesses;
    /// let own = OwnProcesses::new();
    /// own.add_group(7);
    /// assert_eq!(own.groups(), [7]);
    /// ```
    pub fn groups(&self) -> Vec<u32> {
        let mut groups: Vec<u32> = self.lock().iter().map(|&g| g as u32).collect();
        groups.sort_unstable();
        groups
    }

    /// This process's pid.
    pub(crate) fn root(&self) -> i32 {
        self.root
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells, process by process, which of `processes` (sorted by pid) are
    /// ours. Only the processes asked about, and their ancestors, are
    /// looked at.
    pub(crate) fn classify<'a>(&self, processes: &'a [ProcessSample]) -> Ownership<'a> {
        Ownership {
            root: self.root,
            groups: self.lock().clone(),
            processes,
            verdicts: HashMap::new(),
            chain: Vec::new(),
        }
    }
}

/// The answer of [`OwnProcesses::classify`], remembered as it is worked out.
pub(crate) struct Ownership<'a> {
    root: i32,
    groups: HashSet<i32>,
    processes: &'a [ProcessSample],
    verdicts: HashMap<i32, bool>,
    chain: Vec<i32>,
}

impl Ownership<'_> {
    /// Whether `pid` is ours: this process, in one of our task groups, or a
    /// descendant of either. A process missing from the table is not.
    pub(crate) fn is_ours(&mut self, pid: i32) -> bool {
        self.chain.clear();
        let mut current = pid;
        let ours = loop {
            if let Some(&known) = self.verdicts.get(&current) {
                break known;
            }
            if current == self.root {
                break true;
            }
            let Some(sample) = find(self.processes, current) else {
                break false;
            };
            self.chain.push(current);
            if self.groups.contains(&sample.pgrp) {
                break true;
            }
            if sample.ppid <= 0 || sample.ppid == current || self.chain.len() >= 4096 {
                break false;
            }
            current = sample.ppid;
        };
        for &pid in &self.chain {
            self.verdicts.insert(pid, ours);
        }
        ours
    }
}

/// The sample of `pid` in a table sorted by pid.
fn find(processes: &[ProcessSample], pid: i32) -> Option<&ProcessSample> {
    processes
        .binary_search_by_key(&pid, |p| p.pid)
        .ok()
        .map(|i| &processes[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ProcessName;

    fn proc(pid: i32, ppid: i32, pgrp: i32) -> ProcessSample {
        ProcessSample {
            pid,
            name: ProcessName::from_bytes(b"p"),
            ppid,
            pgrp,
            runnable: true,
            cpu_ticks: 0,
            start_ticks: 0,
            waited_ns: None,
        }
    }

    #[test]
    fn descendants_and_task_groups_are_ours() {
        let me = std::process::id() as i32;
        let own = OwnProcesses::new();
        own.add_group(7001);
        let mut table = vec![
            proc(7001, me, 7001),   // a worker
            proc(7002, 7001, 7001), // its child
            proc(7003, 7002, 7003), // a grandchild in its own group
            proc(7004, 1, 7001),    // an orphan left in a task's group
            proc(7005, 1, 7005),    // foreign
            proc(7006, 7005, 7005), // foreign's child
            proc(1, 0, 1),
        ];
        table.sort_by_key(|p| p.pid);
        let mut ownership = own.classify(&table);
        for pid in [7001, 7002, 7003, 7004, me] {
            assert!(ownership.is_ours(pid), "{pid}");
        }
        for pid in [7005, 7006, 1, 99999] {
            assert!(!ownership.is_ours(pid), "{pid}");
        }
        own.remove_group(7001);
        let mut ownership = own.classify(&table);
        assert!(
            !ownership.is_ours(7004),
            "the orphan is foreign once the group is gone"
        );
        assert!(ownership.is_ours(7003), "still a descendant");
    }

    #[test]
    fn a_parent_loop_ends() {
        let table = vec![proc(10, 11, 10), proc(11, 10, 11)];
        let mut ownership = OwnProcesses::new().classify(&table);
        assert!(!ownership.is_ours(10));
    }
}
