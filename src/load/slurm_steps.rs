//! The processes of a Slurm job's steps on this machine.
//!
//! A step's processes are not our descendants: on each node Slurm starts
//! them under a `slurmstepd` of the step, whose title says which step it
//! runs (`slurmstepd: [27.2]`, or `[27.batch]` for the batch script and
//! `[27.extern]` for Slurm's own), and gives them the step's identity in
//! their environment (`SLURM_JOB_ID`, `SLURM_STEP_ID`). The first tells
//! every descendant of the step's `slurmstepd`, as Slurm's own process
//! tracking does; the second also a process that left that tree (a
//! daemon that re-parented itself).

use crate::platform::{self, ProcessSample, ProcessTable};

/// The longest `slurmstepd` title read.
const TITLE_LIMIT: usize = 256;

/// What a process titled `title` runs when it is a `slurmstepd`: its job,
/// and its step when that is one started by `srun` (not the batch script,
/// `extern` or `interactive`).
pub(crate) fn stepd_title(title: &[u8]) -> Option<(u64, Option<u64>)> {
    let rest = title.strip_prefix(b"slurmstepd: [")?;
    let end = rest.iter().position(|&b| b == b']')?;
    let inside = std::str::from_utf8(&rest[..end]).ok()?;
    let (job, step) = inside.split_once('.')?;
    // A component of a heterogeneous job: `27.2+0`.
    let step = step.split('+').next()?;
    Some((job.parse().ok()?, step.parse().ok()))
}

/// The job and step of `slurmstepd` process `pid`, as
/// [`stepd_title`] reads its title.
pub(crate) fn stepd_of(pid: i32) -> Option<(u64, Option<u64>)> {
    stepd_title(&platform::command_line(pid, TITLE_LIMIT)?)
}

/// Whether process `pid` says, in the environment it started with, that
/// it belongs to a step (not the batch script) of a job for which
/// `is_ours` holds.
pub(crate) fn in_step_of_job_by_environment(pid: i32, is_ours: impl Fn(u64) -> bool) -> bool {
    let number = |name: &[u8]| -> Option<u64> {
        let value = platform::environment_variable(pid, name)?;
        std::str::from_utf8(&value).ok()?.trim().parse().ok()
    };
    number(b"SLURM_JOB_ID").is_some_and(is_ours) && number(b"SLURM_STEP_ID").is_some()
}

/// The processes of step `job.step` on this machine: its `slurmstepd`'s
/// descendants.
pub(crate) fn processes_of_step(job: u64, step: u64) -> std::io::Result<Vec<i32>> {
    let mut table = Vec::new();
    ProcessTable::new().scan(&mut table)?;
    Ok(descendants(&table, |sample| {
        sample.name.as_bytes() == b"slurmstepd" && stepd_of(sample.pid) == Some((job, Some(step)))
    }))
}

/// The processes of `table` that descend from one for which `root` holds
/// (not counting that one).
fn descendants(table: &[ProcessSample], root: impl Fn(&ProcessSample) -> bool) -> Vec<i32> {
    let mut found: Vec<i32> = table.iter().filter(|p| root(p)).map(|p| p.pid).collect();
    let roots = found.len();
    // Parents come before their children in pid order only usually (pids
    // wrap): go over the table until nothing is added.
    loop {
        let before = found.len();
        for sample in table {
            if found.contains(&sample.ppid) && !found.contains(&sample.pid) {
                found.push(sample.pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.split_off(roots)
}

/// Stand-ins for the processes of Slurm steps, for the tests here and in
/// `load::own`: orphans started by a shell that exits at once (none is a
/// descendant of the test), some of them titled as a `slurmstepd`.
#[cfg(test)]
pub(crate) mod stand_ins {
    use crate::platform;

    /// Processes that are killed when this is dropped.
    pub(crate) struct Orphans {
        pub pids: Vec<i32>,
        _dir: tempfile::TempDir,
    }

    impl Orphans {
        /// Kills `pids` too when dropped.
        pub(crate) fn adopt(&mut self, pids: impl IntoIterator<Item = i32>) {
            self.pids.extend(pids);
        }
    }

    impl Drop for Orphans {
        fn drop(&mut self) {
            for &pid in &self.pids {
                let _ = platform::signal_process(pid as u32, rustix::process::Signal::KILL);
            }
        }
    }

    /// Starts one orphan per line of `commands`, in the background, in
    /// that order; `{stepd}` in a line is a shell the kernel names
    /// `slurmstepd` (start it with `exec -a 'slurmstepd: [JOB.STEP]'`).
    pub(crate) fn start(commands: &[&str]) -> Orphans {
        let dir = tempfile::tempdir().unwrap();
        // A link, not a copy: a copy being written may be inherited by a
        // process another test forks meanwhile, and fail to run (ETXTBSY);
        // the kernel names a process after the path it was started by.
        let stepd = dir.path().join("slurmstepd");
        std::os::unix::fs::symlink("/bin/sh", &stepd).unwrap();
        let stepd = stepd.display().to_string();
        let script: String = commands
            .iter()
            .map(|line| {
                format!(
                    "{} >/dev/null 2>&1 & echo $!; ",
                    line.replace("{stepd}", &stepd)
                )
            })
            .collect();
        let output = std::process::Command::new("bash")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let pids = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        Orphans { pids, _dir: dir }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ProcessName;

    #[test]
    fn slurmstepd_titles() {
        assert_eq!(stepd_title(b"slurmstepd: [30.0]    "), Some((30, Some(0))));
        assert_eq!(stepd_title(b"slurmstepd: [7.12+0]"), Some((7, Some(12))));
        assert_eq!(stepd_title(b"slurmstepd: [26.batch]"), Some((26, None)));
        assert_eq!(stepd_title(b"slurmstepd: [26.extern]"), Some((26, None)));
        assert_eq!(stepd_title(b"slurmstepd"), None);
        assert_eq!(stepd_title(b"sleep\x0030"), None);
        assert_eq!(stepd_title(b"slurmstepd: [x.1]"), None);
    }

    // The processes of step 77.3 on this machine: those under its
    // slurmstepd (a stand-in: a shell started by that title, not ours).
    #[test]
    fn the_processes_of_a_step_are_found_under_its_slurmstepd() {
        let mut stepds = stand_ins::start(&[
            "(exec -a 'slurmstepd: [77.3]' {stepd} -c 'sleep 60; :')",
            "(exec -a 'slurmstepd: [77.4]' {stepd} -c 'sleep 60; :')",
        ]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let (mine, other) = loop {
            let mine = processes_of_step(77, 3).unwrap();
            let other = processes_of_step(77, 4).unwrap();
            if !mine.is_empty() && !other.is_empty() {
                break (mine, other);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the stand-ins did not start: {mine:?} {other:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        stepds.adopt(mine.iter().chain(&other).copied());
        let parent = |pid: i32| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
        };
        let parents: Vec<_> = mine.iter().map(|&pid| parent(pid)).collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(other.len(), 1, "{other:?}");
        assert_ne!(mine, other);
        assert_eq!(parents, [Some(stepds.pids[0])]);
    }

    #[test]
    fn descendants_of_a_root_whatever_the_pid_order() {
        let sample = |pid, ppid| ProcessSample {
            pid,
            name: ProcessName::from_bytes(if pid == 50 { b"root" } else { b"p" }),
            ppid,
            pgrp: pid,
            runnable: false,
            cpu_ticks: 0,
            start_ticks: 0,
            waited_ns: None,
        };
        // 50 is the root; 7 is its grandchild through 60 (pids wrapped).
        let table = [
            sample(1, 0),
            sample(7, 60),
            sample(50, 1),
            sample(60, 50),
            sample(70, 1),
        ];
        let mut found = descendants(&table, |p| p.name.as_bytes() == b"root");
        found.sort_unstable();
        assert_eq!(found, [7, 60]);
    }
}
