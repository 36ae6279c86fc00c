//! How many processes the kernel's out-of-memory killer has ended: the
//! counter of this process's memory cgroup (v2 `memory.events`, v1
//! `memory.oom_control`), or the machine's (`/proc/vmstat`) where no cgroup
//! keeps one. All three files hold a line `oom_kill N`.

use std::path::PathBuf;

use super::cgroup::{CgroupVersion, memory_cgroup_dirs};

/// Where the out-of-memory kills that concern our processes are counted.
#[derive(Debug, Clone, Default)]
pub(crate) struct OomCounter {
    file: Option<PathBuf>,
}

impl OomCounter {
    /// The counter of this process's own memory cgroup (our tasks start in
    /// it), else the machine's.
    pub(crate) fn discover() -> OomCounter {
        let dirs = memory_cgroup_dirs();
        // The deepest directory of each interface is our own cgroup.
        let own = |version| {
            dirs.iter()
                .rev()
                .find(|(v, _)| *v == version)
                .map(|(_, dir)| dir.clone())
        };
        let candidates = [
            own(CgroupVersion::V2).map(|dir| dir.join("memory.events")),
            own(CgroupVersion::V1).map(|dir| dir.join("memory.oom_control")),
            Some(PathBuf::from("/proc/vmstat")),
        ];
        let file = candidates
            .into_iter()
            .flatten()
            .find(|file| read_counter(file).is_some());
        OomCounter { file }
    }

    /// The counter in `file` (a test's stand-in).
    #[cfg(test)]
    pub(crate) fn at(file: PathBuf) -> OomCounter {
        OomCounter { file: Some(file) }
    }

    /// The count now, `None` when it cannot be read.
    pub(crate) fn read(&self) -> Option<u64> {
        read_counter(self.file.as_ref()?)
    }
}

fn read_counter(file: &std::path::Path) -> Option<u64> {
    parse_oom_kill(&std::fs::read_to_string(file).ok()?)
}

/// The `oom_kill N` line of `memory.events`, `memory.oom_control` or
/// `/proc/vmstat`.
pub(crate) fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == "oom_kill").then(|| value.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_file_gives_its_oom_kill_line() {
        let v2 = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(v2), Some(2));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
        assert_eq!(parse_oom_kill(v1), Some(7));
        let vmstat = "pgfault 100\noom_kill 0\nnuma_hit 5\n";
        assert_eq!(parse_oom_kill(vmstat), Some(0));
        assert_eq!(parse_oom_kill("oom_kill_disable 0\n"), None);
    }

    #[test]
    fn this_machine_counts_them_somewhere() {
        // Every Linux since 4.13 has the machine's counter at least.
        assert!(OomCounter::discover().read().is_some());
    }
}
