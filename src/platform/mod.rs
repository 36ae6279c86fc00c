//! The operating-system boundary.
//!
//! Everything that depends on one particular kernel lives below this module:
//! reading other processes' CPU times, CPU affinity and cgroup quotas,
//! process file descriptors (pidfd) and the path used to re-execute the
//! running program. The scheduler, the load monitor and the task runner only
//! use the functions re-exported here, so porting dummymp to another Unix
//! means adding a sibling of `linux.rs`, not touching them.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod linux_process;

#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(target_os = "linux")]
pub(crate) use linux_process::*;

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
}
