//! [`TaskOptions`]: what one task may ask for besides its work: a timeout,
//! retries, CPUs and memory.

use std::time::Duration;

/// Per-task settings: a timeout, retries, the CPUs and the memory it needs.
/// The defaults: no timeout, no retry, one CPU, no memory estimate.
///
/// ```
/// # dummymp::init();
/// use std::time::Duration;
/// use dummymp::{Command, DummyMp, Outcome, TaskOptions};
///
/// let mut mp = DummyMp::new();
/// let options = TaskOptions::new().timeout(Duration::from_millis(100)).retries(1);
/// let slow = mp.run_command_with(options, Command::new("sleep").arg("60"))?;
/// mp.process_until_done()?;
/// assert_eq!(mp.outcome(slow), Some(&Outcome::TimedOut));
/// assert_eq!(mp.report(slow).unwrap().attempts, 2);
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: u32,
    pub(crate) cpus: usize,
    pub(crate) memory: Option<u64>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            timeout: None,
            retries: 0,
            cpus: 1,
            memory: None,
        }
    }
}

impl TaskOptions {
    /// The defaults: no timeout, no retry, one CPU, no memory estimate.
    pub fn new() -> TaskOptions {
        TaskOptions::default()
    }

    /// Ends the task when it runs longer than `timeout` (wall-clock time
    /// it spends running): `SIGTERM` to its process group, `SIGKILL` after
    /// the kill grace period. It then ends as
    /// [`Outcome::TimedOut`](crate::Outcome::TimedOut).
    pub fn timeout(mut self, timeout: Duration) -> TaskOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the task again, up to `retries` more times, when it fails
    /// (any outcome but success and [`Killed`](crate::Outcome::Killed)).
    /// The report keeps the last attempt's outcome and counts the attempts.
    pub fn retries(mut self, retries: u32) -> TaskOptions {
        self.retries = retries;
        self
    }

    /// How many CPUs the task uses (at least 1). On a Slurm cluster each
    /// task asks for that many (`srun -c`) and the number of tasks that run
    /// at once accounts for it.
    pub fn cpus(mut self, cpus: usize) -> TaskOptions {
        self.cpus = cpus.max(1);
        self
    }

    /// How much memory the task needs at most, in bytes: a task starts
    /// only when that much is available beyond the priority mode's reserve.
    pub fn memory(mut self, bytes: u64) -> TaskOptions {
        self.memory = Some(bytes);
        self
    }

    /// The timeout, if any.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// How many more times a failing task runs.
    pub fn get_retries(&self) -> u32 {
        self.retries
    }

    /// The CPUs the task uses.
    pub fn get_cpus(&self) -> usize {
        self.cpus
    }

    /// The memory estimate, if any.
    pub fn get_memory(&self) -> Option<u64> {
        self.memory
    }
}
