//! Runs foreign-load measurements on a background thread, so that the
//! scheduler keeps reaping tasks and relaying messages while one samples.
//!
//! A measurement thread reads the machine (with a scan of every process
//! for the first measurement of a mode, which also posts the instant
//! estimate, or when the last measurement found load), sleeps the sampling
//! interval, reads again and posts the result. Every post also writes a
//! byte to a wake-up pipe whose read end the event loop polls, so a
//! waiting scheduler wakes up as soon as a result is in.
//!
//! Normally one thread makes one measurement and ends; the next starts when
//! the last one is older than the mode's re-measure interval. In
//! *continuous* mode (the scheduler waits for CPUs with nothing of ours
//! running, or has paused tasks for foreign load) the thread goes on
//! measuring, each measurement starting where the last one ended, so a
//! result arrives every sampling interval. It goes on only while the
//! scheduler keeps asking (each [`LoadMonitor::set_continuous`] call covers
//! the next measurement), so a scheduler that is no longer consulted
//! leaves no thread running.

use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use super::{
    LoadMeasurement, LoadSampler, MeasurementKind, OwnProcesses, ProcessScan, nothing_counted,
};
use crate::cpus::CpuInfo;
use crate::priority::Priority;

enum Event {
    Measured(LoadMeasurement),
    Failed(io::Error),
    /// The thread ended.
    Finished,
}

/// The scheduler's view of foreign load, kept up to date in the background.
pub(crate) struct LoadMonitor {
    priority: Priority,
    own: OwnProcesses,
    estimate: Option<Arc<LoadMeasurement>>,
    sampled: Option<Arc<LoadMeasurement>>,
    in_flight: Option<Receiver<Event>>,
    /// Created with the first measurement.
    wake: Option<(PipeReader, Arc<PipeWriter>)>,
    /// Whether measurements should follow each other without pause.
    continuous: bool,
    /// The running thread's "one more" flag (see the module comment).
    again: Option<Arc<AtomicBool>>,
}

impl LoadMonitor {
    pub(crate) fn new(priority: Priority, own: OwnProcesses) -> LoadMonitor {
        LoadMonitor {
            priority,
            own,
            estimate: None,
            sampled: None,
            in_flight: None,
            wake: None,
            continuous: false,
            again: None,
        }
    }

    /// Switches mode: measurements made with another threshold are dropped.
    pub(crate) fn set_priority(&mut self, priority: Priority) {
        if priority != self.priority {
            self.priority = priority;
            self.forget();
        }
    }

    /// Drops every measurement, and any in progress.
    pub(crate) fn forget(&mut self) {
        self.estimate = None;
        self.sampled = None;
        self.in_flight = None;
        self.again = None;
    }

    /// Asks for measurements back to back (`true`) or at the mode's
    /// re-measure interval (`false`). While continuous, call this at least
    /// once per result to keep it so.
    pub(crate) fn set_continuous(&mut self, continuous: bool) {
        self.continuous = continuous;
        if let Some(again) = &self.again {
            again.store(continuous, Ordering::Release);
        }
    }

    /// Readable when a result has arrived; see [`LoadMonitor::collect`].
    pub(crate) fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(|(reader, _)| reader.as_fd())
    }

    fn wake_writer(&mut self) -> io::Result<Arc<PipeWriter>> {
        if let Some((_, writer)) = &self.wake {
            return Ok(Arc::clone(writer));
        }
        let (reader, writer) = std::io::pipe()?;
        crate::platform::set_nonblocking(&reader)?;
        crate::platform::set_nonblocking(&writer)?;
        let writer = Arc::new(writer);
        self.wake = Some((reader, Arc::clone(&writer)));
        Ok(writer)
    }

    /// Takes in the results that arrived, without blocking.
    pub(crate) fn collect(&mut self) {
        if let Some((reader, _)) = &self.wake {
            let mut sink = [0u8; 64];
            while matches!((&*reader).read(&mut sink), Ok(n) if n > 0) {}
        }
        while let Some(rx) = &self.in_flight {
            match rx.try_recv() {
                Ok(event) => self.accept(event),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.finished(),
            }
        }
    }

    fn finished(&mut self) {
        self.in_flight = None;
        self.again = None;
    }

    fn accept(&mut self, event: Event) {
        match event {
            Event::Measured(m) if m.kind == MeasurementKind::Estimate => {
                log::debug!(target: "dummymp::load", "{m}");
                self.estimate = Some(Arc::new(m));
            }
            Event::Measured(m) => {
                log::debug!(target: "dummymp::load", "{} mode: {m}", m.priority);
                self.sampled = Some(Arc::new(m));
            }
            Event::Failed(error) => {
                log::warn!(
                    target: "dummymp::load",
                    "cannot measure the load of other processes ({error}); \
                     treating every usable CPU as free"
                );
                self.sampled = Some(Arc::new(self.nothing_counted()));
            }
            Event::Finished => self.finished(),
        }
    }

    /// A measurement that counts no foreign load: what `Nuclear` assumes,
    /// and what is left when measuring is impossible.
    fn nothing_counted(&self) -> LoadMeasurement {
        nothing_counted(self.priority, &CpuInfo::current(), Instant::now())
    }

    /// The measurement the scheduler should act on now: the latest sampled
    /// one, else (except in `Generous`, which waits for a sample) the
    /// estimate.
    pub(crate) fn current(&self) -> Option<&Arc<LoadMeasurement>> {
        // A mode that never forces a task (Generous) waits for a sample.
        self.sampled.as_ref().or(self
            .estimate
            .as_ref()
            .filter(|_| self.priority.forces_one()))
    }

    /// The latest measurement made over a sampling interval, if any.
    pub(crate) fn sampled(&self) -> Option<&Arc<LoadMeasurement>> {
        self.sampled.as_ref()
    }

    /// Whether a measurement is in progress.
    pub(crate) fn measuring(&self) -> bool {
        self.in_flight.is_some()
    }

    /// How long a sampled measurement stays fresh now.
    fn freshness(&self) -> Option<Duration> {
        if self.continuous {
            Some(Duration::ZERO)
        } else {
            self.priority.remeasure_interval()
        }
    }

    /// When the current sampled measurement goes stale and a new one should
    /// be requested; `None` while one is in progress, or in `Nuclear`.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.in_flight.is_some() || !self.priority.measures_load() {
            return None;
        }
        let freshness = self.freshness()?;
        Some(
            self.sampled
                .as_ref()
                .map_or_else(Instant::now, |m| m.taken_at + freshness),
        )
    }

    /// Starts a measurement unless one is in progress or the last one is
    /// still fresh.
    pub(crate) fn refresh_if_stale(&mut self, now: Instant) {
        if self.in_flight.is_some() || !self.priority.measures_load() {
            return;
        }
        let stale = match (&self.sampled, self.freshness()) {
            (Some(m), Some(freshness)) => now >= m.taken_at + freshness,
            _ => true,
        };
        if stale {
            self.start();
        }
    }

    /// Waits for a sampled measurement that is fresh (by the mode's
    /// re-measure interval) and returns it.
    pub(crate) fn measure_blocking(&mut self) -> Arc<LoadMeasurement> {
        self.collect();
        if !self.priority.measures_load() {
            let m = Arc::new(self.nothing_counted());
            self.sampled = Some(Arc::clone(&m));
            return m;
        }
        let since = Instant::now();
        let remeasure = self.priority.remeasure_interval().unwrap_or_default();
        if let Some(m) = &self.sampled
            && since < m.taken_at + remeasure
        {
            return Arc::clone(m);
        }
        if self.in_flight.is_none() {
            self.start();
        }
        while let Some(rx) = &self.in_flight {
            match rx.recv() {
                Ok(event) => self.accept(event),
                Err(_) => self.finished(),
            }
            if let Some(m) = self.sampled.as_ref().filter(|m| m.taken_at >= since) {
                return Arc::clone(m);
            }
        }
        self.accept(Event::Failed(io::Error::other(
            "the measurement thread ended without a result",
        )));
        self.sampled
            .clone()
            .unwrap_or_else(|| Arc::new(self.nothing_counted()))
    }

    fn start(&mut self) {
        let Some(interval) = self.priority.sample_interval() else {
            return;
        };
        let wake = match self.wake_writer() {
            Ok(wake) => wake,
            Err(error) => return self.accept(Event::Failed(error)),
        };
        let (tx, rx) = mpsc::channel();
        let again = Arc::new(AtomicBool::new(self.continuous));
        let job = Job {
            sampler: LoadSampler::new(self.priority, self.own.clone(), ProcessScan::WhenLoaded),
            with_estimate: self.sampled.is_none() && self.estimate.is_none(),
            expect_load: self
                .sampled
                .as_ref()
                .is_some_and(|m| m.kind == MeasurementKind::Sampled),
            again: Arc::clone(&again),
            tx,
            wake,
        };
        let spawned = std::thread::Builder::new()
            .name("dummymp-load".into())
            .spawn(move || job.run(interval));
        match spawned {
            Ok(_) => {
                self.in_flight = Some(rx);
                self.again = Some(again);
            }
            Err(error) => self.accept(Event::Failed(error)),
        }
    }
}

struct Job {
    sampler: LoadSampler,
    with_estimate: bool,
    /// Whether the last measurement had to look at every process: then
    /// this one scans from the start rather than finding out halfway.
    expect_load: bool,
    again: Arc<AtomicBool>,
    tx: Sender<Event>,
    wake: Arc<PipeWriter>,
}

impl Job {
    fn run(mut self, interval: Duration) {
        if let Err(error) = self.measure(interval) {
            self.post(Event::Failed(error));
        }
        self.post(Event::Finished);
    }

    fn measure(&mut self, interval: Duration) -> io::Result<()> {
        let mut before = self.sampler.probe(self.with_estimate || self.expect_load)?;
        if self.with_estimate
            && let Some(m) = self.sampler.estimate(&before, &CpuInfo::current())
            && !self.post(Event::Measured(m))
        {
            return Ok(());
        }
        loop {
            let (m, next) = self.sampler.measure(before, interval)?;
            if !self.post(Event::Measured(m)) || !self.again.swap(false, Ordering::AcqRel) {
                return Ok(());
            }
            before = next;
        }
    }

    /// Sends an event and wakes the event loop; false once nobody listens.
    fn post(&self, event: Event) -> bool {
        let sent = self.tx.send(event).is_ok();
        // A full pipe already holds a wake-up; nothing is lost.
        let _ = (&*self.wake).write(&[1]);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_measurement_posts_an_estimate_then_a_sample() {
        let mut monitor = LoadMonitor::new(Priority::Extreme, OwnProcesses::new());
        assert!(monitor.current().is_none());
        assert!(monitor.next_deadline().is_some(), "nothing measured yet");
        let m = monitor.measure_blocking();
        assert_ne!(m.kind, MeasurementKind::Estimate);
        assert_eq!(m.priority, Priority::Extreme);
        assert!(monitor.estimate.is_some(), "the estimate came first");
        while monitor.measuring() {
            next_event(&mut monitor);
        }
        let deadline = monitor.next_deadline().unwrap();
        assert_eq!(
            deadline,
            m.taken_at + Priority::Extreme.remeasure_interval().unwrap()
        );
    }

    #[test]
    fn a_custom_mode_measures_again_at_its_own_interval() {
        let custom = crate::priority::CustomPriority::new(
            "custom",
            75.0,
            Duration::from_millis(100),
            Duration::from_secs(12),
        )
        .unwrap();
        let mut monitor = LoadMonitor::new(Priority::Custom(custom), OwnProcesses::new());
        let m = monitor.measure_blocking();
        while monitor.measuring() {
            next_event(&mut monitor);
        }
        assert_eq!(
            monitor.next_deadline(),
            Some(m.taken_at + Duration::from_secs(12))
        );
    }

    #[test]
    fn generous_ignores_the_estimate() {
        let mut monitor = LoadMonitor::new(Priority::Generous, OwnProcesses::new());
        let mut estimate = nothing_counted(Priority::Generous, &CpuInfo::current(), Instant::now());
        estimate.kind = MeasurementKind::Estimate;
        monitor.accept(Event::Measured(estimate.clone()));
        assert!(monitor.current().is_none());
        monitor.set_priority(Priority::Normal);
        assert!(monitor.current().is_none(), "a mode change forgets");
        monitor.accept(Event::Measured(estimate));
        assert!(monitor.current().is_some());
    }

    #[test]
    fn nuclear_never_measures() {
        let mut monitor = LoadMonitor::new(Priority::Nuclear, OwnProcesses::new());
        assert!(monitor.next_deadline().is_none());
        monitor.refresh_if_stale(Instant::now());
        assert!(monitor.in_flight.is_none());
    }

    /// Waits (on the wake-up pipe) for the next event and takes it in.
    fn next_event(monitor: &mut LoadMonitor) {
        let fd = monitor.wake_fd().unwrap();
        let ready = crate::platform::wait_readable(&[fd], Some(Duration::from_secs(60))).unwrap();
        assert!(ready[0], "no measurement came within 60 s");
        monitor.collect();
    }

    #[test]
    fn continuous_measurements_follow_each_other_while_asked_for() {
        let mut monitor = LoadMonitor::new(Priority::Extreme, OwnProcesses::new());
        monitor.set_continuous(true);
        monitor.refresh_if_stale(Instant::now());
        let mut results = Vec::new();
        while results.len() < 3 {
            next_event(&mut monitor);
            if let Some(m) = monitor.sampled()
                && results.last() != Some(&m.taken_at)
            {
                results.push(m.taken_at);
                // The next one runs already; or, when this thread was
                // too slow to ask again in time (a loaded machine), it
                // is due at once.
                let due_now = monitor.next_deadline().is_some_and(|d| d <= Instant::now());
                assert!(
                    monitor.measuring() || due_now,
                    "no pause between measurements"
                );
                monitor.set_continuous(true);
                monitor.refresh_if_stale(Instant::now());
            }
        }
        // Asked no more: the thread ends after at most one more result.
        monitor.set_continuous(false);
        while monitor.measuring() {
            next_event(&mut monitor);
        }
        let last = monitor.sampled().unwrap().taken_at;
        assert_eq!(
            monitor.next_deadline(),
            Some(last + Priority::Extreme.remeasure_interval().unwrap())
        );
    }
}
