//! The settings of a [`DummyMp`]: the capacity, the process cap, the
//! priority mode, where output goes, callbacks, the kill grace period, the
//! niceness of tasks, the delay between starts, the memory a task needs,
//! the default task options (timeout, retries), the worker program and the
//! launcher; and the CPU counts they work with. Each is what the
//! command-line tool sets with one of its options (see `docs/cli.md`), under
//! one name.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::launch::Launcher;
use crate::priority::Priority;
use crate::scheduler::Scheduler;
use crate::task::{OutputMode, Progress, TaskOptions};

use super::DummyMp;

impl DummyMp {
    /// Caps the number of tasks running at once, in every priority mode
    /// (0: no cap beyond the CPUs). The cap only ever holds tasks back: on
    /// a 2-CPU machine, `set_max_processes(8)` still runs 2 at once; to run
    /// more tasks than CPUs, raise the [capacity](DummyMp::set_capacity).
    ///
    /// ```
    /// # dummymp::init();
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// fn nap(ms: u64) { std::thread::sleep(std::time::Duration::from_millis(ms)) }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_max_processes(1);
    /// let most = Arc::new(AtomicUsize::new(0));
    /// let seen = Arc::clone(&most);
    /// mp.set_start_callback(move |p| { seen.fetch_max(p.running, Ordering::Relaxed); });
    /// mp.run_many(nap, [10, 10, 10])?;
    /// mp.process_until_done()?;
    /// assert_eq!(most.load(Ordering::Relaxed), 1);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_max_processes(&mut self, max_processes: usize) {
        self.engine.scheduler_mut().set_max_processes(max_processes);
    }

    /// The process cap (0: none).
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.max_processes(), 0);
    /// mp.set_max_processes(4);
    /// assert_eq!(mp.max_processes(), 4);
    /// ```
    pub fn max_processes(&self) -> usize {
        self.engine.scheduler().max_processes()
    }

    /// Sets how many tasks may run at once on an otherwise idle machine
    /// (0, the default: one per usable CPU, right for tasks that keep a CPU
    /// busy). Tasks that mostly wait (for the network, the disk, a sleep)
    /// can run many more: `set_capacity(8)` runs 8 at once on 2 CPUs. This
    /// is the command-line tool's `-j 8`.
    ///
    /// The priority modes still count foreign load: in every mode but
    /// [`Nuclear`](Priority::Nuclear), the CPUs that other processes keep
    /// busy are subtracted from the capacity. The process cap
    /// ([`set_max_processes`](DummyMp::set_max_processes)) still applies.
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_priority_mode(dummymp::Priority::Nuclear);
    /// mp.set_capacity(8);
    /// assert_eq!(mp.capacity(), 8);
    /// assert_eq!(mp.cpu_avail(), 8); // Nuclear: the capacity, whoever else runs
    /// ```
    pub fn set_capacity(&mut self, capacity: usize) {
        let capacity = (capacity > 0).then_some(capacity);
        self.engine.scheduler_mut().set_capacity(capacity);
    }

    /// The capacity (0: one task per usable CPU).
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.capacity(), 0);
    /// ```
    pub fn capacity(&self) -> usize {
        self.engine.scheduler().capacity().unwrap_or(0)
    }

    /// Sets how considerate scheduling is of other processes (see
    /// [`Priority`]).
    ///
    /// ```
    /// use dummymp::Priority;
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_priority_mode(Priority::Generous);
    /// assert_eq!(mp.priority_mode(), Priority::Generous);
    /// ```
    pub fn set_priority_mode(&mut self, priority: Priority) {
        self.engine.scheduler_mut().set_priority(priority);
    }

    /// The priority mode ([`Priority::Normal`] by default).
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.priority_mode(), dummymp::Priority::Normal);
    /// ```
    pub fn priority_mode(&self) -> Priority {
        self.engine.scheduler().priority()
    }

    /// How many tasks may start under the priority mode, the process cap
    /// aside: the [capacity](DummyMp::set_capacity) (one per usable CPU
    /// unless set) in `Nuclear`, else what foreign load leaves of it.
    /// Blocks for one sampling interval (0.1 s to 0.5 s) unless a fresh
    /// measurement exists; the result also serves the next scheduling
    /// decisions.
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new(); // Normal: measures
    /// assert!(mp.cpu_avail() <= mp.total_cpus());
    /// ```
    pub fn cpu_avail(&mut self) -> usize {
        self.engine.scheduler_mut().available_cpus()
    }

    /// CPUs this process may use: its CPU affinity mask (`taskset`, Slurm,
    /// cpusets), limited by any cgroup CPU quota (a container limited to 2
    /// CPUs on a 64-core host has 2). The number to size your own work by;
    /// the same as [`usable_cpus`](DummyMp::usable_cpus). The machine's
    /// count is [`machine_cpus`](DummyMp::machine_cpus).
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert!(1 <= mp.total_cpus() && mp.total_cpus() <= mp.machine_cpus());
    /// ```
    pub fn total_cpus(&self) -> usize {
        self.usable_cpus()
    }

    /// CPUs this process may use (affinity and cgroup quota applied); the
    /// same as [`total_cpus`](DummyMp::total_cpus).
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.usable_cpus(), dummymp::usable_cpus());
    /// ```
    pub fn usable_cpus(&self) -> usize {
        self.engine.scheduler().cpu_info().usable
    }

    /// CPUs online on the machine, whether this process may use them or
    /// not.
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert!(mp.machine_cpus() >= mp.usable_cpus());
    /// ```
    pub fn machine_cpus(&self) -> usize {
        self.engine.scheduler().cpu_info().total
    }

    /// The scheduler, to inspect its latest load measurement and decision.
    ///
    /// ```
    /// # dummymp::init();
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run_command(dummymp::Command::new("true"))?;
    /// mp.process_until_done()?;
    /// println!("{}", mp.scheduler().last_decision()); // why tasks started or waited
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn scheduler(&self) -> &Scheduler {
        self.engine.scheduler()
    }

    /// Calls `callback` with `(completed, running, total)` each time a task
    /// starts (the task counts as running). It runs on the thread that
    /// processes the queue, so it must not block for long.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::sync::{Arc, Mutex};
    /// let starts = Arc::new(Mutex::new(Vec::new()));
    /// let seen = Arc::clone(&starts);
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_max_processes(1);
    /// mp.set_start_callback(move |p| seen.lock().unwrap().push((p.completed, p.running, p.total)));
    /// mp.run_command(dummymp::Command::new("true"))?;
    /// mp.run_command(dummymp::Command::new("true"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(*starts.lock().unwrap(), [(0, 1, 2), (1, 1, 2)]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_start_callback(&mut self, callback: impl FnMut(Progress) + Send + 'static) {
        self.on_start = Some(Box::new(callback));
    }

    /// Calls `callback` with `(completed, running, total)` each time a task
    /// ends, whatever its outcome (the task counts as completed).
    ///
    /// ```
    /// # dummymp::init();
    /// use std::sync::{Arc, Mutex};
    /// let ends = Arc::new(Mutex::new(Vec::new()));
    /// let seen = Arc::clone(&ends);
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_end_callback(move |p| seen.lock().unwrap().push(p.completed));
    /// mp.run_command(dummymp::Command::new("false"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(*ends.lock().unwrap(), [1]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_end_callback(&mut self, callback: impl FnMut(Progress) + Send + 'static) {
        self.on_end = Some(Box::new(callback));
    }

    /// Chooses what happens to the standard output and error of the tasks
    /// queued from now on (see [`OutputMode`]).
    ///
    /// ```
    /// # dummymp::init();
    /// fn shout() { println!("HELLO"); }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_output_mode(dummymp::OutputMode::Captured);
    /// let task = mp.run(shout, ())?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(task).unwrap().stdout, b"HELLO\n");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_output_mode(&mut self, mode: OutputMode) {
        self.output_mode = mode;
    }

    /// The output mode ([`OutputMode::Tagged`] by default).
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.output_mode(), dummymp::OutputMode::Tagged);
    /// ```
    pub fn output_mode(&self) -> OutputMode {
        self.output_mode
    }

    /// How long [`killall`](DummyMp::killall) (and a timeout, or
    /// [`kill`](DummyMp::kill)) waits for tasks to end after `SIGTERM`
    /// before it sends `SIGKILL` (default: one second).
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_kill_grace(Duration::from_millis(100));
    /// // A command that ignores SIGTERM gets SIGKILL 0.1 s later.
    /// let stubborn = mp.run_command(dummymp::Command::shell("trap '' TERM; sleep 60"))?;
    /// mp.process_process()?;
    /// mp.killall();
    /// assert_eq!(mp.outcome(stubborn), Some(&dummymp::Outcome::Killed));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_kill_grace(&mut self, grace: Duration) {
        self.engine.set_kill_grace(grace);
    }

    /// The kill grace period.
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.kill_grace(), dummymp::DEFAULT_KILL_GRACE);
    /// ```
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
    /// dropped; they cost memory, not CPU. A worker whose tasks are short
    /// gets the next ones sent ahead, so that it never waits for this
    /// process between two (see [`set_tasks_ahead`](DummyMp::set_tasks_ahead)).
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
    /// let pids = mp.returns::<u32>()?;
    /// assert!(pids.values().all(|p| *p == pids[&0]), "one worker ran all three");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_reuse_workers(&mut self, reuse: bool) {
        self.engine.set_reuse_workers(reuse);
    }

    /// Whether workers are reused.
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// assert!(!mp.reuse_workers());
    /// mp.set_reuse_workers(true);
    /// assert!(mp.reuse_workers());
    /// ```
    pub fn reuse_workers(&self) -> bool {
        self.engine.reuse_workers()
    }

    /// How many queued tasks a reused worker may hold ahead of the one it
    /// runs: `None` (the default) decides by how long its tasks take (up
    /// to 32 for tasks of microseconds, none for tasks of a millisecond or
    /// more), `Some(0)` none, `Some(n)` up to `n` whatever they take.
    ///
    /// A task sent ahead still counts as queued until the task before it
    /// returns: then it starts (the start callback runs, its timeout
    /// begins). If its worker ends first (a crash, a timeout or a kill of
    /// the task it runs, [`killall`](DummyMp::killall)), it goes back to
    /// the queue and runs later, neither failed nor retried. See
    /// [`Engine::set_tasks_ahead`](crate::engine::Engine::set_tasks_ahead).
    ///
    /// ```
    /// # dummymp::init();
    /// fn double(x: u32) -> u32 { 2 * x }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_reuse_workers(true);
    /// mp.set_tasks_ahead(Some(4));
    /// mp.run_many(double, 0..100)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.returns::<u32>()?[&99], 198);
    /// assert_eq!(mp.tasks_ahead(), Some(4));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_tasks_ahead(&mut self, ahead: Option<usize>) {
        self.engine.set_tasks_ahead(ahead);
    }

    /// How many tasks a reused worker may hold ahead (see
    /// [`set_tasks_ahead`](DummyMp::set_tasks_ahead)): `None`, the
    /// default, lets the engine decide by each worker's pace.
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.tasks_ahead(), None);
    /// ```
    pub fn tasks_ahead(&self) -> Option<usize> {
        self.engine.tasks_ahead()
    }

    /// Where tasks are started (default: [`Launcher::Local`]).
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_launcher(dummymp::Launcher::Local);
    /// ```
    pub fn set_launcher(&mut self, launcher: Launcher) {
        self.engine.set_launcher(launcher);
    }

    /// The launcher.
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.launcher(), &dummymp::Launcher::Local);
    /// ```
    pub fn launcher(&self) -> &Launcher {
        self.engine.launcher()
    }

    /// Starts workers from `program` instead of the running executable
    /// (`None`: back to the running executable). The program must be the
    /// same build as this one, for instance a copy on a shared file system:
    /// a worker from any other executable refuses to run, and its task ends
    /// with [`Outcome::Failed`](crate::Outcome::Failed).
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// let this_program = std::env::current_exe().unwrap();
    /// mp.set_worker_program(Some(this_program))?;
    /// assert!(mp.set_worker_program(Some("/".into())).is_err());
    /// mp.set_worker_program(None)?;
    /// # Ok::<(), dummymp::Error>(())
    /// ```
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

    /// Runs tasks `increment` nicer than this process (`None`, the
    /// default: as nice as this process; the result is clamped to
    /// -20..=19); the command-line tool's `--nice`.
    ///
    /// ```
    /// # dummymp::init();
    /// fn niceness() -> i32 {
    ///     std::fs::read_to_string("/proc/self/stat").unwrap()
    ///         .rsplit(')').next().unwrap()
    ///         .split_whitespace().nth(16).unwrap().parse().unwrap()
    /// }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_priority_mode(dummymp::Priority::Nuclear);
    /// mp.set_nice(Some(19));
    /// let task = mp.run(niceness, ())?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.value(task), Some(&19));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_nice(&mut self, increment: Option<i32>) {
        self.engine.set_nice(increment);
    }

    /// The niceness tasks start at (`None`: this process's own).
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.nice(), None);
    /// mp.set_nice(Some(100));
    /// assert_eq!(mp.nice(), Some(19));
    /// ```
    pub fn nice(&self) -> Option<i32> {
        self.engine.settings().niceness
    }

    /// Starts tasks at least `delay` apart (`None`, the default: as fast as
    /// the scheduler allows); the command-line tool's `--delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_start_delay(Some(Duration::from_millis(20)));
    /// assert_eq!(mp.start_delay(), Some(Duration::from_millis(20)));
    /// ```
    pub fn set_start_delay(&mut self, delay: Option<Duration>) {
        self.engine.set_start_delay(delay);
    }

    /// The least time between two starts.
    ///
    /// ```
    /// assert_eq!(dummymp::DummyMp::new().start_delay(), None);
    /// ```
    pub fn start_delay(&self) -> Option<Duration> {
        self.engine.start_delay()
    }

    /// States how much memory each task needs, in bytes (`None`, the
    /// default: learned from the peaks of finished tasks of the same
    /// function); the command-line tool's `--memfree`. A task starts only
    /// when that much is available beyond the priority mode's reserve (see
    /// [`Scheduler::free_slots_with_memory`]). A task's own
    /// [`TaskOptions::memory`] overrides it.
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_memory_per_task(Some(512 << 20));
    /// assert_eq!(mp.memory_per_task(), Some(512 << 20));
    /// ```
    pub fn set_memory_per_task(&mut self, bytes: Option<u64>) {
        self.engine.scheduler_mut().set_memory_per_task(bytes);
    }

    /// The memory each task is said to need, if stated.
    ///
    /// ```
    /// assert_eq!(dummymp::DummyMp::new().memory_per_task(), None);
    /// ```
    pub fn memory_per_task(&self) -> Option<u64> {
        self.engine.scheduler().memory_per_task()
    }

    /// The options of every task queued without options of its own
    /// ([`run`](DummyMp::run), [`run_many`](DummyMp::run_many),
    /// [`map`](DummyMp::map), [`run_command`](DummyMp::run_command)): a
    /// timeout and retries, like the command-line tool's `--timeout` and
    /// `--retries`. The `_with` methods take options of their own instead.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.set_task_options(dummymp::TaskOptions::new().timeout(Duration::from_millis(100)));
    /// let late = mp.run(nap, 60_000)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(late), Some(&dummymp::Outcome::TimedOut));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn set_task_options(&mut self, options: TaskOptions) {
        self.task_options = options;
    }

    /// The options of tasks queued without options of their own.
    ///
    /// ```
    /// let mp = dummymp::DummyMp::new();
    /// assert_eq!(mp.task_options(), &dummymp::TaskOptions::default());
    /// ```
    pub fn task_options(&self) -> &TaskOptions {
        &self.task_options
    }
}
