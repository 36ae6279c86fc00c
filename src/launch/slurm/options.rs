//! [`SlurmOptions`]: how tasks become Slurm job steps, and the allocation
//! they share.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::allocation::SlurmAllocation;
use crate::error::Error;

/// How the Slurm launcher starts tasks: each one as a job step,
/// `srun --exact --ntasks=1 --cpus-per-task=<c> ... -- <program>`, of the
/// allocation this program runs in (or, outside any allocation, as a job
/// of its own).
///
/// Made with [`SlurmOptions::from_env`], which reads the allocation from
/// the variables Slurm sets (`SLURM_JOB_ID`, `SLURM_JOB_CPUS_PER_NODE`,
/// `SLURM_NTASKS`, `SLURM_CPUS_PER_TASK`) and checks that `srun` can be
/// found; the builder methods adjust it. Hand it to
/// [`DummyMp::set_launcher`](crate::DummyMp::set_launcher) as
/// [`Launcher::Slurm`](crate::Launcher::Slurm). See `docs/slurm.md` for
/// what happens on the nodes.
///
/// ```no_run
/// use dummymp::{DummyMp, Launcher, SlurmOptions};
///
/// let slurm = SlurmOptions::from_env()?.job_name("render").cpus_per_task(2);
/// println!("{:?} tasks at once", slurm.concurrent_tasks());
/// let mut mp = DummyMp::new();
/// mp.set_launcher(Launcher::Slurm(slurm));
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmOptions {
    pub(crate) srun: PathBuf,
    pub(crate) job_name: Option<String>,
    pub(crate) cpus_per_task: Option<u32>,
    pub(crate) srun_args: Vec<OsString>,
    pub(crate) allocation: Option<SlurmAllocation>,
}

impl SlurmOptions {
    /// Options for the allocation this process runs in (none when
    /// `SLURM_JOB_ID` is not set: each task is then a job of its own), with
    /// `srun` from `PATH`, no job name of our own, and as many CPUs per task
    /// as the allocation's `--cpus-per-task` (1 when not given).
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// let slurm = SlurmOptions::from_env()?;
    /// match slurm.job_id() {
    ///     Some(job) => println!("steps of job {job}, {:?} at once", slurm.concurrent_tasks()),
    ///     None => println!("outside an allocation: each task is a job of its own"),
    /// }
    /// assert!(slurm.get_cpus_per_task() >= 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] when `srun` is not on `PATH` (not a Slurm
    /// machine), or when the Slurm variables of the environment are
    /// inconsistent.
    pub fn from_env() -> Result<SlurmOptions, Error> {
        let srun = find_on_path("srun", std::env::var_os("PATH").as_deref()).ok_or_else(|| {
            invalid("srun is not on PATH: is this a machine of a Slurm cluster?".to_string())
        })?;
        let allocation = SlurmAllocation::from_env(|name| std::env::var(name).ok())
            .map_err(|e| invalid(e.to_string()))?;
        Ok(SlurmOptions {
            srun,
            job_name: None,
            cpus_per_task: None,
            srun_args: Vec::new(),
            allocation,
        })
    }

    /// Names every step (or job) `name` (`srun --job-name`), as `squeue`
    /// shows it; without it Slurm names a step after its program.
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// let slurm = SlurmOptions::from_env()?.job_name("render");
    /// assert_eq!(slurm.get_job_name(), Some("render"));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn job_name(mut self, name: impl Into<String>) -> SlurmOptions {
        self.job_name = Some(name.into());
        self
    }

    /// How many CPUs each task asks for (at least 1); a task whose
    /// [`TaskOptions::cpus`](crate::TaskOptions::cpus) is larger asks for
    /// that many. The number of tasks that run at once is sized for it.
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// assert_eq!(SlurmOptions::from_env()?.cpus_per_task(4).get_cpus_per_task(), 4);
    /// assert_eq!(SlurmOptions::from_env()?.cpus_per_task(0).get_cpus_per_task(), 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn cpus_per_task(mut self, cpus: u32) -> SlurmOptions {
        self.cpus_per_task = Some(cpus.max(1));
        self
    }

    /// Passes `arg` to every `srun` (before the program), for instance
    /// `--partition=short` or `--time=10` outside an allocation. Options
    /// that change the number of tasks or the standard streams break the
    /// launcher, and `--quiet` makes `srun` refuse to run (the launcher
    /// passes `--verbose`: it reads what `srun` says of the step).
    ///
    /// ```no_run
    /// use dummymp::{DummyMp, Launcher, SlurmOptions};
    /// let slurm = SlurmOptions::from_env()?.srun_arg("--partition=short").srun_arg("--time=10");
    /// assert_ne!(slurm, SlurmOptions::from_env()?);
    /// let mut mp = DummyMp::new();
    /// mp.set_launcher(Launcher::Slurm(slurm));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn srun_arg(mut self, arg: impl Into<OsString>) -> SlurmOptions {
        self.srun_args.push(arg.into());
        self
    }

    /// Starts steps with this `srun` instead of the one on `PATH`.
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// let slurm = SlurmOptions::from_env()?.srun_program("/opt/slurm/bin/srun");
    /// assert_ne!(slurm, SlurmOptions::from_env()?);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn srun_program(mut self, srun: impl Into<PathBuf>) -> SlurmOptions {
        self.srun = srun.into();
        self
    }

    /// The job name given to steps, if any.
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// assert_eq!(SlurmOptions::from_env()?.get_job_name(), None);
    /// assert_eq!(SlurmOptions::from_env()?.job_name("render").get_job_name(), Some("render"));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn get_job_name(&self) -> Option<&str> {
        self.job_name.as_deref()
    }

    /// CPUs each task asks for at least.
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// let slurm = SlurmOptions::from_env()?; // the allocation's --cpus-per-task, or 1
    /// println!("each task asks for {} CPUs", slurm.get_cpus_per_task());
    /// assert_eq!(slurm.cpus_per_task(2).get_cpus_per_task(), 2);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn get_cpus_per_task(&self) -> u32 {
        self.cpus_per_task.unwrap_or_else(|| {
            self.allocation
                .as_ref()
                .map_or(1, SlurmAllocation::default_cpus_per_task)
        })
    }

    /// The id of the job whose allocation steps run in (`None`: outside
    /// any allocation).
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// let slurm = SlurmOptions::from_env()?;
    /// assert_eq!(slurm.job_id().is_some(), std::env::var_os("SLURM_JOB_ID").is_some());
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn job_id(&self) -> Option<u64> {
        self.allocation.as_ref().map(|a| a.job_id)
    }

    /// How many tasks of [`get_cpus_per_task`](Self::get_cpus_per_task)
    /// CPUs fit in the allocation at once, all its nodes together (`None`:
    /// outside any allocation). At least 1: a task too large for every node
    /// is still tried once, and Slurm's refusal reported.
    ///
    /// ```no_run
    /// use dummymp::SlurmOptions;
    /// let slurm = SlurmOptions::from_env()?.cpus_per_task(4);
    /// match slurm.concurrent_tasks() {
    ///     Some(n) => assert!(n >= 1, "at least one task is tried"),
    ///     None => assert_eq!(slurm.job_id(), None), // outside an allocation
    /// }
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn concurrent_tasks(&self) -> Option<usize> {
        let allocation = self.allocation.as_ref()?;
        let fit = allocation
            .concurrent_workers(self.get_cpus_per_task())
            .unwrap_or(1);
        Some(usize::try_from(fit).unwrap_or(usize::MAX).max(1))
    }

    /// The `scancel` next to this `srun` (else the one on `PATH`).
    pub(crate) fn scancel(&self) -> PathBuf {
        match self.srun.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && dir.join("scancel").is_file() => {
                dir.join("scancel")
            }
            _ => PathBuf::from("scancel"),
        }
    }

    /// The CPUs a step asks for, for a task that needs `task_cpus`.
    pub(crate) fn step_cpus(&self, task_cpus: usize) -> usize {
        task_cpus.max(self.get_cpus_per_task() as usize)
    }

    /// Whether a step of `cpus` CPUs may start while steps holding
    /// `cpus_in_use` run: always outside an allocation and when none runs,
    /// else when the allocation has that many CPUs left, all nodes
    /// together (Slurm holds a step that fits on no single node until one
    /// has room).
    pub(crate) fn has_room_for(&self, cpus_in_use: usize, cpus: usize) -> bool {
        match &self.allocation {
            Some(allocation) if cpus_in_use > 0 => {
                let total = usize::try_from(allocation.total_cpus()).unwrap_or(usize::MAX);
                cpus_in_use.saturating_add(cpus) <= total
            }
            _ => true,
        }
    }

    /// Options for tests: `srun` from wherever, and the allocation given.
    #[cfg(test)]
    pub(crate) fn for_tests(allocation: Option<SlurmAllocation>) -> SlurmOptions {
        SlurmOptions {
            srun: PathBuf::from("srun"),
            job_name: None,
            cpus_per_task: None,
            srun_args: Vec::new(),
            allocation,
        }
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidSetting {
        setting: "Slurm launcher",
        reason,
    }
}

/// The first executable file called `program` in the directories of
/// `path` (a `PATH` value).
fn find_on_path(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocation(vars: &[(&str, &str)]) -> Option<SlurmAllocation> {
        SlurmAllocation::from_env(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
        .unwrap()
    }

    #[test]
    fn outside_an_allocation_nothing_is_sized() {
        let options = SlurmOptions::for_tests(None);
        assert_eq!(options.job_id(), None);
        assert_eq!(options.concurrent_tasks(), None);
        assert_eq!(options.get_cpus_per_task(), 1);
        assert!(options.has_room_for(1000, 64));
    }

    #[test]
    fn the_allocation_sizes_tasks_and_cpus_per_task() {
        let two_nodes = allocation(&[
            ("SLURM_JOB_ID", "42"),
            ("SLURM_JOB_CPUS_PER_NODE", "5(x2)"),
            ("SLURM_CPUS_PER_TASK", "2"),
        ]);
        let options = SlurmOptions::for_tests(two_nodes);
        assert_eq!(options.job_id(), Some(42));
        assert_eq!(options.get_cpus_per_task(), 2, "from --cpus-per-task");
        assert_eq!(options.concurrent_tasks(), Some(4), "2 per node of 5");
        assert_eq!(options.step_cpus(1), 2);
        assert_eq!(options.step_cpus(3), 3, "a wider task asks for more");
        let one_each = options.clone().cpus_per_task(1);
        assert_eq!(one_each.concurrent_tasks(), Some(10));
        let too_wide = options.cpus_per_task(8);
        assert_eq!(too_wide.concurrent_tasks(), Some(1), "still tried once");
    }

    #[test]
    fn room_counts_the_cpus_of_the_whole_allocation() {
        let options = SlurmOptions::for_tests(allocation(&[
            ("SLURM_JOB_ID", "7"),
            ("SLURM_JOB_CPUS_PER_NODE", "2"),
        ]));
        assert!(options.has_room_for(0, 2));
        assert!(
            options.has_room_for(0, 64),
            "nothing runs: let Slurm refuse it"
        );
        assert!(options.has_room_for(1, 1));
        assert!(!options.has_room_for(1, 2));
        assert!(!options.has_room_for(2, 1));
    }

    #[test]
    fn srun_is_looked_up_on_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        assert_eq!(find_on_path("srun", Some(&path)), None);
        assert_eq!(find_on_path("srun", None), None);
        let sh = find_on_path("sh", std::env::var_os("PATH").as_deref());
        assert!(sh.is_some_and(|p| p.is_absolute()));
    }
}
