//! cgroups, v1 and v2: the CPU quota and the memory limits that apply to
//! this process, looked up through the cgroup mounts in `mountinfo`.

use std::fs;
use std::path::{Path, PathBuf};

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

/// Which cgroup interface a directory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CgroupVersion {
    /// The legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// The directories of this process's memory cgroup and of each of its
/// ancestors, from the mount's root down (both interfaces when both are
/// mounted). A limit in any of them applies.
pub(crate) fn memory_cgroup_dirs() -> Vec<(CgroupVersion, PathBuf)> {
    let (Ok(cgroups), Ok(mountinfo)) = (
        fs::read_to_string("/proc/self/cgroup"),
        fs::read_to_string("/proc/self/mountinfo"),
    ) else {
        return Vec::new();
    };
    memory_cgroup_dirs_from(&cgroups, &mountinfo)
}

/// [`memory_cgroup_dirs`] over given file contents.
pub(crate) fn memory_cgroup_dirs_from(
    proc_self_cgroup: &str,
    mountinfo: &str,
) -> Vec<(CgroupVersion, PathBuf)> {
    let mut found = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (version, controller) = if controllers.is_empty() {
            (CgroupVersion::V2, None)
        } else if controllers.split(',').any(|c| c == "memory") {
            (CgroupVersion::V1, Some("memory"))
        } else {
            continue;
        };
        for (root, mount_point) in cgroup_mounts(mountinfo, controller) {
            found.extend(
                cgroup_dirs(&mount_point, &root, path)
                    .into_iter()
                    .map(|dir| (version, dir)),
            );
        }
    }
    found
}

/// cgroup v2 `memory.max`: a byte count, or `max` for none.
pub(crate) fn parse_memory_max(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// cgroup v1 `memory.limit_in_bytes`: a byte count; "no limit" is the
/// largest page-aligned value a signed 64-bit counter holds, or more.
pub(crate) fn parse_v1_memory_limit(text: &str) -> Option<u64> {
    let limit: u64 = text.trim().parse().ok()?;
    (limit < 1 << 62).then_some(limit)
}

/// One `key value` field of a `memory.stat` file.
pub(crate) fn memory_stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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

    #[test]
    fn memory_dirs_of_v1_and_v2() {
        let cgroup = "4:memory:/process_api/abc\n1:cpu:/\n0::/user.slice/job\n";
        let mountinfo = "\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let dirs = memory_cgroup_dirs_from(cgroup, mountinfo);
        let v1: Vec<_> = dirs
            .iter()
            .filter(|(v, _)| *v == CgroupVersion::V1)
            .map(|(_, d)| d.to_str().unwrap())
            .collect();
        assert_eq!(
            v1,
            [
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/memory/process_api",
                "/sys/fs/cgroup/memory/process_api/abc"
            ]
        );
        let v2: Vec<_> = dirs
            .iter()
            .filter(|(v, _)| *v == CgroupVersion::V2)
            .map(|(_, d)| d.to_str().unwrap())
            .collect();
        assert_eq!(
            v2,
            [
                "/sys/fs/cgroup/unified",
                "/sys/fs/cgroup/unified/user.slice",
                "/sys/fs/cgroup/unified/user.slice/job"
            ]
        );
    }

    #[test]
    fn memory_limits_and_stat_fields() {
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max("1073741824\n"), Some(1 << 30));
        assert_eq!(parse_v1_memory_limit("9223372036854771712\n"), None);
        assert_eq!(parse_v1_memory_limit("536870912\n"), Some(1 << 29));
        let stat = "cache 100\ninactive_file 4096\ntotal_inactive_file 8192\n";
        assert_eq!(memory_stat_field(stat, "inactive_file"), Some(4096));
        assert_eq!(memory_stat_field(stat, "total_inactive_file"), Some(8192));
        assert_eq!(memory_stat_field(stat, "active_file"), None);
    }
}
