//! [`DummyMp`]: one queue of tasks, the workers running them, and what
//! they returned.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::Signal;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::callable;
use crate::error::Error;
use crate::identity;
use crate::platform::{self, ExitInfo};
use crate::priority::Priority;
use crate::protocol::{self, PROTOCOL_VERSION, TaskRequest, TaskResult, WorkerMessage};
use crate::relay::{self, Captured};
use crate::scheduler::Scheduler;
use crate::spawn::{self, WorkerProcess};
use crate::task::{Outcome, OutputMode, Progress, TaskHandle, TaskId, TaskReport};

/// How long [`DummyMp::killall`] waits after `SIGTERM` before `SIGKILL`,
/// unless changed with [`DummyMp::set_kill_grace`].
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(1);

type Callback = Box<dyn FnMut(Progress) + Send>;
type Decoder = fn(&[u8]) -> Result<Box<dyn Any + Send>, postcard::Error>;

/// A queue of function calls, each run in a child process of its own.
///
/// Queue calls with [`run`](DummyMp::run), then either block with
/// [`process_until_done`](DummyMp::process_until_done) or pump the queue
/// yourself with [`process_process`](DummyMp::process_process). Returns are
/// kept by call index; every task ends with an [`Outcome`].
///
/// Several instances are independent queues (each with its own settings),
/// though they share the machine: each counts the other's workers as its
/// own, not as foreign load. Dropping an instance kills the tasks it still
/// runs.
///
/// The program must call [`crate::init`] first thing in `main` (or use
/// [`enable_test_support!`](crate::enable_test_support) in tests).
///
/// ```
/// # dummymp::init();
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_priority_mode(dummymp::Priority::Nuclear);
/// for x in 1..=3 {
///     mp.run(square, x)?;
/// }
/// mp.process_until_done()?;
/// let returns = mp.returns::<u64>();
/// assert_eq!(returns.into_iter().collect::<Vec<_>>(), [(0, 1), (1, 4), (2, 9)]);
/// # Ok::<(), dummymp::Error>(())
/// ```
pub struct DummyMp {
    scheduler: Scheduler,
    output_mode: OutputMode,
    kill_grace: Duration,
    worker_program: Option<PathBuf>,
    on_start: Option<Callback>,
    on_end: Option<Callback>,
    queue: VecDeque<QueuedTask>,
    running: Vec<RunningTask>,
    tasks: Vec<TaskEntry>,
    completed: usize,
    /// The system refused a new process while some of ours run: try again
    /// when one of them ends.
    spawn_blocked: bool,
}

struct TaskEntry {
    function: &'static str,
    decode: Decoder,
    report: Option<TaskReport>,
}

struct QueuedTask {
    id: usize,
    entry: u64,
    function: u64,
    args: Vec<u8>,
}

struct RunningTask {
    id: usize,
    worker: WorkerProcess,
    started: Instant,
    result: Option<TaskResult>,
    stream_error: Option<String>,
    kill_requested: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Default for DummyMp {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DummyMp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DummyMp")
            .field("priority", &self.scheduler.priority())
            .field("max_processes", &self.scheduler.max_processes())
            .field("output_mode", &self.output_mode)
            .field("progress", &self.progress())
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl DummyMp {
    /// An empty queue with the default settings: [`Priority::Normal`], no
    /// process cap, [`OutputMode::Tagged`], no callbacks.
    pub fn new() -> DummyMp {
        crate::worker::invocation::refuse_work_before_init();
        DummyMp {
            scheduler: Scheduler::new(Priority::default(), 0),
            output_mode: OutputMode::default(),
            kill_grace: DEFAULT_KILL_GRACE,
            worker_program: None,
            on_start: None,
            on_end: None,
            queue: VecDeque::new(),
            running: Vec::new(),
            tasks: Vec::new(),
            completed: 0,
            spawn_blocked: false,
        }
    }

    /// Queues `function(args)` to run in a child process and returns its
    /// handle; ids follow call order from 0.
    ///
    /// `function` is a function item or a closure that captures nothing
    /// (several arguments travel as a tuple). `args` is serialised now, so
    /// the call runs with the values it had when queued. Nothing runs until
    /// the queue is processed.
    ///
    /// # Errors
    ///
    /// [`Error::EncodeArguments`] when `args` cannot be serialised; nothing
    /// is queued then.
    pub fn run<A, R>(&mut self, function: fn(A) -> R, args: A) -> Result<TaskHandle<R>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let name = short_type_name(std::any::type_name::<fn(A) -> R>());
        let args = postcard::to_stdvec(&args).map_err(|source| Error::EncodeArguments {
            function: name,
            source,
        })?;
        let (entry, function) = callable::offsets_of(function);
        let id = self.tasks.len();
        self.tasks.push(TaskEntry {
            function: name,
            decode: decode_value::<R>,
            report: None,
        });
        self.queue.push_back(QueuedTask {
            id,
            entry,
            function,
            args,
        });
        Ok(TaskHandle::new(TaskId(id)))
    }

    /// Does whatever can be done now without waiting: relays the messages
    /// that arrived, reaps the tasks that ended, and starts the queued ones
    /// the scheduler allows. Returns `true` when nothing is queued or
    /// running any more.
    pub fn process_process(&mut self) -> Result<bool, Error> {
        self.process_queue()?;
        self.reap_ended();
        self.start_ready();
        Ok(self.is_done())
    }

    /// Relays the messages that arrived from running tasks (log records,
    /// output lines, results), without blocking.
    pub fn process_queue(&mut self) -> Result<(), Error> {
        let mode = self.output_mode;
        for task in &mut self.running {
            task.read_messages(mode);
        }
        Ok(())
    }

    /// Processes the queue until every task has ended, sleeping in between
    /// until something happens (a message, a task's end, the next load
    /// measurement), so that waiting costs no CPU.
    ///
    /// In [`Priority::Generous`] this waits for CPUs to become free rather
    /// than returning with tasks still queued.
    pub fn process_until_done(&mut self) -> Result<(), Error> {
        while !self.process_process()? {
            self.wait_for_events(None)?;
        }
        Ok(())
    }

    /// Waits until something happens (or `timeout` passes), then processes
    /// the queue like [`process_process`](DummyMp::process_process).
    /// Returns `true` when nothing is queued or running any more.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, Error> {
        if self.process_process()? {
            return Ok(true);
        }
        self.wait_for_events(timeout.map(|t| Instant::now() + t))?;
        self.process_process()
    }

    /// The values returned by the tasks that returned an `R`, by call
    /// index. Tasks that failed, are not done, or return another type are
    /// not in it (see [`outcome`](DummyMp::outcome)).
    pub fn returns<R: Clone + 'static>(&self) -> BTreeMap<usize, R> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(id, task)| {
                let value = task.report.as_ref()?.value.as_ref()?;
                Some((id, value.downcast_ref::<R>()?.clone()))
            })
            .collect()
    }

    /// The value the task behind `handle` returned, once it has.
    pub fn value<R: 'static>(&self, handle: TaskHandle<R>) -> Option<&R> {
        self.report(handle.id())?.value.as_ref()?.downcast_ref()
    }

    /// How the task `id` ended, once it has.
    pub fn outcome(&self, id: impl Into<TaskId>) -> Option<&Outcome> {
        self.report(id).map(|r| &r.outcome)
    }

    /// Everything known about the task `id`, once it has ended.
    pub fn report(&self, id: impl Into<TaskId>) -> Option<&TaskReport> {
        self.tasks.get(id.into().0)?.report.as_ref()
    }

    /// Reports of every task that has ended, by call index.
    pub fn reports(&self) -> impl Iterator<Item = &TaskReport> {
        self.tasks.iter().filter_map(|t| t.report.as_ref())
    }

    /// Process ids of the running workers.
    pub fn running_pids(&self) -> Vec<u32> {
        self.running.iter().map(|t| t.worker.pid()).collect()
    }

    /// Counts of completed, running and all tasks.
    pub fn progress(&self) -> Progress {
        Progress {
            completed: self.completed,
            running: self.running.len(),
            total: self.tasks.len(),
        }
    }

    /// Tasks waiting to start.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Caps the number of tasks running at once, in every priority mode
    /// (0: no cap beyond the CPUs).
    pub fn set_max_processes(&mut self, max_processes: usize) {
        self.scheduler.set_max_processes(max_processes);
    }

    /// The process cap (0: none).
    pub fn max_processes(&self) -> usize {
        self.scheduler.max_processes()
    }

    /// Sets how considerate scheduling is of other processes.
    pub fn set_priority_mode(&mut self, priority: Priority) {
        self.scheduler.set_priority(priority);
    }

    /// The priority mode.
    pub fn priority_mode(&self) -> Priority {
        self.scheduler.priority()
    }

    /// CPUs available to new tasks under the priority mode: every usable
    /// CPU in `Nuclear`, else those foreign load leaves free. Blocks for one
    /// sampling interval (0.1 s to 0.5 s) unless a fresh measurement exists;
    /// the result also serves the next scheduling decisions.
    pub fn cpu_avail(&mut self) -> usize {
        self.scheduler.available_cpus()
    }

    /// CPUs on the machine.
    pub fn total_cpus(&self) -> usize {
        self.scheduler.cpu_info().total
    }

    /// CPUs this process may use (affinity and cgroup quota applied).
    pub fn usable_cpus(&self) -> usize {
        self.scheduler.cpu_info().usable
    }

    /// The scheduler, to inspect its latest load measurement.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
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

    /// Chooses what happens to the tasks' standard output and error.
    pub fn set_output_mode(&mut self, mode: OutputMode) {
        self.output_mode = mode;
    }

    /// The output mode.
    pub fn output_mode(&self) -> OutputMode {
        self.output_mode
    }

    /// How long [`killall`](DummyMp::killall) waits for tasks to end after
    /// `SIGTERM` before it sends `SIGKILL` (default: one second).
    pub fn set_kill_grace(&mut self, grace: Duration) {
        self.kill_grace = grace;
    }

    /// The kill grace period.
    pub fn kill_grace(&self) -> Duration {
        self.kill_grace
    }

    /// Starts workers from `program` instead of the running executable
    /// (`None`: back to the running executable). The program must be the
    /// same build as this one, for instance a copy on a shared file system:
    /// a worker from any other executable refuses to run, and its task ends
    /// with [`Outcome::Failed`].
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
        self.worker_program = program;
        Ok(())
    }

    /// Ends every running task and what it started: `SIGTERM` to each task's
    /// process group, up to the kill grace period for them to exit, then
    /// `SIGKILL`. Waits until they are reaped. Values already received are
    /// kept; the others end as [`Outcome::Killed`]. Queued tasks stay
    /// queued.
    pub fn killall(&mut self) {
        self.read_all_messages();
        for task in &mut self.running {
            task.kill_requested = true;
            task.worker.signal(Signal::TERM);
        }
        let deadline = Instant::now() + self.kill_grace;
        loop {
            self.read_all_messages();
            self.reap_ended();
            if self.running.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            if let Err(e) = self.wait_for_events(Some(deadline)) {
                log::debug!(target: "dummymp", "waiting for killed tasks: {e}");
                break;
            }
        }
        for task in &mut self.running {
            task.worker.signal(Signal::KILL);
        }
        while let Some(task) = self.running.last() {
            let exit = task.worker.wait_exited().ok();
            self.finish(self.running.len() - 1, exit);
        }
    }

    /// Kills every running task ([`killall`](DummyMp::killall)), drops the
    /// queue and every report and return, and puts every setting back to
    /// its default: a fresh start. Call indices start from 0 again.
    pub fn reset(&mut self) {
        self.killall();
        *self = DummyMp::new();
    }

    fn is_done(&self) -> bool {
        self.queue.is_empty() && self.running.is_empty()
    }

    fn read_all_messages(&mut self) {
        let _ = self.process_queue();
    }

    /// Finishes every task whose worker has exited.
    fn reap_ended(&mut self) {
        let mut i = 0;
        while i < self.running.len() {
            match self.running[i].worker.exited() {
                Ok(Some(exit)) => self.finish(i, Some(exit)),
                Ok(None) => i += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => i += 1,
                // ECHILD: somebody else reaped it (SIGCHLD ignored, or a
                // `waitpid(-1)` elsewhere in the program).
                Err(_) => self.finish(i, None),
            }
        }
    }

    /// Records the end of `self.running[index]`, whose worker exited.
    fn finish(&mut self, index: usize, exit: Option<ExitInfo>) {
        let mut task = self.running.swap_remove(index);
        task.read_messages(self.output_mode);
        task.worker.release();
        let pid = task.worker.pid();
        self.scheduler.own_processes().remove_group(pid);
        let entry = &mut self.tasks[task.id];
        let (outcome, value) = match task.result.take() {
            Some(TaskResult::Returned(bytes)) => match (entry.decode)(&bytes) {
                Ok(value) => (Outcome::Returned, Some(value)),
                Err(e) => (
                    Outcome::Failed {
                        reason: format!("cannot decode the return value: {e}"),
                    },
                    None,
                ),
            },
            Some(TaskResult::Panicked { message, location }) => {
                (Outcome::Panicked { message, location }, None)
            }
            Some(TaskResult::Failed(reason)) => (Outcome::Failed { reason }, None),
            None if task.kill_requested => (Outcome::Killed, None),
            None => match (exit, task.stream_error.take()) {
                (Some(ExitInfo::Signaled(signal)), _) => (Outcome::Signaled { signal }, None),
                (Some(ExitInfo::Exited(_)), Some(reason)) => (Outcome::Failed { reason }, None),
                (Some(ExitInfo::Exited(code)), None) => (Outcome::Exited { code }, None),
                (None, _) => (
                    Outcome::Failed {
                        reason: "its exit status was lost (is SIGCHLD ignored?)".to_string(),
                    },
                    None,
                ),
            },
        };
        if !outcome.is_success() && outcome != Outcome::Killed {
            log::warn!(
                target: "dummymp",
                "[PID {pid}] task {} ({}) {outcome}",
                task.id,
                entry.function
            );
        }
        entry.report = Some(TaskReport {
            id: TaskId(task.id),
            function: entry.function,
            pid: Some(pid),
            outcome,
            stdout: task.stdout,
            stderr: task.stderr,
            runtime: task.started.elapsed(),
            value,
        });
        self.completed += 1;
        self.spawn_blocked = false;
        self.notify(false);
    }

    /// Starts as many queued tasks as the scheduler allows.
    fn start_ready(&mut self) {
        let waiting = if self.spawn_blocked {
            0
        } else {
            self.queue.len()
        };
        let slots = self.scheduler.free_slots(self.running.len(), waiting);
        for _ in 0..slots {
            if !self.start_next() {
                break;
            }
        }
    }

    /// Starts the task at the head of the queue; false when the system
    /// refused and the task went back to wait for one of ours to end.
    fn start_next(&mut self) -> bool {
        let Some(mut queued) = self.queue.pop_front() else {
            return false;
        };
        let entry = &self.tasks[queued.id];
        let request = TaskRequest {
            protocol: PROTOCOL_VERSION,
            executable: identity::current().to_vec(),
            task_id: queued.id as u64,
            entry: queued.entry,
            function: queued.function,
            seal: crate::callable::seal(identity::current(), queued.entry, queued.function),
            function_name: entry.function.to_string(),
            log_level: log::max_level() as u8,
            args: std::mem::take(&mut queued.args),
        };
        let spawned = protocol::encode_frame(&request)
            .map_err(io::Error::other)
            .and_then(|frame| match &self.worker_program {
                Some(program) => spawn::spawn_worker(program, program.as_os_str(), &frame),
                None => spawn::spawn_worker(
                    &platform::self_exe_for_spawn(),
                    platform::self_exe_display_name(),
                    &frame,
                ),
            });
        match spawned {
            Ok(worker) => {
                let pid = worker.pid();
                self.scheduler.own_processes().add_group(pid);
                log::debug!(
                    target: "dummymp",
                    "[PID {pid}] started task {} ({})",
                    queued.id,
                    entry.function
                );
                self.running.push(RunningTask {
                    id: queued.id,
                    worker,
                    started: Instant::now(),
                    result: None,
                    stream_error: None,
                    kill_requested: false,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                });
                self.notify(true);
                true
            }
            Err(error) if is_transient(&error) && !self.running.is_empty() => {
                log::debug!(
                    target: "dummymp",
                    "cannot start task {} yet ({error}); retrying when a task ends",
                    queued.id
                );
                queued.args = request.args;
                self.queue.push_front(queued);
                self.spawn_blocked = true;
                false
            }
            Err(error) => {
                let outcome = Outcome::FailedToStart {
                    error: error.to_string(),
                    errno: error.raw_os_error(),
                };
                log::warn!(
                    target: "dummymp",
                    "task {} ({}) {outcome}",
                    queued.id,
                    entry.function
                );
                self.tasks[queued.id].report = Some(TaskReport {
                    id: TaskId(queued.id),
                    function: self.tasks[queued.id].function,
                    pid: None,
                    outcome,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    runtime: Duration::ZERO,
                    value: None,
                });
                self.completed += 1;
                self.notify(false);
                true
            }
        }
    }

    fn notify(&mut self, started: bool) {
        let progress = self.progress();
        let callback = if started {
            &mut self.on_start
        } else {
            &mut self.on_end
        };
        if let Some(callback) = callback {
            callback(progress);
        }
    }

    /// Sleeps until a worker sends something or exits, a load measurement
    /// comes in, the scheduler's next deadline, or `limit`.
    fn wait_for_events(&mut self, limit: Option<Instant>) -> Result<(), Error> {
        let deadline = match (limit, self.scheduler.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut fds = Vec::with_capacity(self.running.len() * 2 + 1);
        for task in &self.running {
            if let Some(fd) = task.worker.messages_fd() {
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            }
            fds.push(PollFd::from_borrowed_fd(task.worker.pidfd(), PollFlags::IN));
        }
        if let Some(fd) = self.scheduler.wake_fd() {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
        }
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            })
        });
        if fds.is_empty() && timeout.is_none() {
            return Ok(());
        }
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(Error::os("waiting for tasks")(e.into())),
        }
    }
}

impl RunningTask {
    fn read_messages(&mut self, mode: OutputMode) {
        let pid = self.worker.pid();
        let result = &mut self.result;
        let (stdout, stderr) = (&mut self.stdout, &mut self.stderr);
        let read = self.worker.read_messages(|message| match message {
            WorkerMessage::Log(record) => relay::relay_log(pid, &record),
            WorkerMessage::Output { stream, data } => relay::relay_output(
                pid,
                stream,
                &data,
                mode,
                Captured {
                    stdout: &mut *stdout,
                    stderr: &mut *stderr,
                },
            ),
            WorkerMessage::Finished(r) => *result = Some(r),
        });
        if let Err(error) = read {
            self.stream_error.get_or_insert(error);
        }
    }
}

impl Drop for DummyMp {
    fn drop(&mut self) {
        if !self.running.is_empty() {
            self.killall();
        }
    }
}

fn decode_value<R>(bytes: &[u8]) -> Result<Box<dyn Any + Send>, postcard::Error>
where
    R: DeserializeOwned + Send + 'static,
{
    Ok(Box::new(postcard::from_bytes::<R>(bytes)?))
}

/// Errors after which starting a process may work once others have ended.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error
            .raw_os_error()
            .map(rustix::io::Errno::from_raw_os_error),
        Some(
            rustix::io::Errno::AGAIN
                | rustix::io::Errno::NOMEM
                | rustix::io::Errno::MFILE
                | rustix::io::Errno::NFILE
        )
    )
}

/// `fn(u64) -> core::option::Option<u64>` becomes `fn(u64) -> Option<u64>`.
/// Each distinct name is shortened (and kept) once.
fn short_type_name(name: &'static str) -> &'static str {
    static SHORT: std::sync::Mutex<BTreeMap<&'static str, &'static str>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut known = SHORT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    known.entry(name).or_insert_with(|| {
        let mut short = String::with_capacity(name.len());
        let mut word = String::new();
        let mut chars = name.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ':' && chars.peek() == Some(&':') {
                chars.next();
                word.clear();
            } else if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                short.push_str(&word);
                word.clear();
                short.push(c);
            }
        }
        short.push_str(&word);
        if short == name {
            name
        } else {
            Box::leak(short.into_boxed_str())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(
            short_type_name("fn(u64) -> core::option::Option<u64>"),
            "fn(u64) -> Option<u64>"
        );
        assert_eq!(
            short_type_name("fn((alloc::string::String, u8))"),
            "fn((String, u8))"
        );
    }
}
