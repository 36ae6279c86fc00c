//! The settings of a [`DummyMp`]: the process cap, the priority mode, where
//! output goes, callbacks, the kill grace period, the worker program and
//! the launcher.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::launch::Launcher;
use crate::priority::Priority;
use crate::report::Progress;
use crate::scheduler::Scheduler;
use crate::task::OutputMode;

use super::DummyMp;

impl DummyMp {
    /// Caps the number of tasks running at once, in every priority mode
    /// (0: no cap beyond the CPUs).
    pub fn set_max_processes(&mut self, max_processes: usize) {
        self.engine.scheduler_mut().set_max_processes(max_processes);
    }

    /// The process cap (0: none).
    pub fn max_processes(&self) -> usize {
        self.engine.scheduler().max_processes()
    }

    /// Sets how considerate scheduling is of other processes.
    pub fn set_priority_mode(&mut self, priority: Priority) {
        self.engine.scheduler_mut().set_priority(priority);
    }

    /// The priority mode.
    pub fn priority_mode(&self) -> Priority {
        self.engine.scheduler().priority()
    }

    /// CPUs available to new tasks under the priority mode: every usable
    /// CPU in `Nuclear`, else those foreign load leaves free. Blocks for one
    /// sampling interval (0.1 s to 0.5 s) unless a fresh measurement exists;
    /// the result also serves the next scheduling decisions.
    pub fn cpu_avail(&mut self) -> usize {
        self.engine.scheduler_mut().available_cpus()
    }

    /// CPUs on the machine.
    pub fn total_cpus(&self) -> usize {
        self.engine.scheduler().cpu_info().total
    }

    /// CPUs this process may use (affinity and cgroup quota applied).
    pub fn usable_cpus(&self) -> usize {
        self.engine.scheduler().cpu_info().usable
    }

    /// The scheduler, to inspect its latest load measurement.
    pub fn scheduler(&self) -> &Scheduler {
        self.engine.scheduler()
    }

    /// Calls `callback` with `(completed, running, total)` each time a task
    /// starts.
    pub fn set_start_callback(&mut self, callback: impl FnMut(Progress) + Send + 'static) {
        self.on_start = Some(Box::new(callback));
    }

    /// Calls `callback` with `(completed, running, total)` each time a task
    /// ends, whatever its outcome.
    pub fn set_end_callback(&mut self, callback: impl FnMut(Progress) + Send + 'static) {
        self.on_end = Some(Box::new(callback));
    }

    /// Chooses what happens to the standard output and error of the tasks
    /// queued from now on.
    pub fn set_output_mode(&mut self, mode: OutputMode) {
        self.output_mode = mode;
    }

    /// The output mode.
    pub fn output_mode(&self) -> OutputMode {
        self.output_mode
    }

    /// How long [`killall`](DummyMp::killall) (and a timeout, or
    /// [`kill`](DummyMp::kill)) waits for tasks to end after `SIGTERM`
    /// before it sends `SIGKILL` (default: one second).
    pub fn set_kill_grace(&mut self, grace: Duration) {
        self.engine.set_kill_grace(grace);
    }

    /// The kill grace period.
    pub fn kill_grace(&self) -> Duration {
        self.engine.kill_grace()
    }

    /// Whether workers run task after task (`true`) instead of one fresh
    /// process per task (`false`, the default).
    ///
    /// Reused workers make short tasks much cheaper (no process start per
    /// task). What changes: the tasks of one worker share its process, so
    /// global state, threads and children a task leaves behind are still
    /// there for the next task it runs, and a task's end no longer kills
    /// what it left in the process group. A task that crashes its worker,
    /// times out or is killed ends that worker only; the next task gets a
    /// fresh one. Idle workers live until [`killall`](DummyMp::killall),
    /// [`reset`](DummyMp::reset), this setting turned off, or the instance
    /// dropped; they cost memory, not CPU.
    ///
    /// ```
    /// # dummymp::init();
    /// fn pid((): ()) -> u32 { std::process::id() }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_reuse_workers(true);
    /// mp.set_max_processes(1);
    /// for _ in 0..3 {
    ///     mp.run(pid, ())?;
    /// }
    /// mp.process_until_done()?;
    /// let pids = mp.returns::<u32>();
    /// assert!(pids.values().all(|p| *p == pids[&0]), "one worker ran all three");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_reuse_workers(&mut self, reuse: bool) {
        self.engine.set_reuse_workers(reuse);
    }

    /// Whether workers are reused.
    pub fn reuse_workers(&self) -> bool {
        self.engine.reuse_workers()
    }

    /// Where tasks are started (default: [`Launcher::Local`]).
    pub fn set_launcher(&mut self, launcher: Launcher) {
        self.engine.set_launcher(launcher);
    }

    /// The launcher.
    pub fn launcher(&self) -> &Launcher {
        self.engine.launcher()
    }

    /// Starts workers from `program` instead of the running executable
    /// (`None`: back to the running executable). The program must be the
    /// same build as this one, for instance a copy on a shared file system:
    /// a worker from any other executable refuses to run, and its task ends
    /// with [`Outcome::Failed`](crate::Outcome::Failed).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] when `program` is not an executable file;
    /// the setting is left as it was.
    pub fn set_worker_program(&mut self, program: Option<PathBuf>) -> Result<(), Error> {
        if let Some(path) = &program {
            let invalid = |reason: String| Error::InvalidSetting {
                setting: "worker program",
                reason: format!("{}: {reason}", path.display()),
            };
            let metadata = std::fs::metadata(path).map_err(|e| invalid(e.to_string()))?;
            let executable =
                std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111;
            if !metadata.is_file() || executable == 0 {
                return Err(invalid("not an executable file".to_string()));
            }
        }
        self.engine.set_worker_program(program);
        Ok(())
    }
}
