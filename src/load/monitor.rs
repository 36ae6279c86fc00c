//! Runs foreign-load measurements on a background thread, so that the
//! scheduler keeps reaping tasks and relaying messages while one samples.
//!
//! Each measurement is one short-lived thread: it scans the process table,
//! posts the instant estimate (for the first measurement of a mode), sleeps
//! the sampling interval, scans again and posts the sampled result. Every
//! post also writes a byte to a wake-up pipe whose read end the event loop
//! polls, so a waiting scheduler wakes up as soon as a result is in.

use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Instant;

use super::{
    LoadMeasurement, MeasurementKind, OwnProcesses, Snapshot, estimate, sampled, summarize,
    system_affinity,
};
use crate::cpus::CpuInfo;
use crate::priority::Priority;

enum Event {
    Measured(LoadMeasurement),
    Failed(io::Error),
}

/// The scheduler's view of foreign load, kept up to date in the background.
pub(crate) struct LoadMonitor {
    priority: Priority,
    own: OwnProcesses,
    estimate: Option<LoadMeasurement>,
    sampled: Option<LoadMeasurement>,
    in_flight: Option<Receiver<Event>>,
    /// Created with the first measurement.
    wake: Option<(PipeReader, Arc<PipeWriter>)>,
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
        rustix::io::ioctl_fionbio(&reader, true)?;
        rustix::io::ioctl_fionbio(&writer, true)?;
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
                Err(TryRecvError::Disconnected) => self.in_flight = None,
            }
        }
    }

    fn accept(&mut self, event: Event) {
        match event {
            Event::Measured(m) if m.kind == MeasurementKind::Estimate => {
                log::debug!(
                    target: "dummymp::load",
                    "estimated foreign load: {:.0} % ({} of {} CPUs free)",
                    m.foreign_percent, m.available_cpus, m.usable_cpus
                );
                self.estimate = Some(m);
            }
            Event::Measured(m) => {
                log::debug!(
                    target: "dummymp::load",
                    "measured foreign load in {} mode: {:.0} % ({} of {} CPUs free)",
                    m.priority, m.foreign_percent, m.available_cpus, m.usable_cpus
                );
                self.sampled = Some(m);
                self.in_flight = None;
            }
            Event::Failed(error) => {
                log::warn!(
                    target: "dummymp::load",
                    "cannot measure the load of other processes ({error}); \
                     treating every usable CPU as free"
                );
                self.sampled = Some(self.nothing_counted());
                self.in_flight = None;
            }
        }
    }

    /// A measurement that counts no foreign load: what `Nuclear` assumes,
    /// and what is left when measuring is impossible.
    fn nothing_counted(&self) -> LoadMeasurement {
        summarize(
            self.priority,
            MeasurementKind::Sampled,
            std::iter::empty(),
            &CpuInfo::current(),
            &system_affinity,
            Instant::now(),
        )
    }

    /// The measurement the scheduler should act on now: the latest sampled
    /// one, else (except in `Generous`, which waits for a sample) the
    /// estimate.
    pub(crate) fn current(&self) -> Option<&LoadMeasurement> {
        self.sampled.as_ref().or(self
            .estimate
            .as_ref()
            .filter(|_| self.priority != Priority::Generous))
    }

    /// When the current sampled measurement goes stale and a new one should
    /// be requested; `None` while one is in progress, or in `Nuclear`.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        let remeasure = self.priority.remeasure_interval()?;
        Some(
            self.sampled
                .as_ref()
                .map_or_else(Instant::now, |m| m.taken_at + remeasure),
        )
    }

    /// Starts a measurement unless one is in progress or the last one is
    /// still fresh.
    pub(crate) fn refresh_if_stale(&mut self, now: Instant) {
        if self.in_flight.is_some() || !self.priority.measures_load() {
            return;
        }
        let stale = match (&self.sampled, self.priority.remeasure_interval()) {
            (Some(m), Some(remeasure)) => now >= m.taken_at + remeasure,
            _ => true,
        };
        if stale {
            self.start();
        }
    }

    /// Waits for a fresh sampled measurement and returns it.
    pub(crate) fn measure_blocking(&mut self) -> LoadMeasurement {
        self.collect();
        if !self.priority.measures_load() {
            let m = self.nothing_counted();
            self.sampled = Some(m.clone());
            return m;
        }
        let remeasure = self.priority.remeasure_interval().unwrap_or_default();
        if let Some(m) = self.sampled.as_ref().filter(|_| self.in_flight.is_none()) {
            if Instant::now() < m.taken_at + remeasure {
                return m.clone();
            }
        }
        if self.in_flight.is_none() {
            self.start();
        }
        while let Some(rx) = &self.in_flight {
            match rx.recv() {
                Ok(event) => self.accept(event),
                Err(_) => self.in_flight = None,
            }
        }
        match &self.sampled {
            Some(m) => m.clone(),
            None => {
                self.accept(Event::Failed(io::Error::other(
                    "the measurement thread ended",
                )));
                self.nothing_counted()
            }
        }
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
        let job = Job {
            priority: self.priority,
            own: self.own.clone(),
            with_estimate: self.sampled.is_none() && self.estimate.is_none(),
            tx,
            wake,
        };
        let spawned = std::thread::Builder::new()
            .name("dummymp-load".into())
            .spawn(move || job.run(interval));
        match spawned {
            Ok(_) => self.in_flight = Some(rx),
            Err(error) => self.accept(Event::Failed(error)),
        }
    }
}

struct Job {
    priority: Priority,
    own: OwnProcesses,
    with_estimate: bool,
    tx: Sender<Event>,
    wake: Arc<PipeWriter>,
}

impl Job {
    fn run(self, interval: std::time::Duration) {
        let event = match self.measure(interval) {
            Ok(m) => Event::Measured(m),
            Err(e) => Event::Failed(e),
        };
        self.post(event);
    }

    fn measure(&self, interval: std::time::Duration) -> io::Result<LoadMeasurement> {
        let cpu = CpuInfo::current();
        let before = Snapshot::take()?;
        if self.with_estimate {
            let m = estimate(&before, self.priority, &cpu, &self.own, &system_affinity);
            if !self.post(Event::Measured(m)) {
                return Err(io::Error::other("nobody waits for this measurement"));
            }
        }
        std::thread::sleep(interval);
        let after = Snapshot::take()?;
        Ok(sampled(
            &before,
            &after,
            self.priority,
            &cpu,
            &self.own,
            &system_affinity,
        ))
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
        assert_eq!(m.kind, MeasurementKind::Sampled);
        assert_eq!(m.priority, Priority::Extreme);
        assert!(monitor.estimate.is_some(), "the estimate came first");
        let deadline = monitor.next_deadline().unwrap();
        assert_eq!(
            deadline,
            m.taken_at + Priority::Extreme.remeasure_interval().unwrap()
        );
    }

    #[test]
    fn generous_ignores_the_estimate() {
        let mut monitor = LoadMonitor::new(Priority::Generous, OwnProcesses::new());
        let estimate = summarize(
            Priority::Generous,
            MeasurementKind::Estimate,
            std::iter::empty(),
            &CpuInfo::current(),
            &system_affinity,
            Instant::now(),
        );
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
}
