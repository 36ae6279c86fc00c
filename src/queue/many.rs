//! Queueing one function over many arguments: [`DummyMp::run_many`] (the
//! handles) and [`DummyMp::map`] (the values, in order).

use crate::callable::TaskFunction;
use crate::engine::TaskSpec;
use crate::error::{Error, TaskFailure};
use crate::task::Outcome;
use crate::task::TaskOptions;
use crate::task::{TaskHandle, TaskId};

use super::DummyMp;

impl DummyMp {
    /// Queues `function(args)` for every `args` of `items`, in order, and
    /// returns their handles (ids follow the items' order). Nothing runs
    /// until the queue is processed. Each item is what
    /// [`run`](DummyMp::run) takes: the argument, `()`, or a tuple of the
    /// arguments.
    ///
    /// ```
    /// # dummymp::init();
    /// fn area(width: u32, height: u32) -> u32 { width * height }
    /// let mut mp = dummymp::DummyMp::new();
    /// let tasks = mp.run_many(area, [(2, 3), (4, 5)])?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.value(tasks[1]), Some(&20));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::EncodeArguments`] when an item cannot be serialised; then
    /// none of the items is queued.
    pub fn run_many<F, Signature, I>(
        &mut self,
        function: F,
        items: I,
    ) -> Result<Vec<TaskHandle<F::Output>>, Error>
    where
        F: TaskFunction<Signature>,
        I: IntoIterator<Item = F::Args>,
    {
        self.run_many_with(self.task_options.clone(), function, items)
    }

    /// [`run_many`](DummyMp::run_many) with the same options for every
    /// task.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let mut mp = dummymp::DummyMp::new();
    /// let options = dummymp::TaskOptions::new().timeout(Duration::from_secs(30));
    /// let naps = mp.run_many_with(options, nap, [1, 2, 3])?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.value(naps[2]), Some(&3));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::EncodeArguments`] when an item cannot be serialised; then
    /// none of the items is queued.
    pub fn run_many_with<F, Signature, I>(
        &mut self,
        options: TaskOptions,
        function: F,
        items: I,
    ) -> Result<Vec<TaskHandle<F::Output>>, Error>
    where
        F: TaskFunction<Signature>,
        I: IntoIterator<Item = F::Args>,
    {
        let specs = items
            .into_iter()
            .map(|args| Ok(TaskSpec::call(function, args)?.with_options(options.clone())))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(specs
            .into_iter()
            .map(|spec| self.submit_call::<F::Output>(spec))
            .collect())
    }

    /// Runs `function` over every item of `items`, each in a task of its
    /// own, and returns the values in the items' order: the habit of
    /// Python's `Pool.map` and rayon's `par_iter().map().collect()`, with
    /// the queue's scheduling (priority mode, capacity, process cap)
    /// deciding how many run at once.
    ///
    /// It processes the queue until these tasks have ended (tasks queued
    /// before are processed too, but not waited for). The values are moved
    /// out of the queue; the tasks' reports stay
    /// ([`report`](DummyMp::report), [`outcome`](DummyMp::outcome)).
    ///
    /// ```
    /// # dummymp::init();
    /// fn square(x: u64) -> u64 { x * x }
    /// let mut mp = dummymp::DummyMp::new();
    /// let squares = mp.map(square, 1..=5)?;
    /// assert_eq!(squares, [1, 4, 9, 16, 25]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::TasksFailed`] when some tasks did not return a value (a
    ///   panic, a crash, a timeout...): it lists each failed item with its
    ///   position, its task id and its [`Outcome`]. Nothing is moved out
    ///   then: the values of the tasks that returned stay in the queue,
    ///   for [`take_returns`](DummyMp::take_returns) or
    ///   [`value`](DummyMp::value).
    /// - [`Error::EncodeArguments`] when an item cannot be serialised;
    ///   nothing is queued then.
    /// - [`Error::Os`] when the system refuses to wait.
    pub fn map<F, Signature, I>(&mut self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: TaskFunction<Signature>,
        I: IntoIterator<Item = F::Args>,
    {
        self.map_with(self.task_options.clone(), function, items)
    }

    /// [`map`](DummyMp::map) with the same options for every task: a
    /// timeout, retries, CPUs, memory.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::time::Duration;
    /// fn increment(x: u32) -> u32 { x + 1 }
    /// let mut mp = dummymp::DummyMp::new();
    /// let options = dummymp::TaskOptions::new().retries(2).timeout(Duration::from_secs(60));
    /// assert_eq!(mp.map_with(options, increment, [1, 2])?, [2, 3]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`map`](DummyMp::map).
    pub fn map_with<F, Signature, I>(
        &mut self,
        options: TaskOptions,
        function: F,
        items: I,
    ) -> Result<Vec<F::Output>, Error>
    where
        F: TaskFunction<Signature>,
        I: IntoIterator<Item = F::Args>,
    {
        let handles = self.run_many_with(options, function, items)?;
        let ids: Vec<TaskId> = handles.iter().map(|h| h.id()).collect();
        self.process_until_ended(&ids)?;
        let failed: Vec<TaskFailure> = ids
            .iter()
            .enumerate()
            .filter_map(|(item, &task)| {
                let outcome = match self.report(task) {
                    Some(report) if report.value.as_ref().is_some_and(|v| v.is::<F::Output>()) => {
                        return None;
                    }
                    Some(report) => report.outcome.clone(),
                    None => Outcome::Failed {
                        reason: "the queue went idle before the task ended".to_string(),
                    },
                };
                Some(TaskFailure {
                    item,
                    task,
                    outcome,
                })
            })
            .collect();
        if !failed.is_empty() {
            return Err(Error::TasksFailed {
                failed,
                of: ids.len(),
            });
        }
        Ok(handles
            .into_iter()
            .filter_map(|handle| self.take_value(handle))
            .collect())
    }

    /// Processes the queue until each task of `ids` has ended.
    fn process_until_ended(&mut self, ids: &[TaskId]) -> Result<(), Error> {
        let ended = |mp: &DummyMp| ids.iter().all(|&id| mp.report(id).is_some());
        loop {
            let idle = self.process_process()?;
            if ended(self) {
                return Ok(());
            }
            if idle {
                // Every task has its report before the queue is idle; should
                // that ever not hold, the caller reports the missing ones.
                return Ok(());
            }
            self.engine.wait(None, &[])?;
        }
    }
}
