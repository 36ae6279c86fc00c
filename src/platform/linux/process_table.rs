//! Reading the process table: `/proc/<pid>/stat` of every process (and
//! `/proc/<pid>/schedstat` of those runnable at that instant), with reused
//! buffers and no allocation per process.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;

use rustix::fs::{Mode, OFlags, RawDir};

use super::clock_ticks_per_second;
use crate::platform::{ProcessName, ProcessSample};

/// Reads `/proc/<pid>/stat` files with buffers kept from one scan to the
/// next.
pub(crate) struct ProcessTable {
    /// Directory entries of `/proc`, read with `getdents64`.
    entries: Vec<MaybeUninit<u8>>,
    /// One `stat` line (the fields used end well before 1 KiB).
    line: [u8; 1024],
}

impl std::fmt::Debug for ProcessTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTable").finish_non_exhaustive()
    }
}

impl Default for ProcessTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessTable {
    /// A reader with empty buffers.
    pub(crate) fn new() -> ProcessTable {
        ProcessTable {
            entries: vec![MaybeUninit::uninit(); 16 * 1024],
            line: [0; 1024],
        }
    }

    /// Replaces the contents of `out` with a sample of every process on the
    /// machine, in increasing pid order. Processes that end while the table
    /// is read are skipped.
    pub(crate) fn scan(&mut self, out: &mut Vec<ProcessSample>) -> io::Result<()> {
        out.clear();
        let proc_dir = rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut entries = RawDir::new(&proc_dir, &mut self.entries);
        let mut path = StatPath::default();
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let Some(pid) = parse_pid(entry.file_name().to_bytes()) else {
                continue;
            };
            if let Some(mut sample) = read_stat(&proc_dir, path.of(pid), &mut self.line) {
                // Only a process that is runnable now can be waiting for a
                // CPU: the others' waiting is not worth a read.
                if sample.runnable {
                    sample.waited_ns =
                        read_waited(&proc_dir, path.schedstat_of(pid), &mut self.line);
                }
                out.push(sample);
            }
        }
        // `/proc` lists pids in increasing order; make sure of it, cheaply.
        if !out.is_sorted_by_key(|p| p.pid) {
            out.sort_unstable_by_key(|p| p.pid);
        }
        Ok(())
    }

    /// A sample of the process `pid`, or `None` when it is gone.
    pub(crate) fn read(&mut self, pid: i32) -> Option<ProcessSample> {
        if pid <= 0 {
            return None;
        }
        let proc_dir = rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        read_stat(&proc_dir, StatPath::default().of(pid), &mut self.line)
    }
}

/// Reads and parses one `stat` file relative to the `/proc` directory.
fn read_stat(proc_dir: impl AsFd, path: &CStr, line: &mut [u8]) -> Option<ProcessSample> {
    parse_stat(read_relative(proc_dir, path, line)?)
}

/// Reads the file at `path` relative to the `/proc` directory into `line`
/// (one read: these files are a line each); what was read, `None` when the
/// process is gone.
fn read_relative<'a>(proc_dir: impl AsFd, path: &CStr, line: &'a mut [u8]) -> Option<&'a [u8]> {
    let file = rustix::fs::openat(
        proc_dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let len = rustix::io::read(&file, &mut *line).ok()?;
    Some(&line[..len])
}

/// Reads the time a process has waited for a CPU, in nanoseconds: the
/// second field of its `schedstat` file (`None` when the kernel keeps no
/// such statistics, or the process is gone).
fn read_waited(proc_dir: impl AsFd, path: &CStr, line: &mut [u8]) -> Option<u64> {
    parse_schedstat(read_relative(proc_dir, path, line)?)
}

/// Parses a `schedstat` line: time on a CPU, time waiting for one (both in
/// nanoseconds), time slices. Returns the waiting time.
pub(crate) fn parse_schedstat(content: &[u8]) -> Option<u64> {
    let mut fields = content
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|field| !field.is_empty());
    let _on_cpu = parse_number(fields.next()?)?;
    parse_number(fields.next()?)
}

/// `<pid>/stat` (or `<pid>/schedstat`) as a C string, built in place.
#[derive(Default)]
struct StatPath {
    bytes: [u8; 32],
}

impl StatPath {
    fn of(&mut self, pid: i32) -> &CStr {
        self.build(pid, b"/stat\0")
    }

    fn schedstat_of(&mut self, pid: i32) -> &CStr {
        self.build(pid, b"/schedstat\0")
    }

    fn build(&mut self, pid: i32, suffix: &[u8]) -> &CStr {
        let mut digits = [0u8; 10];
        let mut n = pid.unsigned_abs();
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = &digits[start..];
        self.bytes[..digits.len()].copy_from_slice(digits);
        self.bytes[digits.len()..digits.len() + suffix.len()].copy_from_slice(suffix);
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"")
    }
}

/// A `/proc` entry name that is a process id.
fn parse_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 9 {
        return None;
    }
    let mut pid: i32 = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        pid = pid * 10 + i32::from(b - b'0');
    }
    Some(pid)
}

/// Parses one `/proc/<pid>/stat` line. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat(content: &[u8]) -> Option<ProcessSample> {
    let open = content.iter().position(|&b| b == b'(')?;
    let close = content.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = parse_number(content[..open].trim_ascii())?;
    let name = ProcessName::from_bytes(&content[open + 1..close]);
    let mut fields = content[close + 1..]
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|field| !field.is_empty());
    // Field numbers as in proc(5); `state` is field 3.
    let state = fields.next()?;
    let ppid = parse_number(fields.next()?)?;
    let pgrp = parse_number(fields.next()?)?;
    // Skip fields 6 to 13.
    let mut fields = fields.skip(8);
    let utime = parse_number(fields.next()?)?;
    let stime = parse_number(fields.next()?)?;
    // Skip fields 16 to 21.
    let start_ticks = parse_number(fields.nth(6)?)?;
    Some(ProcessSample {
        pid: i32::try_from(pid).ok()?,
        name,
        ppid: i32::try_from(ppid).ok()?,
        pgrp: i32::try_from(pgrp).ok()?,
        runnable: state == b"R",
        cpu_ticks: utime + stime,
        start_ticks,
        waited_ns: None,
    })
}

/// A decimal number without sign.
fn parse_number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Time since boot, in clock ticks.
pub(crate) fn uptime_ticks() -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/uptime")?;
    let seconds: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/uptime"))?;
    Ok((seconds * clock_ticks_per_second() as f64) as u64)
}

/// The resident memory of the process `pid` in bytes (`/proc/<pid>/statm`),
/// or `None` when it is gone.
pub(crate) fn resident_bytes(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// The command line of the process `pid` as its program left it (its
/// arguments separated by NUL bytes, or a title it wrote there), at most
/// `limit` bytes; `None` when it is gone or cannot be read.
pub(crate) fn command_line(pid: i32, limit: usize) -> Option<Vec<u8>> {
    read_at_most(&format!("/proc/{pid}/cmdline"), limit)
}

/// The value of the variable `name` in the environment the process `pid`
/// started with; `None` when it has none, is gone, or its environment
/// cannot be read (another user's).
pub(crate) fn environment_variable(pid: i32, name: &[u8]) -> Option<Vec<u8>> {
    // Environments larger than this are cut; a variable beyond is missed.
    let environ = read_at_most(&format!("/proc/{pid}/environ"), 256 * 1024)?;
    environ.split(|&b| b == 0).find_map(|entry| {
        let value = entry.strip_prefix(name)?.strip_prefix(b"=")?;
        Some(value.to_vec())
    })
}

fn read_at_most(path: &str, limit: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(limit as u64).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_and_environment_of_this_process_are_readable() {
        let me = std::process::id() as i32;
        let line = command_line(me, 4096).unwrap();
        let exe = std::env::args_os().next().unwrap();
        assert!(line.starts_with(exe.as_encoded_bytes()));
        // cargo starts tests with a PATH.
        assert!(environment_variable(me, b"PATH").is_some_and(|p| !p.is_empty()));
        assert_eq!(
            environment_variable(me, b"DUMMYMP_NO_SUCH_VARIABLE_X"),
            None
        );
        assert_eq!(command_line(-5, 10), None);
    }

    #[test]
    fn stat_line_with_spaces_and_parentheses_in_the_name() {
        let line = b"4242 (my (weird) prog) R 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.name.as_bytes(), b"my (weird) prog");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4242);
        assert!(s.runnable);
        assert_eq!(s.cpu_ticks, 300);
        assert_eq!(s.start_ticks, 12345);
    }

    #[test]
    fn malformed_stat_lines_are_refused() {
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"12 (x) S 1 2").is_none(), "cut short");
        assert!(parse_stat(b"x (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5").is_none());
        assert!(parse_stat(b"1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5").is_some());
    }

    #[test]
    fn stat_of_this_process_is_readable() {
        let text = std::fs::read("/proc/self/stat").unwrap();
        let s = parse_stat(&text).unwrap();
        assert_eq!(s.pid, std::process::id() as i32);
        let text = std::fs::read("/proc/thread-self/stat").unwrap();
        let s = parse_stat(&text).unwrap();
        assert!(s.runnable, "the reading thread runs while it reads");
    }

    #[test]
    fn a_scan_finds_this_process_in_pid_order() {
        let mut table = ProcessTable::new();
        let mut samples = Vec::new();
        table.scan(&mut samples).unwrap();
        let me = std::process::id() as i32;
        assert!(samples.iter().any(|p| p.pid == me));
        assert!(samples.windows(2).all(|w| w[0].pid < w[1].pid));
        let again = table.read(me).unwrap();
        assert_eq!(again.pid, me);
        assert!(table.read(-5).is_none());
    }

    #[test]
    fn stat_paths_and_pids() {
        let mut path = StatPath::default();
        assert_eq!(path.of(0), c"0/stat");
        assert_eq!(path.of(4194304), c"4194304/stat");
        assert_eq!(path.schedstat_of(4194304), c"4194304/schedstat");
        assert_eq!(parse_pid(b"123"), Some(123));
        assert_eq!(parse_pid(b"self"), None);
        assert_eq!(parse_pid(b""), None);
    }

    #[test]
    fn schedstat_gives_the_time_spent_waiting() {
        assert_eq!(parse_schedstat(b"1234 5678 9\n"), Some(5678));
        assert_eq!(parse_schedstat(b"1234\n"), None);
        assert_eq!(parse_schedstat(b""), None);
        // Kernels without scheduler statistics have no such file.
        if let Ok(text) = std::fs::read("/proc/thread-self/schedstat") {
            assert!(parse_schedstat(&text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn this_process_has_resident_memory() {
        assert!(resident_bytes(std::process::id() as i32).unwrap() > 0);
    }
}
