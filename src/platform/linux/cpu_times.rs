//! The machine's total CPU time: the first line of `/proc/stat`.

use std::io;

use crate::platform::CpuTimes;

/// Reads the machine's CPU time since boot, summed over all CPUs.
pub(crate) fn cpu_times() -> io::Result<CpuTimes> {
    // The first line is all we need, but the kernel builds the whole file
    // (with a line per CPU and interrupt counts) whatever we read of it.
    let text = std::fs::read_to_string("/proc/stat")?;
    parse_cpu_times(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/stat"))
}

/// Parses the `cpu` line of `/proc/stat`: `user nice system idle iowait irq
/// softirq steal guest guest_nice`, in clock ticks. Guest time is already
/// part of user time, so it is not added again. Kernels older than 2.6.11
/// lack the last fields, which then count as zero.
pub(crate) fn parse_cpu_times(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let mut values = [0u64; 8];
    let mut count = 0;
    for (slot, field) in values.iter_mut().zip(line.split_ascii_whitespace().skip(1)) {
        *slot = field.parse().ok()?;
        count += 1;
    }
    if count < 4 {
        return None;
    }
    let [user, nice, system, idle, iowait, irq, softirq, steal] = values;
    Some(CpuTimes {
        busy_ticks: user + nice + system + irq + softirq,
        idle_ticks: idle + iowait + steal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_line_is_split_into_busy_and_idle() {
        let text = "\
cpu  100 2 30 5000 40 5 6 7 50 0
cpu0 50 1 15 2500 20 3 3 4 25 0
intr 12345 0 0
";
        let t = parse_cpu_times(text).unwrap();
        assert_eq!(t.busy_ticks, 100 + 2 + 30 + 5 + 6);
        assert_eq!(t.idle_ticks, 5000 + 40 + 7);
    }

    #[test]
    fn old_and_broken_lines() {
        let t = parse_cpu_times("cpu 1 2 3 4\n").unwrap();
        assert_eq!((t.busy_ticks, t.idle_ticks), (6, 4));
        assert!(parse_cpu_times("cpu 1 x 3 4\n").is_none());
        assert!(parse_cpu_times("cpu0 1 2 3 4\n").is_none(), "no total line");
        assert!(parse_cpu_times("cpu 1 2\n").is_none(), "no idle field");
    }

    #[test]
    fn this_machine_has_cpu_times() {
        let t = cpu_times().unwrap();
        assert!(t.busy_ticks + t.idle_ticks > 0);
    }
}
