//! Which processes are ours, and so never foreign load: this process, its
//! descendants, whatever is left in the process group of one of our
//! tasks, and the processes of our Slurm job's steps on this node.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::slurm_steps;
use crate::platform::ProcessSample;

/// The processes that belong to us and never count as foreign load: this
/// process, all of its descendants, every process still in the process
/// group of one of our running tasks (a task's child that was re-parented
/// after its parent exited stays in that group), and, once a Slurm job's
/// steps run our tasks (the Slurm launcher in an allocation), every
/// process of that job's steps on this node (descendants of the step's
/// `slurmstepd`, or processes whose environment names a step of the job):
/// on the node where the batch script runs, our tasks' steps are not our
/// descendants.
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
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    groups: HashSet<i32>,
    /// Slurm jobs whose steps' processes are ours.
    slurm_jobs: HashSet<u64>,
    /// What the environment said of processes (by pid and start time),
    /// so that it is read once per process.
    by_environment: HashMap<(i32, u64), bool>,
}

/// How many verdicts from environments are kept before they are forgotten.
const ENVIRONMENT_VERDICTS: usize = 4096;

impl Default for OwnProcesses {
    fn default() -> Self {
        OwnProcesses {
            root: std::process::id() as i32,
            inner: Arc::default(),
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
        self.lock().groups.insert(pgid as i32);
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
        self.lock().groups.remove(&(pgid as i32));
    }

    /// Counts the processes of Slurm job `job`'s steps (not its batch
    /// script) on this node as ours.
    pub(crate) fn add_slurm_job(&self, job: u64) {
        self.lock().slurm_jobs.insert(job);
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
        let mut groups: Vec<u32> = self.lock().groups.iter().map(|&g| g as u32).collect();
        groups.sort_unstable();
        groups
    }

    /// This process's pid.
    pub(crate) fn root(&self) -> i32 {
        self.root
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells, process by process, which of `processes` (sorted by pid) are
    /// ours. Only the processes asked about, and their ancestors, are
    /// looked at.
    pub(crate) fn classify<'a>(&'a self, processes: &'a [ProcessSample]) -> Ownership<'a> {
        let inner = self.lock();
        Ownership {
            root: self.root,
            groups: inner.groups.clone(),
            slurm_jobs: inner.slurm_jobs.clone(),
            own: self,
            processes,
            verdicts: HashMap::new(),
            chain: Vec::new(),
        }
    }

    /// Whether the environment of `sample`'s process names a step of one
    /// of `jobs`; read once per process.
    fn in_step_by_environment(&self, sample: &ProcessSample, jobs: &HashSet<u64>) -> bool {
        let key = (sample.pid, sample.start_ticks);
        if let Some(&known) = self.lock().by_environment.get(&key) {
            return known;
        }
        let verdict =
            slurm_steps::in_step_of_job_by_environment(sample.pid, |job| jobs.contains(&job));
        let mut inner = self.lock();
        if inner.by_environment.len() >= ENVIRONMENT_VERDICTS {
            inner.by_environment.clear();
        }
        inner.by_environment.insert(key, verdict);
        verdict
    }
}

/// The answer of [`OwnProcesses::classify`], remembered as it is worked out.
pub(crate) struct Ownership<'a> {
    root: i32,
    groups: HashSet<i32>,
    slurm_jobs: HashSet<u64>,
    own: &'a OwnProcesses,
    processes: &'a [ProcessSample],
    verdicts: HashMap<i32, bool>,
    chain: Vec<i32>,
}

impl Ownership<'_> {
    /// Whether `pid` is ours: this process, in one of our task groups, a
    /// process of one of our Slurm job's steps, or a descendant of any of
    /// them. A process missing from the table is not.
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
            if !self.slurm_jobs.is_empty()
                && sample.name.as_bytes() == b"slurmstepd"
                && slurm_steps::stepd_of(current)
                    .is_some_and(|(job, step)| step.is_some() && self.slurm_jobs.contains(&job))
            {
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
        // A process that left its step's tree still says whose it is.
        if !ours
            && !self.slurm_jobs.is_empty()
            && let Some(sample) = find(self.processes, pid)
            && self.own.in_step_by_environment(sample, &self.slurm_jobs)
        {
            self.verdicts.insert(pid, true);
            return true;
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
        let own = OwnProcesses::new();
        let mut ownership = own.classify(&table);
        assert!(!ownership.is_ours(10));
    }

    // On the node the batch script runs on, our tasks' steps are children
    // of a `slurmstepd`, not ours: here, orphans made to look like them.
    #[test]
    fn the_processes_of_our_slurm_jobs_steps_are_ours() {
        let mut killed = crate::load::slurm_steps::stand_ins::start(&[
            "(exec -a 'slurmstepd: [77.3]' {stepd} -c 'sleep 60; :')",
            "(exec -a 'slurmstepd: [77.batch]' {stepd} -c 'sleep 60; :')",
            "(exec -a 'slurmstepd: [78.0]' {stepd} -c 'sleep 60; :')",
            "SLURM_JOB_ID=77 SLURM_STEP_ID=5 sleep 60",
            "SLURM_JOB_ID=77 sleep 60",
        ]);
        let pids = killed.pids.clone();
        let [step, batch, other_job, left_its_step, batch_script] = pids[..] else {
            panic!("{pids:?}");
        };
        // Each stepd's child, once it runs (no event tells).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut table = Vec::new();
        let children = loop {
            crate::platform::ProcessTable::new()
                .scan(&mut table)
                .unwrap();
            let child_of = |parent: i32| table.iter().find(|p| p.ppid == parent).map(|p| p.pid);
            let children: Vec<Option<i32>> =
                [step, batch, other_job].into_iter().map(child_of).collect();
            if let [Some(a), Some(b), Some(c)] = children[..] {
                break [a, b, c];
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the stand-ins did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        killed.adopt(children);
        let own = OwnProcesses::new();
        let mut ownership = own.classify(&table);
        for pid in [step, children[0], left_its_step] {
            assert!(!ownership.is_ours(pid), "{pid}: no Slurm job is ours yet");
        }
        own.add_slurm_job(77);
        let mut ownership = own.classify(&table);
        for pid in [step, children[0], left_its_step] {
            assert!(ownership.is_ours(pid), "{pid} is of step 77.3 or 77.5");
        }
        for pid in [batch, children[1], other_job, children[2], batch_script] {
            assert!(
                !ownership.is_ours(pid),
                "{pid} is a batch script's or job 78's"
            );
        }
    }
}
