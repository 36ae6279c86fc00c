//! The memory a process copied from its parent by `fork` costs on its own:
//! what it does not share (with that parent, or anyone else).
//!
//! Right after a `fork` every page of the parent is mapped in the copy too,
//! shared until one of the two writes to it; the kernel's peak resident
//! size (`VmHWM`, and `ru_maxrss` at the end) counts those shared pages in
//! full, so a copy of a 2 GiB program that touches nothing would look like
//! a 2 GiB task. What a copy costs is its peak resident size less what is
//! still shared at the end. Pages only leave the shared set (a write copies
//! them, the parent unmaps them), so what was shared at the peak was at
//! least what is shared at the end: the figure is an upper bound of the
//! unshared peak, and at least the unshared memory it holds at the end.

/// This process's unshared peak, in bytes (see the module documentation);
/// `None` when `/proc` cannot tell (no `smaps_rollup` before Linux 4.14).
pub(crate) fn unshared_peak() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    parse_unshared_peak(&status, &rollup)
}

/// The unshared peak from the texts of `/proc/self/status` (for `VmHWM`)
/// and `/proc/self/smaps_rollup` (for the shared and private pages now).
pub(crate) fn parse_unshared_peak(status: &str, rollup: &str) -> Option<u64> {
    let peak = kilobytes(status, "VmHWM")?;
    let shared = kilobytes(rollup, "Shared_Clean")? + kilobytes(rollup, "Shared_Dirty")?;
    let private = kilobytes(rollup, "Private_Clean")? + kilobytes(rollup, "Private_Dirty")?;
    Some(peak.saturating_sub(shared).max(private) * 1024)
}

/// The value of the line `key: N kB`.
fn kilobytes(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLLUP: &str = "55c0d18ce000-7ffc2708f000 ---p 00000000 00:00 0  [rollup]\n\
        Rss:              901000 kB\nPss:                 201 kB\n\
        Shared_Clean:       1000 kB\nShared_Dirty:     800000 kB\n\
        Private_Clean:        40 kB\nPrivate_Dirty:     99960 kB\nSwap:  0 kB\n";

    #[test]
    fn pages_still_shared_at_the_end_are_not_the_copys() {
        let status =
            "Name:\tpython3\nVmPeak:\t 2000000 kB\nVmHWM:\t  951000 kB\nVmRSS:\t 901000 kB\n";
        // 951000 - 801000 = 150000 kB: the peak less what is shared.
        assert_eq!(parse_unshared_peak(status, ROLLUP), Some(150_000 * 1024));
    }

    #[test]
    fn never_less_than_the_private_pages_held_at_the_end() {
        let status = "VmHWM:\t 850000 kB\n";
        assert_eq!(parse_unshared_peak(status, ROLLUP), Some(100_000 * 1024));
    }

    #[test]
    fn missing_fields_say_nothing() {
        assert_eq!(parse_unshared_peak("VmRSS: 1 kB\n", ROLLUP), None);
        assert_eq!(parse_unshared_peak("VmHWM: 1 kB\n", "Rss: 1 kB\n"), None);
    }

    #[test]
    fn this_process_has_a_figure() {
        let peak = unshared_peak().expect("Linux 4.14 or later has smaps_rollup");
        assert!(peak > 0);
    }
}
