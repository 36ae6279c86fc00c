//! A measurement told in one line, for people: what is free, and which
//! foreign processes took the rest.

use std::fmt;

use super::{LoadMeasurement, LoadRule, MeasurementKind};

/// How many counted processes a summary names before "and N more".
const NAMED: usize = 3;

impl fmt::Display for LoadMeasurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == MeasurementKind::Estimate {
            f.write_str("estimate: ")?;
        }
        if self.foreign_cpus == 0 {
            write!(
                f,
                "{} of {} CPUs free",
                self.available_cpus, self.usable_cpus
            )?;
            return match self.kind {
                MeasurementKind::Aggregate => write!(
                    f,
                    " (other processes use at most {:.0} % of a CPU in all)",
                    self.machine_percent
                ),
                _ if !self.counted.is_empty() => {
                    f.write_str(" (counted, less than one CPU: ")?;
                    self.name_counted(f)?;
                    f.write_str(")")
                }
                _ => Ok(()),
            };
        }
        write!(
            f,
            "{} of {} CPUs busy with other processes: ",
            self.foreign_cpus.min(self.usable_cpus),
            self.usable_cpus
        )?;
        match self.rule {
            LoadRule::PerProcess => self.name_counted(f),
            LoadRule::MachineWide => {
                write!(
                    f,
                    "{:.1} CPUs in all over {} processes, ",
                    self.machine_percent / 100.0,
                    self.active_processes
                )?;
                let threshold = self.priority.threshold_percent().unwrap_or(0.0);
                if self.counted.is_empty() {
                    write!(f, "none above {threshold:.0} %")
                } else {
                    write!(f, "{} above {threshold:.0} %: ", self.counted.len())?;
                    self.name_counted(f)
                }
            }
        }
    }
}

impl LoadMeasurement {
    /// `pid 123 (sh) 87 %, pid 124 (sh) 85 % and 2 more`.
    fn name_counted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.counted.iter().take(NAMED).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "pid {} ({}) {:.0} %", p.pid, p.name, p.cpu_percent)?;
        }
        if self.counted.len() > NAMED {
            write!(f, " and {} more", self.counted.len() - NAMED)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::rules::{Share, quiet, summarize};
    use crate::cpus::{CpuInfo, CpuSet};
    use crate::load::MeasurementKind;
    use crate::platform::ProcessName;
    use crate::priority::Priority;

    fn two_cpus() -> CpuInfo {
        CpuInfo {
            total: 2,
            allowed: CpuSet::from_ids([0, 1]),
            quota: None,
            usable: 2,
        }
    }

    fn text(percents: &[f64]) -> String {
        let shares: Vec<Share> = percents
            .iter()
            .enumerate()
            .map(|(i, &percent)| Share {
                pid: 100 + i as i32,
                name: ProcessName::from_bytes(b"sh"),
                percent,
                waited_percent: 0.0,
            })
            .collect();
        summarize(
            Priority::Normal,
            MeasurementKind::Sampled,
            &shares,
            &two_cpus(),
            &|_| None,
            50,
            Instant::now(),
        )
        .to_string()
    }

    #[test]
    fn summaries() {
        assert_eq!(
            text(&[87.0, 85.0]),
            "2 of 2 CPUs busy with other processes: pid 100 (sh) 87 %, pid 101 (sh) 85 %"
        );
        assert_eq!(
            text(&[99.0, 98.0, 97.0, 96.0]),
            "2 of 2 CPUs busy with other processes: pid 100 (sh) 99 %, pid 101 (sh) 98 %, \
             pid 102 (sh) 97 % and 1 more"
        );
        assert_eq!(
            text(&[25.0; 8]),
            "2 of 2 CPUs busy with other processes: 2.0 CPUs in all over 8 processes, \
             none above 30 %"
        );
        assert_eq!(
            text(&[40.0]),
            "2 of 2 CPUs free (counted, less than one CPU: pid 100 (sh) 40 %)"
        );
        assert_eq!(text(&[1.0]), "2 of 2 CPUs free");
        assert_eq!(
            quiet(Priority::Normal, 7.4, &two_cpus(), Instant::now()).to_string(),
            "2 of 2 CPUs free (other processes use at most 7 % of a CPU in all)"
        );
    }
}
