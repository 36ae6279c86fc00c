//! Measurements fed from a file instead of taken from the machine: the seam
//! through which tests make the load that the scheduler reacts to.
//!
//! When the environment variable `DUMMYMP_LOAD_SOURCE` names a file, every
//! measurement of foreign load in this process (the scheduler's in the
//! background, and [`measure_foreign_load`](super::measure_foreign_load)
//! and its siblings) reads that file at the moment it would have read the
//! machine, and nothing in `/proc`. The file lists the foreign processes
//! to count, one per line:
//!
//! ```text
//! # PID NAME PERCENT-OF-ONE-CPU
//! 5000001 fed-loop 100
//! 5000002 fed-loop 95.5
//! ```
//!
//! Blank lines and everything after a `#` are ignored; an empty file is a
//! quiet machine. The mode's threshold and both counting rules apply to
//! the listed processes as to measured ones, against this process's real
//! usable CPUs: a listed pid that belongs to a live process reaches the
//! CPUs its affinity allows, any other pid every CPU (pick pids above
//! 4194304, which no Linux process can have, for made-up processes). A
//! measurement still takes the mode's sampling interval, so the scheduler
//! keeps its real cadence. Changing the file changes what the next measurement finds:
//! replace it whole (write another file, rename it over this one), so that
//! a measurement never reads half of it. A file that cannot be read or
//! parsed fails the measurement as a failed reading of `/proc` would (a
//! warning, and every usable CPU counted as free).
//!
//! It exists for tests of reactions to load (pause, lower priority,
//! continue, start): with it, what other users run on the test machine can
//! neither fail nor hang them. Being an environment variable, it reaches a
//! role program, the command-line tool and the Python package alike.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

use super::rules::{self, Share, system_affinity};
use super::{LoadMeasurement, MeasurementKind};
use crate::cpus::CpuInfo;
use crate::platform::ProcessName;
use crate::priority::Priority;

/// The environment variable that names the file measurements are fed from.
pub(crate) const VARIABLE: &str = "DUMMYMP_LOAD_SOURCE";

/// The file measurements are fed from, when [`VARIABLE`] names one. Says
/// so once, at level info, so that nobody mistakes fed load for measured
/// load.
pub(crate) fn source() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os(VARIABLE).filter(|p| !p.is_empty())?);
    static TOLD: Once = Once::new();
    TOLD.call_once(|| {
        log::info!(
            target: "dummymp::load",
            "foreign load is read from {} ({VARIABLE}), not measured",
            path.display()
        );
    });
    Some(path)
}

/// A measurement of the processes listed in `path`, made now.
pub(crate) fn measure(
    path: &Path,
    priority: Priority,
    kind: MeasurementKind,
    cpu: &CpuInfo,
) -> io::Result<LoadMeasurement> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{VARIABLE}={}: {e}", path.display())))?;
    let shares = parse(&text).map_err(|(line, why)| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{VARIABLE}={}, line {line}: {why}", path.display()),
        )
    })?;
    Ok(rules::summarize(
        priority,
        kind,
        &shares,
        cpu,
        &system_affinity,
        shares.len(),
        Instant::now(),
    ))
}

/// The processes of a load file, or the number of the first bad line and
/// what is wrong with it.
fn parse(text: &str) -> Result<Vec<Share>, (usize, String)> {
    let mut shares = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| (index + 1, format!("{why} in {line:?}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [pid, name, percent] = fields[..] else {
            return Err(bad("expected `PID NAME PERCENT`"));
        };
        let pid = pid
            .parse::<i32>()
            .ok()
            .filter(|&pid| pid > 0)
            .ok_or_else(|| bad("the pid is not a positive number"))?;
        let percent = percent
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| bad("the share of a CPU is not a number of percent"))?;
        shares.push(Share {
            pid,
            name: ProcessName::from_bytes(name.as_bytes()),
            percent,
            // A fed share is all the process wants: it waited for nothing.
            waited_percent: 0.0,
        });
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpus::CpuSet;

    fn two_cpus() -> CpuInfo {
        CpuInfo {
            total: 2,
            allowed: CpuSet::from_ids([0, 1]),
            quota: None,
            usable: 2,
        }
    }

    #[test]
    fn lines_comments_and_blanks() {
        let shares =
            parse("# pid name percent\n\n4001 loop 100\n  4002 sh 12.5 # small\n").unwrap();
        let read: Vec<(i32, String, f64)> = shares
            .iter()
            .map(|s| (s.pid, s.name.to_string(), s.percent))
            .collect();
        assert_eq!(
            read,
            [(4001, "loop".into(), 100.0), (4002, "sh".into(), 12.5)]
        );
        assert!(parse("").unwrap().is_empty(), "a quiet machine");
    }

    #[test]
    fn a_bad_line_is_named() {
        for (text, line, why) in [
            ("4001 loop\n", 1, "expected"),
            ("\n4001 loop 100 extra\n", 2, "expected"),
            ("-3 loop 100\n", 1, "pid"),
            ("4001 loop lots\n", 1, "percent"),
            ("4001 loop NaN\n", 1, "percent"),
            ("4001 loop -5\n", 1, "percent"),
        ] {
            let (at, message) = parse(text).unwrap_err();
            assert_eq!(at, line, "{text:?}");
            assert!(message.contains(why), "{text:?}: {message}");
        }
    }

    #[test]
    fn the_rules_and_the_threshold_apply() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("load");
        std::fs::write(
            &file,
            "5000010 big 100\n5000011 small 25\n5000012 small 25\n",
        )
        .unwrap();
        let m = measure(
            &file,
            Priority::Normal,
            MeasurementKind::Sampled,
            &two_cpus(),
        )
        .unwrap();
        let counted: Vec<i32> = m.counted.iter().map(|p| p.pid).collect();
        assert_eq!(counted, [5000010], "25 % is under Normal's 30 %");
        assert_eq!(m.foreign_cpus, 1);
        assert_eq!(m.available_cpus, 1);
        assert_eq!(m.machine_percent, 150.0);
        assert_eq!(
            m.to_string(),
            "1 of 2 CPUs busy with other processes: pid 5000010 (big) 100 %"
        );
        let m = measure(
            &file,
            Priority::Extreme,
            MeasurementKind::Sampled,
            &two_cpus(),
        )
        .unwrap();
        assert_eq!(m.foreign_cpus, 1);
        assert_eq!(m.machine_cpus, 1, "150 - 80 = 70 %, rounded");
        std::fs::write(&file, "5000011 small 25\n5000012 small 25\n").unwrap();
        let m = measure(
            &file,
            Priority::Normal,
            MeasurementKind::Sampled,
            &two_cpus(),
        )
        .unwrap();
        assert!(m.counted.is_empty(), "{m:?}");
        assert_eq!(m.foreign_cpus, 0, "50 - 30 = 20 %, rounded: {m:?}");
        assert_eq!(m.available_cpus, 2);
    }

    #[test]
    fn a_live_process_reaches_only_the_cpus_its_affinity_allows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("load");
        let me = std::process::id();
        std::fs::write(&file, format!("{me} live 100\n5000001 made-up 100\n")).unwrap();
        // Our "CPU" is one that this process's affinity does not hold.
        let elsewhere = CpuInfo {
            total: 4096,
            allowed: CpuSet::from_ids([4095]),
            quota: None,
            usable: 1,
        };
        let m = measure(
            &file,
            Priority::Normal,
            MeasurementKind::Sampled,
            &elsewhere,
        )
        .unwrap();
        let counted: Vec<i32> = m.counted.iter().map(|p| p.pid).collect();
        assert_eq!(counted, [5000001], "{m:?}");
    }

    #[test]
    fn a_missing_or_broken_file_fails_the_measurement_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("load");
        let error = measure(
            &file,
            Priority::Normal,
            MeasurementKind::Sampled,
            &two_cpus(),
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(
            error.to_string().contains("DUMMYMP_LOAD_SOURCE="),
            "{error}"
        );
        std::fs::write(&file, "4001 loop\n").unwrap();
        let error = measure(
            &file,
            Priority::Normal,
            MeasurementKind::Sampled,
            &two_cpus(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }
}
