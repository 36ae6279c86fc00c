//! [`NativeQueue`]: a [`DummyMp`] holding Python tasks (foreign calls of a
//! Python worker, see `worker.rs`), as the Python class `DummyMP` in
//! `dummymp/_queue.py` uses it.
//!
//! Python code never runs while the queue is borrowed, except for logging
//! and the fork of a task (see `fork.rs`): the start and end callbacks are
//! queued as progress events that the Python side hands to the user's
//! callbacks after each call, and so are the indices of the tasks that
//! ended. Blocking calls release the GIL.

use std::collections::{BTreeSet, HashSet};
use std::mem::ManuallyDrop;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use dummymp::engine::{ForeignWorker, TaskSpec};
use dummymp::{
    CustomPriority, DummyMp, Launcher, Outcome, OutputMode, Priority, Progress, SlotLimit,
    SlurmOptions, TaskOptions,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::Error;
use crate::fork::PythonForkHost;

/// `("start" | "end", completed, running, total)`, as the callbacks saw it.
type ProgressEvent = (&'static str, usize, usize, usize);

/// A queue of Python tasks on the dummymp engine.
#[pyclass(module = "dummymp._native")]
pub struct NativeQueue {
    /// The queue. The class is borrowed mutably to use it, so the lock is
    /// never contended: it only makes the class `Sync`, as PyO3 requires.
    /// Dropped only in the process that made it (see `Drop`).
    mp: ManuallyDrop<Mutex<DummyMp>>,
    /// The process that made the queue: a copy forked for a task has the
    /// queue's memory but none of its processes and threads.
    owner: u32,
    /// How tasks are forked from this process.
    fork_host: Arc<PythonForkHost>,
    /// Start and end events not yet handed to Python.
    progress: Arc<Mutex<Vec<ProgressEvent>>>,
    /// Tasks queued or running (by index), to find the ones that ended.
    pending: BTreeSet<usize>,
    /// `completed` when `pending` was last looked through.
    completed_seen: usize,
}

/// The Python exception for an error of the engine: a setting that cannot
/// work is a `ValueError`, anything else a `dummymp.Error`.
pub(crate) fn engine_error(error: dummymp::Error) -> PyErr {
    match error {
        dummymp::Error::InvalidSetting { .. } | dummymp::Error::UnknownPriority(_) => {
            PyValueError::new_err(error.to_string())
        }
        other => Error::new_err(other.to_string()),
    }
}

/// `name` for as long as the program runs, stored once however often it is
/// asked for (a custom priority mode's name, which the library keeps as a
/// `&'static str`: modes are few).
fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = name.to_owned().leak();
    names.insert(leaked);
    leaked
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{what} must be a number of seconds >= 0")))
}

impl NativeQueue {
    fn mp(&mut self) -> &mut DummyMp {
        self.mp.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn mp_ref(&self) -> MutexGuard<'_, DummyMp> {
        self.mp.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the callbacks of `mp` record progress events.
    fn install_callbacks(&mut self) {
        for kind in ["start", "end"] {
            let events = Arc::clone(&self.progress);
            let record = move |p: Progress| {
                events.lock().unwrap_or_else(PoisonError::into_inner).push((
                    kind,
                    p.completed,
                    p.running,
                    p.total,
                ));
            };
            if kind == "start" {
                self.mp().set_start_callback(record);
            } else {
                self.mp().set_end_callback(record);
            }
        }
    }
}

#[pymethods]
impl NativeQueue {
    /// An empty queue with the library's default settings, but for the
    /// output of tasks, which goes out untagged (as the original's tasks
    /// printed). A task forked from this process calls `fork_before()` in
    /// the parent just before the fork, and `fork_child()` in the copy,
    /// which returns the function that runs its call.
    #[new]
    fn new(fork_before: Py<PyAny>, fork_child: Py<PyAny>) -> NativeQueue {
        let mut queue = NativeQueue {
            mp: ManuallyDrop::new(Mutex::new(DummyMp::new())),
            owner: std::process::id(),
            fork_host: Arc::new(PythonForkHost::new(fork_before, fork_child)),
            progress: Arc::default(),
            pending: BTreeSet::new(),
            completed_seen: 0,
        };
        queue.set_package_defaults();
        queue
    }

    /// Queues a call with `payload`, named `name`; returns its index (call
    /// order from 0). It runs in a copy of this process made when it
    /// starts, or, with `program`, in the Python worker `program args...`.
    /// The options not given are the queue's task options.
    #[pyo3(signature = (payload, name, program=None, args=Vec::new(), timeout=None, retries=None, cpus=None, memory=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        payload: &[u8],
        name: String,
        program: Option<&str>,
        args: Vec<String>,
        timeout: Option<f64>,
        retries: Option<u32>,
        cpus: Option<usize>,
        memory: Option<u64>,
    ) -> PyResult<usize> {
        self.check_owner()?;
        let mut options = self.mp().task_options().clone();
        if let Some(timeout) = timeout {
            options = options.timeout(seconds(timeout, "a timeout")?);
        }
        if let Some(retries) = retries {
            options = options.retries(retries);
        }
        if let Some(cpus) = cpus {
            options = options.cpus(cpus);
        }
        if let Some(memory) = memory {
            options = options.memory(memory);
        }
        let worker = match program {
            Some(program) => ForeignWorker::new(program).args(args),
            None => ForeignWorker::forked(self.fork_host.clone()),
        };
        let spec = TaskSpec::foreign(worker, payload.to_vec(), name).with_options(options);
        let index = self.mp().run_spec(spec).index();
        self.pending.insert(index);
        Ok(index)
    }

    /// Relays messages, finishes the tasks that ended and starts queued
    /// ones; true when nothing is queued or running.
    fn process_process(&mut self, py: Python<'_>) -> PyResult<bool> {
        self.check_owner()?;
        crate::logs::new_generation();
        let mp = self.mp();
        py.detach(|| mp.process_process()).map_err(engine_error)
    }

    /// Relays the messages that arrived (log records, output, results).
    fn process_queue(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_owner()?;
        crate::logs::new_generation();
        let mp = self.mp();
        py.detach(|| mp.process_queue()).map_err(engine_error)
    }

    /// Waits (without the GIL) until something happens, `timeout` seconds
    /// pass or a signal arrives, then processes the queue; true when
    /// nothing is queued or running. Raises what a Python signal handler
    /// raises (`KeyboardInterrupt`).
    #[pyo3(signature = (timeout=None))]
    fn wait(&mut self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.check_owner()?;
        crate::logs::new_generation();
        let timeout = timeout.map(|t| seconds(t, "a timeout")).transpose()?;
        let mp = self.mp();
        let done = py.detach(|| mp.wait(timeout)).map_err(engine_error)?;
        py.check_signals()?;
        Ok(done)
    }

    /// The tasks that ended since the last call, in index order: `(index,
    /// returned)`, with the pickled value of a task that returned (`None`
    /// for the others: their [`report`](NativeQueue::report) says how they
    /// ended).
    fn take_ended<'py>(&mut self, py: Python<'py>) -> Vec<(usize, Option<Bound<'py, PyBytes>>)> {
        let mp = self.mp.get_mut().unwrap_or_else(PoisonError::into_inner);
        let completed = mp.progress().completed;
        let mut missing = completed.saturating_sub(self.completed_seen);
        if missing == 0 {
            return Vec::new();
        }
        self.completed_seen = completed;
        // Tasks mostly end in the order they were queued: look from the
        // oldest pending one, and stop once every one that ended is found.
        let mut ended = Vec::with_capacity(missing);
        for &index in &self.pending {
            if missing == 0 {
                break;
            }
            if let Some(report) = mp.report(index) {
                let returned = match report.outcome {
                    Outcome::Returned => report.returned_bytes().map(|b| PyBytes::new(py, b)),
                    _ => None,
                };
                ended.push((index, returned));
                missing -= 1;
            }
        }
        for (index, _) in &ended {
            self.pending.remove(index);
        }
        ended
    }

    /// The start and end events since the last call, in order.
    fn take_progress(&mut self) -> Vec<ProgressEvent> {
        std::mem::take(&mut *self.progress.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What is known about task `index` once it has ended, as a dict
    /// (`kind`, `description`, `pid`, `returned` (the pickled value) and
    /// the fields of its kind); `None` before.
    fn report<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Option<Bound<'py, PyDict>>> {
        let mp = self.mp_ref();
        let Some(report) = mp.report(index) else {
            return Ok(None);
        };
        crate::report::report_dict(py, report).map(Some)
    }

    /// Ends task `index` (queued or running); true when it was either.
    fn kill(&mut self, py: Python<'_>, index: usize) -> PyResult<bool> {
        self.check_owner()?;
        crate::logs::new_generation();
        let mp = self.mp();
        Ok(py.detach(|| mp.kill(index)))
    }

    /// Ends every running task, waiting until they are reaped; queued ones
    /// stay queued.
    fn killall(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_owner()?;
        crate::logs::new_generation();
        let mp = self.mp();
        py.detach(|| mp.killall());
        Ok(())
    }

    /// Kills every running task and starts afresh: empty queue, the
    /// package's default settings.
    fn reset(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_owner()?;
        crate::logs::new_generation();
        let mp = self.mp();
        py.detach(|| mp.reset());
        self.pending.clear();
        self.completed_seen = 0;
        self.take_progress();
        self.set_package_defaults();
        Ok(())
    }

    /// `(completed, running, total)`.
    fn progress(&self) -> (usize, usize, usize) {
        let p = self.mp_ref().progress();
        (p.completed, p.running, p.total)
    }

    /// Tasks waiting to start.
    fn queued(&self) -> usize {
        self.mp_ref().queued()
    }

    /// Process ids of the running tasks.
    fn running_pids(&self) -> Vec<u32> {
        self.mp_ref().running_pids()
    }

    /// How many tasks may start under the priority mode (blocks for one
    /// sampling interval unless a fresh measurement exists).
    fn cpu_avail(&mut self, py: Python<'_>) -> usize {
        crate::logs::new_generation();
        let mp = self.mp();
        py.detach(|| mp.cpu_avail())
    }

    /// What the last measurement left available, without measuring: the
    /// capacity in a mode that never measures, the usable CPUs before the
    /// first measurement.
    fn last_cpu_avail(&self) -> usize {
        let mp = self.mp_ref();
        let capacity = match mp.capacity() {
            0 => mp.usable_cpus(),
            capacity => capacity,
        };
        if !mp.priority_mode().measures_load() {
            return capacity;
        }
        mp.scheduler()
            .measurement()
            .map_or(capacity, |m| m.available_cpus)
    }

    /// CPUs this process may use (affinity and cgroup quota applied).
    fn usable_cpus(&self) -> usize {
        self.mp_ref().usable_cpus()
    }

    /// CPUs online on the machine.
    fn machine_cpus(&self) -> usize {
        self.mp_ref().machine_cpus()
    }

    /// Why tasks started or waited, at the last scheduling decision: one
    /// line for people, and what held it back as a name (`nothing`,
    /// `process_cap`, `first_measurement`, `cpus`, `forced_one`, `memory`).
    fn last_decision(&self) -> (String, &'static str) {
        let mp = self.mp_ref();
        let decision = mp.scheduler().last_decision();
        let limit = match decision.limit {
            SlotLimit::Nothing => "nothing",
            SlotLimit::ProcessCap => "process_cap",
            SlotLimit::FirstMeasurement => "first_measurement",
            SlotLimit::Cpus => "cpus",
            SlotLimit::ForcedOne => "forced_one",
            SlotLimit::Memory => "memory",
        };
        (decision.to_string(), limit)
    }

    /// The cap on tasks running at once (0: none).
    #[getter]
    fn get_max_processes(&self) -> usize {
        self.mp_ref().max_processes()
    }

    #[setter]
    fn set_max_processes(&mut self, value: usize) {
        self.mp().set_max_processes(value);
    }

    /// How many tasks may run at once on an idle machine (0: one per
    /// usable CPU).
    #[getter]
    fn get_capacity(&self) -> usize {
        self.mp_ref().capacity()
    }

    #[setter]
    fn set_capacity(&mut self, value: usize) {
        self.mp().set_capacity(value);
    }

    /// The priority mode, by name (`generous` ... `nuclear`).
    #[getter]
    fn get_priority(&self) -> &'static str {
        self.mp_ref().priority_mode().name()
    }

    #[setter]
    fn set_priority(&mut self, name: &str) -> PyResult<()> {
        let priority = Priority::from_str(name)
            .map_err(|_| PyValueError::new_err(format!("no priority mode is called {name:?}")))?;
        self.mp().set_priority_mode(priority);
        Ok(())
    }

    /// The priority mode as the engine has it: `(name, threshold % or
    /// None, sampling s or None, re-measure s or None, the built-in mode
    /// whose other rules it follows)`.
    #[allow(clippy::type_complexity)]
    fn priority_mode(
        &self,
    ) -> (
        &'static str,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        &'static str,
    ) {
        let mode = self.mp_ref().priority_mode();
        let rules = match mode {
            Priority::Custom(custom) => custom.rules_of(),
            built_in => built_in,
        };
        (
            mode.name(),
            mode.threshold_percent(),
            mode.sample_interval().map(|d| d.as_secs_f64()),
            mode.remeasure_interval().map(|d| d.as_secs_f64()),
            rules.name(),
        )
    }

    /// Sets a mode of one's own: `name`, counting foreign processes above
    /// `threshold` % of a CPU (infinite: none, never measuring), sampling
    /// for `sample` seconds, measuring again every `refresh` seconds; the
    /// other rules those of the built-in mode `rules` (by name).
    fn set_custom_priority(
        &mut self,
        name: &str,
        threshold: f64,
        sample: f64,
        refresh: f64,
        rules: &str,
    ) -> PyResult<()> {
        let rules = Priority::from_str(rules).map_err(engine_error)?;
        let custom = CustomPriority::new(
            interned(name),
            threshold,
            seconds(sample, "the sampling interval")?,
            seconds(refresh, "the re-measure interval")?,
        )
        .map_err(engine_error)?
        .with_rules_of(rules);
        self.mp().set_priority_mode(Priority::Custom(custom));
        Ok(())
    }

    /// Whether workers run task after task.
    #[getter]
    fn get_reuse_workers(&self) -> bool {
        self.mp_ref().reuse_workers()
    }

    #[setter]
    fn set_reuse_workers(&mut self, value: bool) {
        self.mp().set_reuse_workers(value);
    }

    /// Where the output of tasks queued from now on goes: `tagged`,
    /// `untagged` or `captured`.
    #[getter]
    fn get_output_mode(&self) -> &'static str {
        match self.mp_ref().output_mode() {
            OutputMode::Tagged => "tagged",
            OutputMode::Untagged => "untagged",
            OutputMode::Captured => "captured",
        }
    }

    #[setter]
    fn set_output_mode(&mut self, name: &str) -> PyResult<()> {
        let mode = match name {
            "tagged" => OutputMode::Tagged,
            "untagged" => OutputMode::Untagged,
            "captured" => OutputMode::Captured,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "no output mode is called {name:?} (tagged, untagged, captured)"
                )));
            }
        };
        self.mp().set_output_mode(mode);
        Ok(())
    }

    /// Seconds between `SIGTERM` and `SIGKILL` when a task is ended.
    #[getter]
    fn get_kill_grace(&self) -> f64 {
        self.mp_ref().kill_grace().as_secs_f64()
    }

    #[setter]
    fn set_kill_grace(&mut self, value: f64) -> PyResult<()> {
        self.mp()
            .set_kill_grace(seconds(value, "the kill grace period")?);
        Ok(())
    }

    /// How much nicer than this process tasks run (`None`: as nice).
    #[getter]
    fn get_nice(&self) -> Option<i32> {
        self.mp_ref().nice()
    }

    #[setter]
    fn set_nice(&mut self, value: Option<i32>) {
        self.mp().set_nice(value);
    }

    /// The least time between two starts, in seconds (`None`: none).
    #[getter]
    fn get_start_delay(&self) -> Option<f64> {
        self.mp_ref().start_delay().map(|d| d.as_secs_f64())
    }

    #[setter]
    fn set_start_delay(&mut self, value: Option<f64>) -> PyResult<()> {
        let delay = value
            .map(|v| seconds(v, "the delay between starts"))
            .transpose()?;
        self.mp().set_start_delay(delay);
        Ok(())
    }

    /// The memory each task needs, in bytes (`None`: learned).
    #[getter]
    fn get_memory_per_task(&self) -> Option<u64> {
        self.mp_ref().memory_per_task()
    }

    #[setter]
    fn set_memory_per_task(&mut self, value: Option<u64>) {
        self.mp().set_memory_per_task(value);
    }

    /// Sets the options of tasks queued without options of their own.
    #[pyo3(signature = (timeout=None, retries=0, cpus=1, memory=None))]
    fn set_task_options(
        &mut self,
        timeout: Option<f64>,
        retries: u32,
        cpus: usize,
        memory: Option<u64>,
    ) -> PyResult<()> {
        if cpus == 0 {
            return Err(PyValueError::new_err("a task needs at least 1 CPU"));
        }
        let mut options = TaskOptions::new().retries(retries).cpus(cpus);
        if let Some(timeout) = timeout {
            options = options.timeout(seconds(timeout, "a timeout")?);
        }
        if let Some(memory) = memory {
            options = options.memory(memory);
        }
        self.mp().set_task_options(options);
        Ok(())
    }

    /// The options of tasks queued without options of their own:
    /// `(timeout, retries, cpus, memory)`.
    fn task_options(&self) -> (Option<f64>, u32, usize, Option<u64>) {
        let mp = self.mp_ref();
        let options = mp.task_options();
        (
            options.get_timeout().map(|t| t.as_secs_f64()),
            options.get_retries(),
            options.get_cpus(),
            options.get_memory(),
        )
    }

    /// Starts tasks on this machine (`"local"`) or as Slurm job steps
    /// (`"slurm"`, in the allocation this process runs in; options as
    /// `dummymp::SlurmOptions` has them).
    #[pyo3(signature = (kind, job_name=None, cpus_per_task=None, srun_args=Vec::new()))]
    fn set_launcher(
        &mut self,
        kind: &str,
        job_name: Option<String>,
        cpus_per_task: Option<u32>,
        srun_args: Vec<String>,
    ) -> PyResult<()> {
        let launcher = match kind {
            "local" => Launcher::Local,
            "slurm" => {
                let mut options = SlurmOptions::from_env().map_err(engine_error)?;
                if let Some(name) = job_name {
                    options = options.job_name(name);
                }
                if let Some(cpus) = cpus_per_task {
                    options = options.cpus_per_task(cpus);
                }
                for arg in srun_args {
                    options = options.srun_arg(arg);
                }
                Launcher::Slurm(options)
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "no launcher is called {other:?} (local, slurm)"
                )));
            }
        };
        self.mp().set_launcher(launcher);
        Ok(())
    }

    /// Where tasks start: `"local"` or `"slurm"`.
    fn launcher(&self) -> PyResult<&'static str> {
        match self.mp_ref().launcher() {
            Launcher::Local => Ok("local"),
            Launcher::Slurm(_) => Ok("slurm"),
            _ => Err(PyTypeError::new_err(
                "a launcher this package does not know",
            )),
        }
    }
}

impl NativeQueue {
    /// The package's defaults over the library's: untagged output.
    fn set_package_defaults(&mut self) {
        self.mp().set_output_mode(OutputMode::Untagged);
        self.install_callbacks();
    }

    /// Refuses to use the queue in a copy of the process that made it (a
    /// task forked from it): the copy has the queue's memory, not its
    /// processes.
    fn check_owner(&self) -> PyResult<()> {
        if std::process::id() == self.owner {
            return Ok(());
        }
        Err(Error::new_err(format!(
            "this queue belongs to process {}: a task cannot use its parent's queue (make a \
             DummyMP of its own, or use the module-level functions, which get a fresh queue \
             in a task)",
            self.owner
        )))
    }
}

impl Drop for NativeQueue {
    fn drop(&mut self) {
        // In a copy forked for a task, the engine's processes are not ours
        // and its threads do not exist: dropping it would end the
        // parent's tasks or wait for ever. Its memory goes with the copy.
        if std::process::id() == self.owner {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.mp) };
        }
    }
}
