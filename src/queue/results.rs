//! Reading what tasks returned and how they ended.

use std::collections::BTreeMap;

use crate::outcome::Outcome;
use crate::report::{Progress, TaskReport};
use crate::task::{TaskHandle, TaskId};

use super::DummyMp;

impl DummyMp {
    /// The values returned by the tasks that returned an `R`, by call
    /// index. Tasks that failed, are not done, or return another type are
    /// not in it (see [`outcome`](DummyMp::outcome)).
    ///
    /// ```
    /// # dummymp::init();
    /// fn half(x: u32) -> u32 { x / 2 }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(half, 10)?;
    /// mp.run(half, 4)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.returns::<u32>().into_iter().collect::<Vec<_>>(), [(0, 5), (1, 2)]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
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

    /// How the task `id` ended, once it has. `id` is a [`TaskId`], a
    /// [`TaskHandle`] or a plain call index.
    ///
    /// ```
    /// # dummymp::init();
    /// fn fails((): ()) -> u8 { panic!("no") }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(fails, ())?;
    /// mp.process_until_done()?;
    /// assert!(matches!(mp.outcome(0), Some(dummymp::Outcome::Panicked { .. })));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
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

    /// Process ids of the running tasks.
    pub fn running_pids(&self) -> Vec<u32> {
        self.engine.running_pids()
    }

    /// Counts of completed, running and all tasks.
    pub fn progress(&self) -> Progress {
        Progress {
            completed: self.completed,
            running: self.running,
            total: self.tasks.len(),
        }
    }

    /// Tasks waiting to start.
    pub fn queued(&self) -> usize {
        self.engine.queued()
    }
}
