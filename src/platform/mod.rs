//! The operating-system boundary.
//!
//! What depends on one particular kernel lives below this module: reading
//! other processes' CPU times, the machine's total CPU time, the memory
//! available (system-wide and under cgroup limits), CPU affinity and cgroup
//! quotas, process file descriptors (pidfd), signals and niceness, reading
//! and writing descriptors without blocking, and the path used to
//! re-execute the running program.
//!
//! Who may call the system directly (`rustix`, `libc`), and who goes
//! through here:
//!
//! - the engine, the scheduler, the load measurement, the queue, the
//!   relay and the protocol only use the functions re-exported here;
//! - the two places that *make* processes and their descriptors call the
//!   system themselves, because that is their whole job: the launch seam
//!   (`launch/`: spawning, the fork server's fork and its descriptor
//!   passing, the watchdog's table) and a worker's own plumbing (`worker/`
//!   and `role.rs`: moving its standard descriptors, capturing its output).
//!
//! Porting dummymp to another Unix means adding a sibling of `linux.rs`
//! and revisiting those two places, not the others.

#[cfg(target_os = "linux")]
mod linux;

#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "dummymp supports Linux only for now: add a platform module next to src/platform/linux.rs"
);

/// How a child process ended, as reported by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitInfo {
    /// It called `exit` with this code.
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
}

/// One process as seen by a single scan of the process table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessSample {
    /// Its process id.
    pub pid: i32,
    /// Its command name, as the kernel keeps it (at most 15 bytes on Linux).
    pub name: ProcessName,
    /// Its parent's process id.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
    /// Whether it was runnable at the moment of the scan.
    pub runnable: bool,
    /// User plus system CPU time of all its threads, in clock ticks.
    pub cpu_ticks: u64,
    /// When it started, in clock ticks since boot.
    pub start_ticks: u64,
    /// How long its main thread has waited, runnable, for a CPU, in
    /// nanoseconds (`/proc/<pid>/schedstat`); read only for a process
    /// runnable at the scan, and `None` where the kernel does not tell.
    pub waited_ns: Option<u64>,
}

/// A process's command name (`comm`), kept inline so that a sample of the
/// process table needs no allocation per process. Longer names are cut at
/// [`ProcessName::CAPACITY`] bytes.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ProcessName {
    bytes: [u8; ProcessName::CAPACITY],
    len: u8,
}

impl ProcessName {
    /// The most bytes kept.
    pub const CAPACITY: usize = 16;

    /// The name made of (the first [`ProcessName::CAPACITY`] bytes of) `bytes`.
    pub(crate) fn from_bytes(bytes: &[u8]) -> ProcessName {
        let len = bytes.len().min(Self::CAPACITY);
        let mut name = ProcessName::default();
        name.bytes[..len].copy_from_slice(&bytes[..len]);
        name.len = len as u8;
        name
    }

    /// The name's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl std::fmt::Display for ProcessName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl std::fmt::Debug for ProcessName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The machine's CPU time since boot, summed over all CPUs, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CpuTimes {
    /// Time spent running something: user (niced or not), system, and
    /// interrupt handling.
    pub busy_ticks: u64,
    /// Time no task ran: idle, waiting for I/O, or taken by a hypervisor
    /// for other guests (steal).
    pub idle_ticks: u64,
}

/// Memory figures in bytes, for the whole machine or one limited group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryFigures {
    /// All the memory there is to use (the machine's RAM, or a limit).
    pub total: u64,
    /// What can still be allocated without swapping or reclaiming memory in
    /// use (`MemAvailable`, or the limit less the non-reclaimable usage).
    pub available: u64,
    /// Whether `available` is what the limit of a memory cgroup this
    /// process runs in leaves: then the memory held below that limit is
    /// held by the cgroup's own processes (ours, or the cgroup's page
    /// cache), not by other users of the machine.
    pub cgroup_bound: bool,
}
