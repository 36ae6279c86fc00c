//! Linux: the running executable, CPU affinity and pidfds here; `/proc`,
//! cgroups, signals and waiting in the files below `linux/`.

mod cgroup;
mod cpu_times;
mod descriptors;
mod memory;
mod oom;
mod own_memory;
mod process_table;
mod processes;
mod terminal;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};

pub(crate) use cgroup::cgroup_cpu_limit;
pub(crate) use cpu_times::cpu_times;
pub(crate) use descriptors::{
    ATOMIC_SEND, is_resource_shortage, own_niceness, random_bytes, read_now, read_now_into_spare,
    send_all_unless_closed, send_now, set_nonblocking, signal_name, stdin_is_socket, write_all,
};
pub(crate) use memory::MemorySource;
pub(crate) use oom::OomCounter;
pub(crate) use own_memory::unshared_peak;
pub(crate) use process_table::{
    ProcessTable, command_line, environment_variable, resident_bytes, uptime_ticks,
};
pub(crate) use processes::{
    Interest, members_of_group, reap_exited_with_status, reap_exited_with_usage, renice_group,
    signal_group, signal_group_exists, signal_process, single_threaded, wait_for, wait_readable,
};
pub(crate) use terminal::in_terminal_foreground;

use super::ExitInfo;
use crate::cpu_set::CpuSet;

/// The program a worker is started from: the very file this process runs,
/// even if it was replaced or deleted on disk since.
pub(crate) fn self_exe_for_spawn() -> PathBuf {
    PathBuf::from(self_exe_for_spawn_str())
}

/// [`self_exe_for_spawn`], borrowed.
pub(crate) fn self_exe_for_spawn_str() -> &'static OsStr {
    OsStr::new("/proc/self/exe")
}

/// The path of the running executable as users know it, for a worker's
/// `argv[0]` (its command line in `ps`), looked up once.
pub(crate) fn self_exe_display_name() -> &'static OsStr {
    static NAME: OnceLock<OsString> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::current_exe()
            .map(PathBuf::into_os_string)
            .unwrap_or_else(|_| OsString::from("dummymp-worker"))
    })
}

/// Names this process for `ps` and `top` (the kernel keeps 15 bytes of
/// it): a worker started through `/proc/self/exe` would be called `exe`.
pub(crate) fn set_process_name(name: &OsStr) {
    use std::os::unix::ffi::OsStrExt;
    let bytes: Vec<u8> = name.as_bytes().iter().copied().take(15).collect();
    if let Ok(name) = std::ffi::CString::new(bytes) {
        let _ = rustix::thread::set_name(&name);
    }
}

/// The executable mapping of a file that holds some of this process's
/// code: its address range, and a path that opens the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodeMapping {
    pub range: std::ops::Range<usize>,
    pub file: PathBuf,
}

/// The executable mapping (from `/proc/self/maps`) that holds `address`, an
/// address of this process's own code: in the program itself, or in the
/// shared library that holds this crate (a Python extension module).
pub(crate) fn code_mapping_of(address: usize) -> io::Result<CodeMapping> {
    use std::io::BufRead;
    // The program's own mappings come first: stop reading there.
    let maps = io::BufReader::new(fs::File::open("/proc/self/maps")?);
    for line in maps.lines() {
        if let Some(mapping) = code_mapping_in(&line?, address) {
            return Ok(mapping);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no executable mapping holds {address:#x}"),
    ))
}

/// [`code_mapping_of`] for one line of a maps file.
fn code_mapping_in(line: &str, address: usize) -> Option<CodeMapping> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let permissions = fields.next()?;
    let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
    if !permissions.contains('x') || !range.contains(&address) {
        return None;
    }
    // offset, device, inode, then the path (which may hold spaces).
    let path = fields.nth(3).map(|first| {
        let at = line.find(first).unwrap_or(line.len());
        line[at..].trim_end()
    });
    let file = match path {
        // The running program: /proc/self/exe opens it even once replaced
        // or deleted on disk.
        Some(path) if is_own_executable(path) => PathBuf::from("/proc/self/exe"),
        Some(path) if path.starts_with('/') => PathBuf::from(path.trim_end_matches(" (deleted)")),
        _ => PathBuf::from("/proc/self/exe"),
    };
    Some(CodeMapping { range, file })
}

/// Whether `path` (from a maps line) names the running program.
fn is_own_executable(path: &str) -> bool {
    static OWN: OnceLock<Option<PathBuf>> = OnceLock::new();
    let own = OWN.get_or_init(|| fs::read_link("/proc/self/exe").ok());
    own.as_deref()
        .is_some_and(|own| Path::new(path.trim_end_matches(" (deleted)")) == own)
}

/// A path that opens the executable of the running process.
pub(crate) fn self_exe_for_reading() -> &'static Path {
    Path::new("/proc/self/exe")
}

/// Clock ticks per second, the unit of the CPU times in `/proc`.
pub(crate) fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

/// The CPUs the process `pid` (this process when `None`) may run on.
pub(crate) fn affinity(pid: Option<i32>) -> io::Result<CpuSet> {
    let pid = pid.and_then(Pid::from_raw);
    let set = rustix::thread::sched_getaffinity(pid)?;
    Ok(CpuSet::from_ids(
        (0..rustix::thread::CpuSet::MAX_CPU).filter(|&cpu| set.is_set(cpu)),
    ))
}

/// Number of CPUs online on the machine.
pub(crate) fn online_cpu_count() -> io::Result<usize> {
    let text = fs::read_to_string("/sys/devices/system/cpu/online")?;
    parse_cpu_list(&text)
        .map(|set| set.len())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed CPU list"))
}

/// Parses a kernel CPU list such as `0-3,8,10-11`.
pub(crate) fn parse_cpu_list(text: &str) -> Option<CpuSet> {
    let mut ids = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi): (usize, usize) = (lo.parse().ok()?, hi.parse().ok()?);
                if hi < lo {
                    return None;
                }
                ids.extend(lo..=hi);
            }
            None => ids.push(part.parse().ok()?),
        }
    }
    Some(CpuSet::from_ids(ids))
}

/// A file descriptor that refers to the process `pid` and becomes readable
/// when it exits.
pub(crate) fn open_pidfd(pid: u32) -> io::Result<OwnedFd> {
    let pid = Pid::from_raw(pid as i32)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid pid"))?;
    Ok(rustix::process::pidfd_open(pid, PidfdFlags::empty())?)
}

/// How the child behind `pidfd` exited, if it has (waiting for that when
/// `block`), leaving it unreaped: its pid and process group stay reserved.
pub(crate) fn peek_exit(pidfd: &OwnedFd, block: bool) -> io::Result<Option<ExitInfo>> {
    let mut options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
    if !block {
        options |= WaitIdOptions::NOHANG;
    }
    reap(pidfd, options)
}

/// Reaps the child behind `pidfd` if it has exited, without blocking.
pub(crate) fn reap_exited(pidfd: &OwnedFd) -> io::Result<Option<ExitInfo>> {
    reap(pidfd, WaitIdOptions::EXITED | WaitIdOptions::NOHANG)
}

fn reap(pidfd: &OwnedFd, options: WaitIdOptions) -> io::Result<Option<ExitInfo>> {
    let status = rustix::process::waitid(WaitId::PidFd(pidfd.as_fd()), options)?;
    Ok(status.and_then(|status| {
        if let Some(code) = status.exit_status().filter(|_| status.exited()) {
            Some(ExitInfo::Exited(code))
        } else {
            status.terminating_signal().map(ExitInfo::Signaled)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_mappings() {
        let maps = "\
55d0a000-55d0b000 r--p 00000000 fd:01 42 /usr/bin/prog
55d0b000-55d0f000 r-xp 00001000 fd:01 42 /usr/bin/prog
55d0f000-55d10000 rw-p 00005000 fd:01 42 /usr/bin/prog
";
        let find = |address| maps.lines().find_map(|line| code_mapping_in(line, address));
        assert_eq!(
            find(0x55d0c123),
            Some(CodeMapping {
                range: 0x55d0b000..0x55d0f000,
                file: PathBuf::from("/usr/bin/prog")
            })
        );
        assert_eq!(find(0x55d0a010), None, "not executable");
        assert_eq!(find(0x1000), None);
        let library = "7f00-7f10 r-xp 00001000 fd:01 43 /opt/my lib/ext.so (deleted)";
        assert_eq!(
            code_mapping_in(library, 0x7f08).unwrap().file,
            PathBuf::from("/opt/my lib/ext.so")
        );
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n").unwrap().len(), 7);
        assert_eq!(parse_cpu_list("0\n").unwrap().len(), 1);
        assert!(parse_cpu_list("3-1").is_none());
        assert!(parse_cpu_list("x").is_none());
    }
}
