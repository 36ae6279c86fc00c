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
    ///
    /// ```
    /// use dummymp::TaskOptions;
    /// let options = TaskOptions::new();
    /// assert_eq!((options.get_timeout(), options.get_retries()), (None, 0));
    /// assert_eq!((options.get_cpus(), options.get_memory()), (1, None));
    /// ```
    pub fn new() -> TaskOptions {
        TaskOptions::default()
    }

    /// Ends the task when it runs longer than `timeout` (wall-clock time
    /// it spends running): `SIGTERM` to its process group, `SIGKILL` after
    /// the kill grace period. It then ends as
    /// [`Outcome::TimedOut`](crate::Outcome::TimedOut).
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// use dummymp::{Command, DummyMp, Outcome, Priority, TaskOptions};
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// let options = TaskOptions::new().timeout(Duration::from_millis(50));
    /// let id = mp.run_command_with(options, Command::new("sleep").arg("60"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.outcome(id), Some(&Outcome::TimedOut));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> TaskOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the task again, up to `retries` more times, when it fails
    /// (any outcome but success and [`Killed`](crate::Outcome::Killed)).
    /// The report keeps the last attempt's outcome and counts the attempts.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::{Command, DummyMp, Outcome, Priority, TaskOptions};
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// let id = mp.run_command_with(TaskOptions::new().retries(2), Command::new("false"))?;
    /// mp.process_until_done()?;
    /// let report = mp.report(id).unwrap();
    /// assert_eq!(report.outcome, Outcome::Exited { code: 1 });
    /// assert_eq!(report.attempts, 3);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn retries(mut self, retries: u32) -> TaskOptions {
        self.retries = retries;
        self
    }

    /// How many CPUs the task uses (at least 1). On a Slurm cluster each
    /// task asks for that many (`srun -c`) and the number of tasks that run
    /// at once accounts for it.
    ///
    /// ```
    /// use dummymp::TaskOptions;
    /// assert_eq!(TaskOptions::new().cpus(4).get_cpus(), 4);
    /// assert_eq!(TaskOptions::new().cpus(0).get_cpus(), 1); // at least one
    /// ```
    pub fn cpus(mut self, cpus: usize) -> TaskOptions {
        self.cpus = cpus.max(1);
        self
    }

    /// How much memory the task needs at most, in bytes: a task starts
    /// only when that much is available beyond the priority mode's reserve.
    ///
    /// ```
    /// use dummymp::TaskOptions;
    /// let options = TaskOptions::new().memory(512 << 20); // 512 MiB
    /// assert_eq!(options.get_memory(), Some(536_870_912));
    /// ```
    pub fn memory(mut self, bytes: u64) -> TaskOptions {
        self.memory = Some(bytes);
        self
    }

    /// The timeout, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::TaskOptions;
    /// assert_eq!(TaskOptions::new().get_timeout(), None);
    /// let options = TaskOptions::new().timeout(Duration::from_secs(30));
    /// assert_eq!(options.get_timeout(), Some(Duration::from_secs(30)));
    /// ```
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// How many more times a failing task runs.
    ///
    /// ```
    /// use dummymp::TaskOptions;
    /// assert_eq!(TaskOptions::new().get_retries(), 0);
    /// assert_eq!(TaskOptions::new().retries(2).get_retries(), 2);
    /// ```
    pub fn get_retries(&self) -> u32 {
        self.retries
    }

    /// The CPUs the task uses.
    ///
    /// ```
    /// use dummymp::TaskOptions;
    /// assert_eq!(TaskOptions::new().get_cpus(), 1);
    /// assert_eq!(TaskOptions::new().cpus(8).get_cpus(), 8);
    /// ```
    pub fn get_cpus(&self) -> usize {
        self.cpus
    }

    /// The memory estimate, if any.
    ///
    /// ```
    /// use dummymp::TaskOptions;
    /// assert_eq!(TaskOptions::new().get_memory(), None);
    /// assert_eq!(TaskOptions::new().memory(1 << 30).get_memory(), Some(1 << 30));
    /// ```
    pub fn get_memory(&self) -> Option<u64> {
        self.memory
    }
}
