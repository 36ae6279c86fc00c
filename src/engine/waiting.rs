//! Waiting for something to happen: one `poll(2)` over every task's
//! output and exit, the leftovers being swept, idle workers, the launcher's
//! channel, the scheduler's wake-up descriptor and the front end's own
//! descriptors, until one is ready or the next deadline comes.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use super::Engine;
use crate::error::Error;
use crate::platform;

impl Engine {
    /// Sleeps until something happens to a task, the scheduler wakes up,
    /// one of `extra` becomes readable, the next deadline comes, or
    /// `limit`. Returns, for each of `extra`, whether it is readable. Call
    /// [`Engine::process`] next.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsFd;
    /// use dummymp::engine::Engine;
    /// use dummymp::{Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// let (reader, mut writer) = std::io::pipe()?;
    /// writer.write_all(b"go")?;
    /// // Nothing runs, but the front end's own descriptor is readable.
    /// assert_eq!(engine.wait(None, &[reader.as_fd()])?, [true]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(
        &mut self,
        limit: Option<Instant>,
        extra: &[BorrowedFd<'_>],
    ) -> Result<Vec<bool>, Error> {
        let deadline = [limit, self.next_deadline()].into_iter().flatten().min();
        let mut timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        // Exits the fork server reported that were taken off its channel
        // while starting workers (or looking for another worker's exit):
        // the channel no longer says so; without this, those tasks would
        // wait for the next event to be noticed.
        if self.launch.take_stored_exits() {
            for task in &mut self.running {
                if task.process.exit_stored() {
                    task.exit_ready = true;
                    timeout = Some(Duration::ZERO);
                }
            }
        }
        // What each polled descriptor belongs to.
        enum Owner {
            Output(usize),
            Exit(usize),
            LaunchExits,
            IdleWorker,
            Other,
            Extra(usize),
        }
        let mut fds = Vec::with_capacity(self.running.len() * 3 + extra.len() + 2);
        let mut owners = Vec::with_capacity(fds.capacity());
        for (index, task) in self.running.iter().enumerate() {
            for fd in task.output_fds() {
                fds.push(fd);
                owners.push(Owner::Output(index));
            }
            if let Some(fd) = task.process.exit_fd() {
                fds.push(fd);
                owners.push(Owner::Exit(index));
            }
        }
        for fd in self.sweeper.fds() {
            fds.push(fd);
            owners.push(Owner::Other);
        }
        for fd in self.pool.fds() {
            fds.push(fd);
            owners.push(Owner::IdleWorker);
        }
        if let Some(fd) = self.launch.exits_fd() {
            fds.push(fd);
            owners.push(Owner::LaunchExits);
        }
        if ((!self.queue.is_empty() && !self.paused) || self.yielding.advising)
            && let Some(fd) = self.scheduler.wake_fd()
        {
            fds.push(fd);
            owners.push(Owner::Other);
        }
        for (index, fd) in extra.iter().enumerate() {
            fds.push(*fd);
            owners.push(Owner::Extra(index));
        }
        let mut extras_ready = vec![false; extra.len()];
        if fds.is_empty() && timeout.is_none() {
            return Ok(extras_ready);
        }
        let ready =
            platform::wait_readable(&fds, timeout).map_err(Error::os("waiting for tasks"))?;
        drop(fds);
        for (owner, ready) in owners.into_iter().zip(ready) {
            if !ready {
                continue;
            }
            match owner {
                Owner::Output(index) => self.running[index].io_ready = true,
                Owner::Exit(index) => self.running[index].exit_ready = true,
                // An exit announced there: look at those it may be.
                Owner::LaunchExits => {
                    for task in &mut self.running {
                        if task.process.exit_on_channel() {
                            task.exit_ready = true;
                        }
                    }
                }
                Owner::IdleWorker => self.pool.exit_seen = true,
                Owner::Other => {}
                Owner::Extra(index) => extras_ready[index] = true,
            }
        }
        self.waited = true;
        Ok(extras_ready)
    }
}
