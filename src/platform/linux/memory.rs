//! Memory available to this process: `MemAvailable` from `/proc/meminfo`,
//! further limited by the memory cgroups (v1 or v2) it runs in.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cgroup::{
    CgroupVersion, memory_cgroup_dirs, memory_stat_field, parse_memory_max, parse_v1_memory_limit,
};
use crate::platform::MemoryFigures;

/// Where this process's memory figures come from: `/proc/meminfo` and the
/// cgroup levels that had a memory limit when it was made.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemorySource {
    limited: Vec<(CgroupVersion, PathBuf)>,
    machine: MachineFigures,
}

/// How long the machine's figures (`/proc/meminfo`, which the kernel takes
/// about 20 µs to produce) are used again instead of read again: memory
/// that tasks take or free moves over far longer times, and starting a
/// burst of tasks should not read it for each.
const MACHINE_FIGURES_FRESH: Duration = Duration::from_millis(25);

/// The machine's figures, as last read.
#[derive(Debug, Default)]
struct MachineFigures(Mutex<Option<(Instant, MemoryFigures)>>);

impl Clone for MachineFigures {
    fn clone(&self) -> Self {
        MachineFigures(Mutex::new(*self.lock()))
    }
}

impl MachineFigures {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, MemoryFigures)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `/proc/meminfo`'s figures, read again when the last reading is
    /// older than [`MACHINE_FIGURES_FRESH`].
    fn get(&self) -> io::Result<MemoryFigures> {
        let now = Instant::now();
        if let Some((at, figures)) = *self.lock()
            && now.saturating_duration_since(at) < MACHINE_FIGURES_FRESH
        {
            return Ok(figures);
        }
        let text = std::fs::read_to_string("/proc/meminfo")?;
        let figures = parse_meminfo(&text)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/meminfo"))?;
        *self.lock() = Some((now, figures));
        Ok(figures)
    }
}

impl MemorySource {
    /// Looks up the cgroup levels that limit memory now. Their files are
    /// read again at every [`MemorySource::read`]; a limit set on another
    /// level later is seen only by a new source.
    pub(crate) fn discover() -> MemorySource {
        let limited = memory_cgroup_dirs()
            .into_iter()
            .filter(|(version, dir)| limit_of(*version, dir).is_some())
            .collect();
        MemorySource {
            limited,
            machine: MachineFigures::default(),
        }
    }

    /// The memory figures now: the machine's, or a cgroup limit's where that
    /// is smaller. Page cache that the kernel can reclaim within a cgroup
    /// (`inactive_file` in `memory.stat`, a longer file to read) is looked
    /// up only for a level whose limit leaves less than `enough` bytes
    /// without it.
    pub(crate) fn read(&self, enough: u64) -> io::Result<MemoryFigures> {
        let mut figures = self.machine.get()?;
        for (version, dir) in &self.limited {
            if let Some(level) = read_level(*version, dir, enough) {
                figures.total = figures.total.min(level.total);
                if level.available <= figures.available {
                    figures.available = level.available;
                    figures.cgroup_bound = true;
                }
            }
        }
        Ok(figures)
    }
}

/// Parses `/proc/meminfo` (values in kB). Kernels before 3.14 have no
/// `MemAvailable`: free memory plus buffers and page cache stands in.
pub(crate) fn parse_meminfo(text: &str) -> Option<MemoryFigures> {
    let field = |key: &str| -> Option<u64> {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kb * 1024)
        })
    };
    let total = field("MemTotal")?;
    let available = match field("MemAvailable") {
        Some(available) => available,
        None => field("MemFree")? + field("Buffers").unwrap_or(0) + field("Cached").unwrap_or(0),
    };
    Some(MemoryFigures {
        total,
        available: available.min(total),
        cgroup_bound: false,
    })
}

/// The limit of one cgroup level, `None` when it has none.
fn limit_of(version: CgroupVersion, dir: &Path) -> Option<u64> {
    match version {
        CgroupVersion::V2 => parse_memory_max(&read(dir, "memory.max")?),
        CgroupVersion::V1 => parse_v1_memory_limit(&read(dir, "memory.limit_in_bytes")?),
    }
}

/// The figures of one limited cgroup level (see [`MemorySource::read`]).
fn read_level(version: CgroupVersion, dir: &Path, enough: u64) -> Option<MemoryFigures> {
    let limit = limit_of(version, dir)?;
    let usage_file = match version {
        CgroupVersion::V2 => "memory.current",
        CgroupVersion::V1 => "memory.usage_in_bytes",
    };
    let usage: u64 = read(dir, usage_file)?.trim().parse().ok()?;
    let reclaimable = if limit.saturating_sub(usage) >= enough {
        0
    } else {
        let stat = read(dir, "memory.stat").unwrap_or_default();
        match version {
            CgroupVersion::V2 => memory_stat_field(&stat, "inactive_file"),
            CgroupVersion::V1 => memory_stat_field(&stat, "total_inactive_file")
                .or_else(|| memory_stat_field(&stat, "inactive_file")),
        }
        .unwrap_or(0)
    };
    Some(level_figures(limit, usage, reclaimable))
}

/// What a limit leaves: usage counts without the reclaimable page cache.
pub(crate) fn level_figures(limit: u64, usage: u64, reclaimable: u64) -> MemoryFigures {
    MemoryFigures {
        total: limit,
        available: limit.saturating_sub(usage.saturating_sub(reclaimable)),
        cgroup_bound: true,
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "\
MemTotal:       24683520 kB
MemFree:        22303744 kB
MemAvailable:   24079360 kB
Buffers:          102400 kB
Cached:          1843200 kB
SwapTotal:             0 kB
";

    #[test]
    fn meminfo_in_bytes() {
        let m = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(m.total, 24683520 * 1024);
        assert_eq!(m.available, 24079360 * 1024);
    }

    #[test]
    fn meminfo_of_an_old_kernel() {
        let old = MEMINFO.replace("MemAvailable:   24079360 kB\n", "");
        let m = parse_meminfo(&old).unwrap();
        assert_eq!(m.available, (22303744 + 102400 + 1843200) * 1024);
        assert!(parse_meminfo("MemFree: 1 kB\n").is_none(), "no total");
    }

    #[test]
    fn a_limit_leaves_its_reclaimable_cache() {
        let gib = 1u64 << 30;
        let m = level_figures(4 * gib, 3 * gib, gib);
        assert_eq!(m.total, 4 * gib);
        assert_eq!(m.available, 2 * gib);
        assert_eq!(
            level_figures(gib, 2 * gib, 0).available,
            0,
            "over the limit"
        );
        assert_eq!(level_figures(gib, 0, gib).available, gib);
    }

    #[test]
    fn this_machine_has_memory() {
        let m = MemorySource::discover().read(u64::MAX).unwrap();
        assert!(m.total > 0);
        assert!(m.available <= m.total);
    }
}
