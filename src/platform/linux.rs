//! Linux: `/proc`, cgroups (v1 and v2), `sched_getaffinity`, pidfd.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};

use super::{ExitInfo, ProcessSample};
use crate::cpus::CpuSet;

/// The program a worker is started from: the very file this process runs,
/// even if it was replaced or deleted on disk since.
pub(crate) fn self_exe_for_spawn() -> PathBuf {
    PathBuf::from("/proc/self/exe")
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

/// The address range of the executable mapping (from `/proc/self/maps`)
/// that holds `address`, an address of this process's own code.
pub(crate) fn code_mapping_of(address: usize) -> io::Result<std::ops::Range<usize>> {
    use std::io::BufRead;
    // The executable's own mappings come first: stop reading there.
    let maps = io::BufReader::new(fs::File::open("/proc/self/maps")?);
    for line in maps.lines() {
        if let Some(range) = code_mapping_in(&line?, address) {
            return Ok(range);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no executable mapping holds {address:#x}"),
    ))
}

/// [`code_mapping_of`] over the text of a maps file.
fn code_mapping_in(maps: &str, address: usize) -> Option<std::ops::Range<usize>> {
    maps.lines().find_map(|line| {
        let mut fields = line.split_ascii_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let permissions = fields.next()?;
        let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
        (permissions.contains('x') && range.contains(&address)).then_some(range)
    })
}

/// A path that opens the executable of the running process.
pub(crate) fn self_exe_for_reading() -> &'static Path {
    Path::new("/proc/self/exe")
}

/// Clock ticks per second, the unit of the CPU times in `/proc`.
pub(crate) fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

/// Time since boot, in clock ticks.
pub(crate) fn uptime_ticks() -> io::Result<u64> {
    let text = fs::read_to_string("/proc/uptime")?;
    let seconds: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/uptime"))?;
    Ok((seconds * clock_ticks_per_second() as f64) as u64)
}

/// Reads `/proc/<pid>/stat` of every process on the machine.
///
/// Processes that end while the table is read are skipped.
pub(crate) fn scan_processes() -> io::Result<Vec<ProcessSample>> {
    let proc_dir = rustix::fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut samples = Vec::with_capacity(256);
    let mut path = String::with_capacity(32);
    let mut buf = [0u8; 1024];
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        path.clear();
        path.push_str(name);
        path.push_str("/stat");
        let Ok(fd) = rustix::fs::openat(
            &proc_dir,
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let mut file = fs::File::from(fd);
        let Ok(len) = file.read(&mut buf) else {
            continue;
        };
        if let Some(sample) = parse_stat(&buf[..len]) {
            samples.push(sample);
        }
    }
    Ok(samples)
}

/// Parses one `/proc/<pid>/stat` line. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat(content: &[u8]) -> Option<ProcessSample> {
    let space = content.iter().position(|&b| b == b' ')?;
    let pid: i32 = std::str::from_utf8(&content[..space]).ok()?.parse().ok()?;
    // The command name is the only part that may be non-UTF-8.
    let close = content.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&content[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    // Field numbers as in proc(5); `state` is field 3.
    let state = fields.next()?;
    let ppid: i32 = fields.next()?.parse().ok()?;
    let pgrp: i32 = fields.next()?.parse().ok()?;
    // Skip fields 6 to 13.
    let mut fields = fields.skip(8);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Skip fields 16 to 21.
    let start_ticks: u64 = fields.nth(6)?.parse().ok()?;
    Some(ProcessSample {
        pid,
        ppid,
        pgrp,
        runnable: state == "R",
        cpu_ticks: utime + stime,
        start_ticks,
    })
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

/// The CPU bandwidth this process may use according to its cgroups, in CPUs
/// (`1.5` means one and a half CPUs), or `None` when no quota applies.
///
/// Both cgroup v2 (`cpu.max`) and v1 (`cpu.cfs_quota_us` and
/// `cpu.cfs_period_us`) are read, in the process's own cgroup and in every
/// ancestor up to the mount's root; the smallest limit wins.
pub(crate) fn cgroup_cpu_limit() -> Option<f64> {
    let cgroups = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    cgroup_cpu_limit_from(&cgroups, &mountinfo, |path| fs::read_to_string(path).ok())
}

/// [`cgroup_cpu_limit`] over given file contents; `read` reads a file of the
/// cgroup file system.
pub(crate) fn cgroup_cpu_limit_from(
    proc_self_cgroup: &str,
    mountinfo: &str,
    read: impl Fn(&Path) -> Option<String>,
) -> Option<f64> {
    let mut limit: Option<f64> = None;
    let mut consider = |value: Option<f64>| {
        if let Some(v) = value {
            limit = Some(limit.map_or(v, |l: f64| l.min(v)));
        }
    };
    for line in proc_self_cgroup.lines() {
        // hierarchy-id:controller-list:path
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            // cgroup v2
            for (root, mount_point) in cgroup_mounts(mountinfo, None) {
                for dir in cgroup_dirs(&mount_point, &root, path) {
                    consider(read(&dir.join("cpu.max")).and_then(|t| parse_cpu_max(&t)));
                }
            }
        } else if controllers.split(',').any(|c| c == "cpu") {
            // cgroup v1
            for (root, mount_point) in cgroup_mounts(mountinfo, Some("cpu")) {
                for dir in cgroup_dirs(&mount_point, &root, path) {
                    let quota = read(&dir.join("cpu.cfs_quota_us"));
                    let period = read(&dir.join("cpu.cfs_period_us"));
                    consider(quota.zip(period).and_then(|(q, p)| parse_cfs(&q, &p)));
                }
            }
        }
    }
    limit
}

/// `(mount root, mount point)` of every cgroup mount: v2 mounts when
/// `controller` is `None`, else v1 mounts carrying that controller.
fn cgroup_mounts(mountinfo: &str, controller: Option<&str>) -> Vec<(String, PathBuf)> {
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super-options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        let (root, mount_point, fstype, super_options) = (left[3], left[4], right[0], right[2]);
        let wanted = match controller {
            None => fstype == "cgroup2",
            Some(c) => fstype == "cgroup" && super_options.split(',').any(|o| o == c),
        };
        if wanted {
            mounts.push((
                unescape_mount_path(root),
                PathBuf::from(unescape_mount_path(mount_point)),
            ));
        }
    }
    mounts
}

/// Mountinfo escapes spaces, tabs, newlines and backslashes as octal.
fn unescape_mount_path(path: &str) -> String {
    path.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The directories of the cgroup `path` and of its ancestors, as seen
/// through a mount of the hierarchy whose root is `root`.
fn cgroup_dirs(mount_point: &Path, root: &str, path: &str) -> Vec<PathBuf> {
    let relative = if root == "/" {
        Some(path)
    } else {
        path.strip_prefix(root)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    // A cgroup outside the mounted subtree (common inside containers, where
    // the namespace root is mounted) is looked up from the mount itself.
    let relative = relative.unwrap_or("/");
    let mut dirs = Vec::new();
    let mut current = PathBuf::from(mount_point);
    dirs.push(current.clone());
    for component in relative.split('/').filter(|c| !c.is_empty()) {
        current.push(component);
        dirs.push(current.clone());
    }
    dirs
}

/// cgroup v2 `cpu.max`: `max 100000` or `150000 100000`.
pub(crate) fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next()?.parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then(|| quota / period)
}

/// cgroup v1 `cpu.cfs_quota_us` (-1 for none) and `cpu.cfs_period_us`.
pub(crate) fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: i64 = period.trim().parse().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
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
    use std::collections::HashMap;

    #[test]
    fn stat_line_with_spaces_and_parentheses_in_the_name() {
        let line = b"4242 (my (weird) prog) R 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 12345 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4242);
        assert!(s.runnable);
        assert_eq!(s.cpu_ticks, 300);
        assert_eq!(s.start_ticks, 12345);
    }

    #[test]
    fn stat_of_this_process_is_readable() {
        let text = fs::read("/proc/self/stat").unwrap();
        let s = parse_stat(&text).unwrap();
        assert_eq!(s.pid, std::process::id() as i32);
        let text = fs::read("/proc/thread-self/stat").unwrap();
        let s = parse_stat(&text).unwrap();
        assert!(s.runnable, "the reading thread runs while it reads");
    }

    #[test]
    fn code_mappings() {
        let maps = "\
55d0a000-55d0b000 r--p 00000000 fd:01 42 /usr/bin/prog
55d0b000-55d0f000 r-xp 00001000 fd:01 42 /usr/bin/prog
55d0f000-55d10000 rw-p 00005000 fd:01 42 /usr/bin/prog
";
        assert_eq!(
            code_mapping_in(maps, 0x55d0c123),
            Some(0x55d0b000..0x55d0f000)
        );
        assert_eq!(code_mapping_in(maps, 0x55d0a010), None, "not executable");
        assert_eq!(code_mapping_in(maps, 0x1000), None);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n").unwrap().len(), 7);
        assert_eq!(parse_cpu_list("0\n").unwrap().len(), 1);
        assert!(parse_cpu_list("3-1").is_none());
        assert!(parse_cpu_list("x").is_none());
    }

    #[test]
    fn cpu_max_and_cfs() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2.0));
        assert_eq!(parse_cpu_max("150000 100000"), Some(1.5));
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("50000\n", "100000\n"), Some(0.5));
    }

    fn fake_fs(files: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, c)| (PathBuf::from(p), c.to_string()))
            .collect();
        move |p: &Path| map.get(p).cloned()
    }

    #[test]
    fn cgroup_v2_quota_in_an_ancestor_counts() {
        let cgroup = "0::/system.slice/job.scope\n";
        let mountinfo = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        let read = fake_fs(&[
            ("/sys/fs/cgroup/cpu.max", "max 100000\n"),
            ("/sys/fs/cgroup/system.slice/cpu.max", "200000 100000\n"),
            (
                "/sys/fs/cgroup/system.slice/job.scope/cpu.max",
                "max 100000\n",
            ),
        ]);
        assert_eq!(cgroup_cpu_limit_from(cgroup, mountinfo, read), Some(2.0));
    }

    #[test]
    fn cgroup_v1_quota_with_a_container_root() {
        let cgroup = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n";
        let mountinfo = "\
40 30 0:35 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
41 30 0:36 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
";
        let read = fake_fs(&[
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "300000\n"),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n"),
        ]);
        assert_eq!(cgroup_cpu_limit_from(cgroup, mountinfo, read), Some(3.0));
    }

    #[test]
    fn no_cgroup_quota() {
        let cgroup = "1:cpu:/\n0::/\n";
        let mountinfo = "\
40 30 0:35 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
41 30 0:36 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let read = fake_fs(&[
            ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n"),
            ("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"),
        ]);
        assert_eq!(cgroup_cpu_limit_from(cgroup, mountinfo, read), None);
    }
}
