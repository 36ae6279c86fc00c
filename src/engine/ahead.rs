//! Tasks sent ahead to reused workers: a worker that runs short tasks gets
//! the next ones queued in its input before it has finished the one it
//! runs, so that it goes from one to the next without waiting for us, and
//! we read its results (and send it more) in batches.
//!
//! How a task sent ahead counts: it is still *queued* ([`Engine::queued`]
//! counts it, no [`Event::Started`](super::Event::Started) has been told).
//! It starts when we read the result of the task before it on that worker
//! (the worker reads the next request as soon as it has sent a result):
//! then `Started` is told, and its timeout runs from there. If the worker
//! ends before that (a crash, a timeout or a kill of the task it runs,
//! [`Engine::killall`]), the tasks still ahead of it go back to the queue,
//! in call order, neither failed nor retried, and start again like any
//! queued task. One case blurs the line: when the worker is ended just as
//! its task returns, it may have begun the next one before the signal
//! reached it; that task goes back to the queue too, and runs again in
//! full. Killing a task sent ahead ([`Engine::kill`]) reports it at once as
//! [`Outcome::Killed`](crate::Outcome::Killed), sends the tasks behind it
//! back to the queue, and ends the worker when the tasks before it are
//! done (it may have begun the killed one by then).
//!
//! How many: with [`EngineSettings::tasks_ahead`](super::EngineSettings)
//! `None` (the default), up to [`MOST_AHEAD`] and about [`AHEAD_SPAN`] of
//! work by the time the worker's last task took, and none when that task
//! took [`SHORT_TASK`] or more, or when the one it runs has already run
//! that long (a task that long loses little to the round trip, and work
//! queued behind a long task waits while other workers may be idle). Only
//! function calls whose request is small, and that ask for the CPUs and
//! memory the worker's task asked for, go ahead; never to a worker that
//! is paused, reniced, being ended or retiring, nor while tasks start
//! with a delay between them or the engine does not start tasks. A worker
//! paused after its tasks were sent keeps them until it continues; that
//! is at most about [`AHEAD_SPAN`] of work in the automatic mode, and the
//! reason why the admission rules (CPUs, memory, the process cap) are not
//! asked again when a task sent ahead starts in its worker's place.

use std::time::{Duration, Instant};

use super::Engine;
use super::pool::WorkerKind;
use super::queue::Queued;
use super::running::RunningTask;
use crate::platform;
use crate::task::{Outcome, Work};
use crate::task::{StartInfo, TaskId, TaskReport};

/// The most tasks a worker holds ahead in the automatic mode.
pub const MOST_AHEAD: usize = 32;

/// About how much work (by the time the worker's last task took) a worker
/// holds ahead in the automatic mode.
pub const AHEAD_SPAN: Duration = Duration::from_millis(2);

/// In the automatic mode, no task goes ahead to a worker whose last task
/// took this long or longer, or whose current task has run this long.
pub const SHORT_TASK: Duration = Duration::from_millis(1);

/// How many tasks may go ahead to `task`'s worker now, counting those
/// there already.
fn depth(setting: Option<usize>, task: &RunningTask, now: Instant) -> usize {
    if let Some(fixed) = setting {
        return fixed;
    }
    match task.pace {
        Some(pace)
            if pace < SHORT_TASK && now.saturating_duration_since(task.started) < SHORT_TASK =>
        {
            let fit = AHEAD_SPAN.as_nanos() / pace.as_nanos().max(1);
            usize::try_from(fit)
                .unwrap_or(MOST_AHEAD)
                .clamp(1, MOST_AHEAD)
        }
        _ => 0,
    }
}

/// Whether `task`'s worker may take tasks ahead at all.
fn takes_ahead(task: &RunningTask) -> bool {
    task.worker_kind.is_some()
        && task.ending.is_none()
        && !task.retire
        && !task.pauses.is_paused()
        && !task.reniced
        && !task.stream_broken()
        && !task.has_result()
        && task.process.input.is_some()
}

/// Requests bound for one worker, in sends the kernel takes whole.
struct Batch {
    index: usize,
    kind: WorkerKind,
    room: usize,
    sends: Vec<(Vec<u8>, Vec<Queued>)>,
}

impl Batch {
    fn add(&mut self, frame: Vec<u8>, queued: Queued) {
        self.room -= 1;
        match self.sends.last_mut() {
            Some((bytes, tasks)) if bytes.len() + frame.len() <= platform::ATOMIC_SEND => {
                bytes.extend_from_slice(&frame);
                tasks.push(queued);
            }
            _ => self.sends.push((frame, vec![queued])),
        }
    }
}

impl Engine {
    /// Sends queued tasks ahead to the reused workers that take them, one
    /// worker after the other, in call order.
    pub(super) fn send_ahead(&mut self) {
        if !self.settings.reuse_workers
            || self.settings.tasks_ahead == Some(0)
            || self.settings.start_delay.is_some()
            || !self.gate.is_open()
            || self.yielding.renice_new
            || self.queue.is_empty()
        {
            return;
        }
        let now = Instant::now();
        let mut batches: Vec<Batch> = self
            .running
            .iter()
            .enumerate()
            .filter(|(_, task)| takes_ahead(task))
            .filter_map(|(index, task)| {
                let room =
                    depth(self.settings.tasks_ahead, task, now).saturating_sub(task.ahead.len());
                let kind = task.worker_kind.clone()?;
                (room > 0).then_some(Batch {
                    index,
                    kind,
                    room,
                    sends: Vec::new(),
                })
            })
            .collect();
        'dealing: while batches.iter().any(|b| b.room > 0) {
            for batch in batches.iter_mut().filter(|b| b.room > 0) {
                let Some(queued) = self.queue.pop_front() else {
                    break 'dealing;
                };
                match self.request_ahead(&queued, batch) {
                    Some(frame) => batch.add(frame, queued),
                    None => {
                        // It cannot go ahead: it waits for a worker of its
                        // own, and keeps its place.
                        self.queue.push_front(queued);
                        break 'dealing;
                    }
                }
            }
        }
        for batch in batches {
            self.deliver(batch);
        }
    }

    /// The request that sends `queued` ahead to `batch`'s worker, if it
    /// may go.
    fn request_ahead(&self, queued: &Queued, batch: &Batch) -> Option<Vec<u8>> {
        let small = match &queued.spec.work {
            Work::Call(call) => call.args.len() < platform::ATOMIC_SEND,
            _ => false,
        };
        // What admission weighed for the task the worker runs holds for
        // this one too.
        let running = &self.running[batch.index].spec.options;
        let alike = queued.spec.options.cpus == running.cpus
            && queued.spec.options.memory == running.memory;
        if !small || !alike {
            return None;
        }
        let Work::Call(call) = &queued.spec.work else {
            return None;
        };
        if !batch
            .kind
            .fits_call(&call.target, self.settings.worker_program.as_deref())
        {
            return None;
        }
        let start = StartInfo {
            id: queued.id,
            slot: self.running[batch.index].slot,
            attempt: queued.attempt,
        };
        let frame = self.worker_request(&queued.spec, &start).ok()?;
        (frame.len() <= platform::ATOMIC_SEND).then_some(frame)
    }

    /// Sends a batch; what the worker's input does not take now goes back
    /// to the queue.
    fn deliver(&mut self, batch: Batch) {
        let mut refused = Vec::new();
        let task = &mut self.running[batch.index];
        for (bytes, tasks) in batch.sends {
            let sent = match (&task.process.input, refused.is_empty()) {
                (Some(input), true) => platform::send_now(input, &bytes),
                _ => Ok(None),
            };
            match sent {
                Ok(Some(n)) if n == bytes.len() => task.ahead.extend(tasks),
                Ok(Some(n)) => {
                    // A send this small is taken whole or not at all on
                    // Linux; should a kernel split it, what is left goes
                    // the blocking way.
                    match task
                        .process
                        .input
                        .as_ref()
                        .map(|input| platform::send_all_unless_closed(input, &bytes[n..]))
                    {
                        Some(Ok(())) => task.ahead.extend(tasks),
                        _ => refused.extend(tasks),
                    }
                }
                // Its input is full, or it has gone (its end is noticed
                // the usual way).
                Ok(None) | Err(_) => refused.extend(tasks),
            }
        }
        for queued in refused.into_iter().rev() {
            self.queue.put_back(queued);
        }
    }

    /// Sends the tasks ahead of workers that are being ended back to the
    /// queue, in call order.
    pub(super) fn recall_ahead(&mut self) {
        let mut back = Vec::new();
        for task in &mut self.running {
            if task.ending.is_some() {
                back.extend(task.ahead.drain(..));
            }
        }
        self.put_back_all(back);
    }

    /// Puts tasks that were ahead at a worker back in the queue.
    pub(super) fn put_back_all(&mut self, mut back: Vec<Queued>) {
        back.sort_by_key(|queued| std::cmp::Reverse(queued.id));
        for queued in back {
            self.queue.put_back(queued);
        }
    }

    /// Kills task `id` if it was sent ahead to a worker: it ends as
    /// [`Outcome::Killed`] at the next [`Engine::process`], the tasks
    /// behind it go back to the queue, and the worker ends once the tasks
    /// before it are done. Returns whether it was ahead somewhere.
    pub(super) fn kill_ahead(&mut self, id: TaskId) -> bool {
        let Some((task, at)) = self.running.iter_mut().find_map(|task| {
            let at = task.ahead.iter().position(|queued| queued.id == id)?;
            Some((task, at))
        }) else {
            return false;
        };
        let mut behind: Vec<Queued> = task.ahead.drain(at..).collect();
        let killed = behind.remove(0);
        task.retire = true;
        self.queue.ended_outside.push(TaskReport::without_process(
            killed.id,
            killed.spec.name,
            Outcome::Killed,
            killed.attempt - 1,
        ));
        self.put_back_all(behind);
        true
    }

    /// Takes every task sent ahead out (for [`Engine::close`]); their
    /// workers end once the tasks they run are done.
    pub(super) fn drop_ahead(&mut self) -> Vec<TaskId> {
        let mut dropped = Vec::new();
        for task in &mut self.running {
            if !task.ahead.is_empty() {
                dropped.extend(task.ahead.drain(..).map(|queued| queued.id));
                task.retire = true;
            }
        }
        dropped
    }

    /// How many queued tasks were sent ahead to reused workers (part of
    /// [`Engine::queued`]; see [`Engine::set_tasks_ahead`]).
    ///
    /// ```
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// assert_eq!(engine.queued_at_workers(), 0);
    /// ```
    pub fn queued_at_workers(&self) -> usize {
        self.running.iter().map(|task| task.ahead.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ForeignWorker;
    use crate::task::TaskSpec;
    use crate::{Priority, Scheduler};

    fn double(x: u32) -> u32 {
        2 * x
    }

    /// A copy of this process (never started here).
    struct Copy;

    impl crate::task::ForkHost for Copy {
        fn prepare(&self) {}
        fn resume(&self) {}
        fn serve(&self, _: crate::task::ForkedLink) -> i32 {
            0
        }
    }

    /// A function call, a foreign call, a foreign call of another worker
    /// program, and a call served by a copy of this process (the Python
    /// package's tasks).
    fn made(which: usize) -> TaskSpec {
        let worker = ForeignWorker::new("/usr/bin/python3")
            .args(["-m", "serve"])
            .env("KEY", "value");
        match which {
            0 => TaskSpec::call(double, 1).unwrap(),
            1 => TaskSpec::foreign(worker, vec![1], "f"),
            2 => TaskSpec::foreign(worker.args(["more"]), vec![1], "f"),
            _ => TaskSpec::foreign(
                ForeignWorker::forked(std::sync::Arc::new(Copy)),
                vec![1],
                "f",
            ),
        }
    }

    #[test]
    fn a_call_fits_exactly_the_kind_its_launch_spec_makes() {
        let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
        let start = StartInfo {
            id: TaskId(0),
            slot: 1,
            attempt: 1,
        };
        for program in [None, Some(std::path::PathBuf::from("/usr/bin/env"))] {
            engine.settings.worker_program = program;
            for i in 0..4 {
                let (launch, _) = engine.launch_spec(&mut made(i), &start).unwrap();
                let kind = WorkerKind::of(&launch);
                for j in 0..4 {
                    let Work::Call(call) = &made(j).work else {
                        panic!("a call")
                    };
                    let fits =
                        kind.fits_call(&call.target, engine.settings.worker_program.as_deref());
                    assert_eq!(fits, i == j, "kind {i}, call {j}");
                }
            }
        }
    }
}
