//! Reading what tasks returned and how they ended.

use std::any::TypeId;
use std::collections::BTreeMap;

use crate::callable::short_type_name;
use crate::error::Error;
use crate::task::Outcome;
use crate::task::{Progress, TaskReport};
use crate::task::{TaskHandle, TaskId};

use super::DummyMp;

impl DummyMp {
    /// The values returned so far by the tasks that return an `R`, by call
    /// index, copied. Tasks that have not ended, that did not return (see
    /// [`outcome`](DummyMp::outcome)), or that return another type are not
    /// in it; nor are values already taken out
    /// ([`take_returns`](DummyMp::take_returns), [`map`](DummyMp::map)).
    ///
    /// ```
    /// # dummymp::init();
    /// fn half(x: u32) -> u32 { x / 2 }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(half, 10)?;
    /// mp.run(half, 4)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.returns::<u32>()?.into_iter().collect::<Vec<_>>(), [(0, 5), (1, 2)]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ReturnType`] when no function task of the queue returns an
    /// `R` but some return another type: asking for `u64` where the
    /// functions return `u32` is a mistake, not an empty map. (The Python
    /// original had one untyped dictionary; this check is what replaces
    /// it.) A queue holding tasks of several return types gives the values
    /// of the type asked for.
    pub fn returns<R: Clone + 'static>(&self) -> Result<BTreeMap<usize, R>, Error> {
        self.check_return_type::<R>()?;
        Ok(self
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(index, task)| {
                let value = task.report.as_ref()?.value.as_ref()?;
                Some((index, value.downcast_ref::<R>()?.clone()))
            })
            .collect())
    }

    /// Moves the values returned so far by the tasks that return an `R`
    /// out of the queue, by call index: no `Clone` needed, nothing copied.
    /// Taken values are gone from [`returns`](DummyMp::returns) and
    /// [`value`](DummyMp::value); outcomes and reports stay.
    ///
    /// ```
    /// # dummymp::init();
    /// fn big(n: usize) -> Vec<u8> { vec![7; n] }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(big, 1 << 20)?;
    /// mp.process_until_done()?;
    /// let mut values = mp.take_returns::<Vec<u8>>()?;
    /// assert_eq!(values.remove(&0).map(|v| v.len()), Some(1 << 20));
    /// assert!(mp.take_returns::<Vec<u8>>()?.is_empty()); // taken
    /// assert_eq!(mp.outcome(0), Some(&dummymp::Outcome::Returned));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ReturnType`], as for [`returns`](DummyMp::returns); nothing
    /// is taken then.
    pub fn take_returns<R: 'static>(&mut self) -> Result<BTreeMap<usize, R>, Error> {
        self.check_return_type::<R>()?;
        Ok(self
            .tasks
            .iter_mut()
            .enumerate()
            .filter_map(|(index, task)| {
                let slot = &mut task.report.as_mut()?.value;
                if !slot.as_ref()?.is::<R>() {
                    return None;
                }
                let value = slot.take()?.downcast::<R>().ok()?;
                Some((index, *value))
            })
            .collect())
    }

    /// The value the task behind `handle` returned, once it has.
    ///
    /// ```
    /// # dummymp::init();
    /// fn greet(name: String) -> String { format!("hello, {name}") }
    /// let mut mp = dummymp::DummyMp::new();
    /// let handle = mp.run(greet, "world".to_string())?;
    /// assert_eq!(mp.value(handle), None, "not run yet");
    /// mp.process_until_done()?;
    /// assert_eq!(mp.value(handle).map(String::as_str), Some("hello, world"));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn value<R: 'static>(&self, handle: TaskHandle<R>) -> Option<&R> {
        self.report(handle.id())?.value.as_ref()?.downcast_ref()
    }

    /// Moves the value the task behind `handle` returned out of the queue,
    /// once it has returned; `None` before, and after it was taken.
    ///
    /// ```
    /// # dummymp::init();
    /// fn words(n: usize) -> Vec<String> { vec!["word".to_string(); n] }
    /// let mut mp = dummymp::DummyMp::new();
    /// let task = mp.run(words, 3)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.take_value(task).map(|w| w.len()), Some(3));
    /// assert_eq!(mp.take_value(task), None);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn take_value<R: 'static>(&mut self, handle: TaskHandle<R>) -> Option<R> {
        let slot = &mut self.tasks.get_mut(handle.index())?.report.as_mut()?.value;
        if !slot.as_ref()?.is::<R>() {
            return None;
        }
        slot.take()?.downcast::<R>().ok().map(|value| *value)
    }

    /// How the task `id` ended, once it has. `id` is a [`TaskId`], a
    /// [`TaskHandle`] or a plain call index (the keys of
    /// [`returns`](DummyMp::returns)).
    ///
    /// ```
    /// # dummymp::init();
    /// fn fails() -> u8 { panic!("no") }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(fails, ())?;
    /// mp.process_until_done()?;
    /// assert!(mp.returns::<u8>()?.is_empty());
    /// assert!(matches!(mp.outcome(0), Some(dummymp::Outcome::Panicked { .. })));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn outcome(&self, id: impl Into<TaskId>) -> Option<&Outcome> {
        self.report(id).map(|r| &r.outcome)
    }

    /// Everything known about the task `id` once it has ended: outcome,
    /// process id, exit status, runtime, attempts, captured output. `id`
    /// is a [`TaskId`], a [`TaskHandle`] or a plain call index.
    ///
    /// ```
    /// # dummymp::init();
    /// fn pid() -> u32 { std::process::id() }
    /// let mut mp = dummymp::DummyMp::new();
    /// let task = mp.run(pid, ())?;
    /// mp.process_until_done()?;
    /// let report = mp.report(task).unwrap();
    /// assert_eq!(report.pid, mp.value(task).copied());
    /// assert_eq!(report.attempts, 1);
    /// assert_eq!(mp.report(0).unwrap().id, task.id()); // by call index
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn report(&self, id: impl Into<TaskId>) -> Option<&TaskReport> {
        self.tasks.get(id.into().0)?.report.as_ref()
    }

    /// Reports of every task that has ended, by call index.
    ///
    /// ```
    /// # dummymp::init();
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run_command(dummymp::Command::new("true"))?;
    /// mp.run_command(dummymp::Command::new("false"))?;
    /// mp.process_until_done()?;
    /// let failed: Vec<_> = mp.reports().filter(|r| !r.outcome.is_success()).map(|r| r.id.index()).collect();
    /// assert_eq!(failed, [1]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn reports(&self) -> impl Iterator<Item = &TaskReport> {
        self.tasks.iter().filter_map(|t| t.report.as_ref())
    }

    /// Process ids of the running tasks.
    ///
    /// ```
    /// # dummymp::init();
    /// let mut mp = dummymp::DummyMp::new();
    /// assert!(mp.running_pids().is_empty());
    /// mp.run_command(dummymp::Command::new("sleep").arg("60"))?;
    /// mp.process_process()?;
    /// assert_eq!(mp.running_pids().len(), 1);
    /// mp.killall();
    /// assert!(mp.running_pids().is_empty());
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn running_pids(&self) -> Vec<u32> {
        self.engine.running_pids()
    }

    /// Counts of completed, running and all tasks.
    ///
    /// ```
    /// # dummymp::init();
    /// fn one() -> u8 { 1 }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run_many(one, [(), ()])?;
    /// assert_eq!(mp.progress(), dummymp::Progress { completed: 0, running: 0, total: 2 });
    /// mp.process_until_done()?;
    /// assert_eq!(mp.progress(), dummymp::Progress { completed: 2, running: 0, total: 2 });
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn progress(&self) -> Progress {
        Progress {
            completed: self.completed,
            running: self.running,
            total: self.tasks.len(),
        }
    }

    /// Tasks waiting to start.
    ///
    /// ```
    /// # dummymp::init();
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run_command(dummymp::Command::new("true"))?;
    /// assert_eq!(mp.queued(), 1);
    /// mp.process_until_done()?;
    /// assert_eq!(mp.queued(), 0);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn queued(&self) -> usize {
        self.engine.queued()
    }

    /// `Ok` when some function task returns an `R`, or none returns
    /// anything; else [`Error::ReturnType`] with the types they return.
    fn check_return_type<R: 'static>(&self) -> Result<(), Error> {
        let asked = TypeId::of::<R>();
        let mut stored = Vec::new();
        for returns in self.tasks.iter().filter_map(|t| t.returns.as_ref()) {
            if returns.id == asked {
                return Ok(());
            }
            if !stored.contains(&returns.name) {
                stored.push(returns.name);
            }
        }
        if stored.is_empty() {
            return Ok(());
        }
        Err(Error::ReturnType {
            asked: short_type_name(std::any::type_name::<R>()),
            stored,
        })
    }
}
