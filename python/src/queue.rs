//! [`NativeQueue`]: a [`DummyMp`] holding Python tasks (foreign calls of a
//! Python worker, see `worker.rs`), as the Python class `DummyMP` in
//! `dummymp/_queue.py` uses it.
//!
//! Python code never runs while the queue is borrowed, except for logging:
//! the start and end callbacks are queued as progress events that the
//! Python side hands to the user's callbacks after each call, and so are
//! the indices of the tasks that ended. Blocking calls release the GIL.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use dummymp::engine::{ForeignWorker, TaskSpec};
use dummymp::{DummyMp, Outcome, OutputMode, Priority, Progress, SlotLimit, TaskOptions};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// `("start" | "end", completed, running, total)`, as the callbacks saw it.
type ProgressEvent = (&'static str, usize, usize, usize);

/// A queue of Python tasks on the dummymp engine.
#[pyclass(module = "dummymp._native")]
pub struct NativeQueue {
    /// The queue. The class is borrowed mutably to use it, so the lock is
    /// never contended: it only makes the class `Sync`, as PyO3 requires.
    mp: Mutex<DummyMp>,
    /// Start and end events not yet handed to Python.
    progress: Arc<Mutex<Vec<ProgressEvent>>>,
    /// Tasks queued or running (by index), to find the ones that ended.
    pending: BTreeSet<usize>,
    /// `completed` when `pending` was last looked through.
    completed_seen: usize,
}

fn engine_error(error: dummymp::Error) -> PyErr {
    PyOSError::new_err(error.to_string())
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
    /// An empty queue with the library's default settings.
    #[new]
    fn new() -> NativeQueue {
        let mut queue = NativeQueue {
            mp: Mutex::new(DummyMp::new()),
            progress: Arc::default(),
            pending: BTreeSet::new(),
            completed_seen: 0,
        };
        queue.install_callbacks();
        queue
    }

    /// Queues a call of the Python worker `program args...` with `payload`;
    /// returns its index (call order from 0).
    #[pyo3(signature = (program, args, payload, name, timeout=None, retries=0))]
    fn submit(
        &mut self,
        program: &str,
        args: Vec<String>,
        payload: &[u8],
        name: String,
        timeout: Option<f64>,
        retries: u32,
    ) -> PyResult<usize> {
        let mut options = TaskOptions::new().retries(retries);
        if let Some(timeout) = timeout {
            options = options.timeout(seconds(timeout, "a timeout")?);
        }
        let worker = ForeignWorker::new(program).args(args);
        let spec = TaskSpec::foreign(worker, payload.to_vec(), name).with_options(options);
        let index = self.mp().run_spec(spec).index();
        self.pending.insert(index);
        Ok(index)
    }

    /// Relays messages, finishes the tasks that ended and starts queued
    /// ones; true when nothing is queued or running.
    fn process_process(&mut self, py: Python<'_>) -> PyResult<bool> {
        let mp = self.mp();
        py.detach(|| mp.process_process()).map_err(engine_error)
    }

    /// Relays the messages that arrived (log records, output, results).
    fn process_queue(&mut self, py: Python<'_>) -> PyResult<()> {
        let mp = self.mp();
        py.detach(|| mp.process_queue()).map_err(engine_error)
    }

    /// Waits (without the GIL) until something happens, `timeout` seconds
    /// pass or a signal arrives, then processes the queue; true when
    /// nothing is queued or running. Raises what a Python signal handler
    /// raises (`KeyboardInterrupt`).
    #[pyo3(signature = (timeout=None))]
    fn wait(&mut self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = timeout.map(|t| seconds(t, "a timeout")).transpose()?;
        let mp = self.mp();
        let done = py.detach(|| mp.wait(timeout)).map_err(engine_error)?;
        py.check_signals()?;
        Ok(done)
    }

    /// The indices of the tasks that ended since the last call, in
    /// index order.
    fn take_ended(&mut self) -> Vec<usize> {
        let mp = self.mp.get_mut().unwrap_or_else(PoisonError::into_inner);
        let completed = mp.progress().completed;
        if completed == self.completed_seen {
            return Vec::new();
        }
        self.completed_seen = completed;
        let ended: Vec<usize> = self
            .pending
            .iter()
            .copied()
            .filter(|&index| mp.report(index).is_some())
            .collect();
        for index in &ended {
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
        let dict = PyDict::new(py);
        dict.set_item("description", report.outcome.to_string())?;
        dict.set_item("pid", report.pid)?;
        dict.set_item("attempts", report.attempts)?;
        dict.set_item("runtime", report.runtime.as_secs_f64())?;
        dict.set_item("stdout", PyBytes::new(py, &report.stdout))?;
        dict.set_item("stderr", PyBytes::new(py, &report.stderr))?;
        let kind = match &report.outcome {
            Outcome::Returned => {
                let bytes = report.returned_bytes().unwrap_or_default();
                dict.set_item("returned", PyBytes::new(py, bytes))?;
                "returned"
            }
            Outcome::Raised {
                exception,
                message,
                traceback,
            } => {
                dict.set_item("exception", exception)?;
                dict.set_item("message", message)?;
                dict.set_item("traceback", traceback)?;
                "raised"
            }
            Outcome::Panicked { message, .. } => {
                dict.set_item("message", message)?;
                "failed"
            }
            Outcome::Exited { code } | Outcome::ExitedEarly { code } => {
                dict.set_item("code", code)?;
                "exited"
            }
            Outcome::Signaled { signal } => {
                dict.set_item("signal", signal)?;
                "signaled"
            }
            Outcome::TimedOut => "timed_out",
            Outcome::Killed => "killed",
            Outcome::FailedToStart { error, errno } => {
                dict.set_item("reason", error)?;
                dict.set_item("errno", errno)?;
                "failed_to_start"
            }
            Outcome::Failed { reason } => {
                dict.set_item("reason", reason)?;
                "failed"
            }
            other => {
                dict.set_item("reason", other.to_string())?;
                "failed"
            }
        };
        dict.set_item("kind", kind)?;
        Ok(Some(dict))
    }

    /// Ends task `index` (queued or running); true when it was either.
    fn kill(&mut self, py: Python<'_>, index: usize) -> bool {
        let mp = self.mp();
        py.detach(|| mp.kill(index))
    }

    /// Ends every running task, waiting until they are reaped; queued ones
    /// stay queued.
    fn killall(&mut self, py: Python<'_>) {
        let mp = self.mp();
        py.detach(|| mp.killall());
    }

    /// Kills every running task and starts afresh: empty queue, default
    /// settings.
    fn reset(&mut self, py: Python<'_>) {
        let mp = self.mp();
        py.detach(|| mp.reset());
        self.pending.clear();
        self.completed_seen = 0;
        self.take_progress();
        self.install_callbacks();
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
        let mp = self.mp();
        py.detach(|| mp.cpu_avail())
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
}
