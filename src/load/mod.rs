//! Measuring the CPU load of *foreign* processes: every process on the
//! machine that is neither this process nor one of its descendants (nor a
//! process left in the process group of one of our tasks).
//!
//! A measurement compares two readings a sampling interval apart. It first
//! reads the machine's total CPU time (one line of `/proc/stat`) and the
//! CPU time of our own processes; when that leaves too little CPU use for
//! any foreign process to pass the mode's threshold, it is done
//! ([`MeasurementKind::Aggregate`]), whatever the number of processes on the
//! machine. Otherwise it reads the CPU time of every process (two scans of
//! the process table) and applies two rules ([`rules`]): the per-process
//! rule counts each foreign process above the threshold; the machine-wide
//! rule counts all foreign use together, less one threshold's worth; the
//! larger wins. Processes whose CPU affinity keeps them off all of our CPUs
//! are not counted, and one that can reach only some of our CPUs counts for
//! at most that many. Before the first sampled measurement is in, a single
//! scan gives an [`MeasurementKind::Estimate`]: every foreign process that is
//! runnable at that instant, weighed by its lifetime average.
//!
//! [`monitor`] runs measurements on a background thread so that the
//! scheduler never waits for one.
//!
//! Tests of the reactions to load feed the measurements instead: when the
//! environment variable `DUMMYMP_LOAD_SOURCE` names a file, every
//! measurement lists the foreign processes written in that file
//! (`PID NAME PERCENT` per line) rather than reading the machine ([`fed`]).

mod fed;
pub(crate) mod monitor;
mod own;
mod probe;
mod report;
mod rules;
pub(crate) mod slurm_steps;
mod snapshot;

use std::io;
use std::time::{Duration, Instant};

pub use own::OwnProcesses;

use crate::cpus::CpuInfo;
use crate::priority::Priority;
use probe::Sampler;

/// How a measurement was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasurementKind {
    /// One scan: runnable processes weighed by their lifetime average. Made
    /// once, before the first sampled measurement is in.
    Estimate,
    /// Two scans of every process, a sampling interval apart.
    Sampled,
    /// Two readings of the machine's total CPU time a sampling interval
    /// apart left too little foreign use for any process to pass the
    /// threshold: no process was looked at, and none is counted.
    Aggregate,
}

/// Which of the two counting rules set a measurement's foreign CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadRule {
    /// Each foreign process above the mode's threshold counts for its share
    /// (the original's rule).
    PerProcess,
    /// The total of all foreign processes, less the mode's threshold, left
    /// fewer CPUs than the per-process rule: many small processes together.
    MachineWide,
}

/// A foreign process that was counted as load.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignProcess {
    /// Its process id.
    pub pid: i32,
    /// Its command name (`/proc/<pid>/comm`, at most 15 bytes on Linux).
    pub name: String,
    /// The share of one CPU it was counted for, in percent (a process with
    /// two busy threads counts up to 200).
    pub cpu_percent: f64,
}

/// The result of measuring foreign load.
///
/// Its `Display` form is a one-line summary for people, such as `2 of 2
/// CPUs busy with other processes: pid 123 (sh) 87 %, pid 124 (sh) 85 %`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadMeasurement {
    /// The mode whose threshold was applied.
    pub priority: Priority,
    /// How it was measured.
    pub kind: MeasurementKind,
    /// The foreign processes above the threshold (the per-process rule),
    /// busiest first.
    pub counted: Vec<ForeignProcess>,
    /// Sum of the counted processes' CPU shares, in percent of one CPU.
    pub foreign_percent: f64,
    /// What the per-process rule counts: `foreign_percent` in CPUs, rounded
    /// to the nearest CPU (one loop at 100.5 % is one CPU, not two).
    pub per_process_cpus: usize,
    /// CPU use of all foreign processes together, whatever their size, in
    /// percent of one CPU. For an [`MeasurementKind::Aggregate`]
    /// measurement, an upper bound.
    pub machine_percent: f64,
    /// How many foreign processes used any CPU (0 when none was looked at).
    pub active_processes: usize,
    /// What the machine-wide rule counts: `machine_percent` less the mode's
    /// threshold, in CPUs, rounded to the nearest CPU.
    pub machine_cpus: usize,
    /// The rule that set `foreign_cpus`.
    pub rule: LoadRule,
    /// The foreign load in CPUs: the larger of `per_process_cpus` and
    /// `machine_cpus`.
    pub foreign_cpus: usize,
    /// What the foreign processes want of our CPUs, in CPUs: the
    /// per-process rule applied to the CPU time each used *plus the time it
    /// waited for a CPU* (when both readings found it runnable), the
    /// processes counted together counting for at most the CPUs of ours
    /// they can reach; never less than `foreign_cpus`. Our running tasks
    /// yield to this: a busy loop that shares its CPU with one of them
    /// gets half of it, but wants all of it.
    pub wanted_cpus: usize,
    /// CPUs this process may use (see [`CpuInfo::usable`]).
    pub usable_cpus: usize,
    /// Usable CPUs left free by the foreign load.
    pub available_cpus: usize,
    /// Processes whose CPU time was read (at the last of the two scans); 0
    /// for an aggregate measurement.
    pub processes_scanned: usize,
    /// When the measurement was complete.
    pub taken_at: Instant,
}

/// Whether a measurement may skip reading every process when the machine's
/// total CPU time shows too little foreign use to matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessScan {
    /// Read the machine's total first, and every process only when that
    /// leaves room for a foreign process above the threshold (the
    /// scheduler's way). When it does, the measurement takes a second
    /// sampling interval for the two scans.
    #[default]
    WhenLoaded,
    /// Always read every process, twice.
    Always,
}

/// Measures foreign load now, blocking for the mode's sampling interval,
/// reading every process.
///
/// In [`Priority::Nuclear`], which ignores other processes, nothing is
/// measured and every usable CPU is available. When the environment
/// variable `DUMMYMP_LOAD_SOURCE` names a file, the foreign processes are
/// read from it instead of measured (see the crate's "Testing" section).
///
/// ```no_run
/// use dummymp::{OwnProcesses, Priority, measure_foreign_load};
/// let m = measure_foreign_load(Priority::Normal, &OwnProcesses::new())?;
/// println!("{} of {} CPUs are free", m.available_cpus, m.usable_cpus);
/// println!("{m}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn measure_foreign_load(priority: Priority, own: &OwnProcesses) -> io::Result<LoadMeasurement> {
    match priority.sample_interval() {
        Some(interval) => measure_foreign_load_over(priority, own, interval),
        None => Ok(rules::nothing_counted(
            priority,
            &CpuInfo::current(),
            Instant::now(),
        )),
    }
}

/// Measures foreign load with the thresholds of `priority` over a sampling
/// interval of your choice (blocking for it), reading every process. A zero
/// interval measures the cost of two scans of the process table, nothing
/// more meaningful.
///
/// ```
/// use std::time::Duration;
/// use dummymp::{MeasurementKind, OwnProcesses, Priority, measure_foreign_load_over};
/// let own = OwnProcesses::new();
/// let m = measure_foreign_load_over(Priority::Normal, &own, Duration::from_millis(50))?;
/// assert_eq!(m.kind, MeasurementKind::Sampled); // every process was read
/// assert!(m.available_cpus <= m.usable_cpus);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn measure_foreign_load_over(
    priority: Priority,
    own: &OwnProcesses,
    interval: Duration,
) -> io::Result<LoadMeasurement> {
    measure_foreign_load_with(priority, own, interval, ProcessScan::Always)
}

/// Measures foreign load with the thresholds of `priority` over `interval`,
/// reading every process only as `scan` says. With
/// [`ProcessScan::WhenLoaded`] it blocks for one interval on a quiet machine
/// and for two when there is foreign load to look into.
///
/// ```no_run
/// use std::time::Duration;
/// use dummymp::{MeasurementKind, OwnProcesses, Priority, ProcessScan, measure_foreign_load_with};
/// let own = OwnProcesses::new();
/// let m = measure_foreign_load_with(
///     Priority::Normal, &own, Duration::from_millis(350), ProcessScan::WhenLoaded)?;
/// if m.kind == MeasurementKind::Aggregate {
///     println!("quiet machine: no process had to be looked at");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn measure_foreign_load_with(
    priority: Priority,
    own: &OwnProcesses,
    interval: Duration,
    scan: ProcessScan,
) -> io::Result<LoadMeasurement> {
    if !priority.measures_load() {
        return Ok(rules::nothing_counted(
            priority,
            &CpuInfo::current(),
            Instant::now(),
        ));
    }
    let mut sampler = Sampler::new(priority, own.clone(), scan);
    let before = sampler.probe(scan == ProcessScan::Always)?;
    let (measurement, _) = sampler.measure(before, interval)?;
    Ok(measurement)
}

pub(crate) use probe::Sampler as LoadSampler;
pub(crate) use rules::nothing_counted;
