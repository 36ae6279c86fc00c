//! Priority modes: how much room dummymp leaves to the other users of the
//! machine.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How considerate dummymp is of the other processes on the machine.
///
/// In every mode but [`Nuclear`](Priority::Nuclear), dummymp measures the CPU
/// use of every *foreign* process (anything that is not this process or a
/// descendant of it) over a short sampling interval, and counts busy CPUs
/// by two rules, the larger winning:
///
/// - **per process** (the original's rule): a foreign process counts only
///   when it uses more than the mode's threshold of one CPU;
/// - **machine-wide**: all foreign processes together, less the threshold
///   once, so that many small processes cannot hide below it (eight loops
///   at 25 % on 2 CPUs leave no CPU free in `Normal`).
///
/// The CPUs left free are the usable CPUs minus the counted load, rounded to
/// the nearest CPU. The measurement is repeated every re-measure interval
/// while tasks wait to start (or run, in the modes that yield), and back to
/// back, one result per sampling interval, while the scheduler waits with
/// nothing of ours running or has paused tasks.
///
/// | mode | counts processes above | sampling | re-measure every | when no CPU is free | memory kept free | load appears while ours run |
/// |---|---|---|---|---|---|---|
/// | `Generous` | 20 % | 0.5 s | 5 s | waits | 20 % | lower their priority, pause the newest |
/// | `Normal` (default) | 30 % | 0.35 s | 10 s | runs one task if none of ours runs | 10 % | lower their priority |
/// | `Aggressive` | 50 % | 0.2 s | 20 s | runs one task if none of ours runs | 5 % | nothing |
/// | `Extreme` | 80 % | 0.1 s | 30 s | runs one task if none of ours runs | 2 % | nothing |
/// | `Nuclear` | never measures | - | - | uses every usable CPU | none | nothing |
///
/// *Memory kept free* is the share of the usable memory (the machine's, or
/// a cgroup limit's) that a new task must leave available to others (see
/// [`Scheduler`](crate::Scheduler)). The process cap
/// ([`DummyMp::set_max_processes`](crate::DummyMp::set_max_processes))
/// applies in every mode.
///
/// ```
/// use dummymp::Priority;
/// let mode: Priority = "aggressive".parse()?;
/// assert_eq!(mode, Priority::Aggressive);
/// assert_eq!(mode.threshold_percent(), Some(50.0));
/// assert_eq!(Priority::default(), Priority::Normal);
/// assert_eq!(Priority::Generous.memory_reserve_percent(), 20.0);
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    /// Very considerate: counts anything above 20 % and waits while no CPU
    /// is free, even if none of our tasks runs.
    Generous,
    /// Considerate (the default): counts anything above 30 %; runs one task
    /// when no CPU is free and none of ours runs.
    #[default]
    Normal,
    /// Counts only processes above 50 %.
    Aggressive,
    /// Counts only processes above 80 %.
    Extreme,
    /// Ignores everybody else and uses every usable CPU.
    Nuclear,
}

impl Priority {
    /// Every mode, from the most considerate to the least.
    pub const ALL: [Priority; 5] = [
        Priority::Generous,
        Priority::Normal,
        Priority::Aggressive,
        Priority::Extreme,
        Priority::Nuclear,
    ];

    /// Lower-case name, as accepted by [`str::parse`].
    pub fn name(self) -> &'static str {
        match self {
            Priority::Generous => "generous",
            Priority::Normal => "normal",
            Priority::Aggressive => "aggressive",
            Priority::Extreme => "extreme",
            Priority::Nuclear => "nuclear",
        }
    }

    /// A foreign process counts as load only above this share of one CPU,
    /// in percent. `None` for `Nuclear`, which never measures.
    pub fn threshold_percent(self) -> Option<f64> {
        match self {
            Priority::Generous => Some(20.0),
            Priority::Normal => Some(30.0),
            Priority::Aggressive => Some(50.0),
            Priority::Extreme => Some(80.0),
            Priority::Nuclear => None,
        }
    }

    /// How long one measurement of foreign load samples CPU times.
    pub fn sample_interval(self) -> Option<Duration> {
        match self {
            Priority::Generous => Some(Duration::from_millis(500)),
            Priority::Normal => Some(Duration::from_millis(350)),
            Priority::Aggressive => Some(Duration::from_millis(200)),
            Priority::Extreme => Some(Duration::from_millis(100)),
            Priority::Nuclear => None,
        }
    }

    /// How long a measurement stays valid before it is taken again.
    pub fn remeasure_interval(self) -> Option<Duration> {
        match self {
            Priority::Generous => Some(Duration::from_secs(5)),
            Priority::Normal => Some(Duration::from_secs(10)),
            Priority::Aggressive => Some(Duration::from_secs(20)),
            Priority::Extreme => Some(Duration::from_secs(30)),
            Priority::Nuclear => None,
        }
    }

    /// Whether one task is started anyway when no CPU is free and none of
    /// ours runs. Only `Generous` waits instead.
    pub fn forces_one(self) -> bool {
        self != Priority::Generous
    }

    /// Whether the mode measures foreign load at all.
    pub fn measures_load(self) -> bool {
        self != Priority::Nuclear
    }

    /// The share of the usable memory, in percent, that must stay available
    /// to others after a task starts: room for the page cache and for other
    /// users' programs to grow between two decisions. `Generous` leaves a
    /// fifth; `Extreme` keeps just above the kernel's own reclaim
    /// watermarks; `Nuclear` keeps nothing back (a task must still fit in
    /// what is available).
    pub fn memory_reserve_percent(self) -> f64 {
        match self {
            Priority::Generous => 20.0,
            Priority::Normal => 10.0,
            Priority::Aggressive => 5.0,
            Priority::Extreme => 2.0,
            Priority::Nuclear => 0.0,
        }
    }

    /// Whether our running tasks should run at a lower priority (`nice`)
    /// when foreign load leaves fewer CPUs than they use: `Generous` and
    /// `Normal`.
    pub fn renices_running_tasks(self) -> bool {
        matches!(self, Priority::Generous | Priority::Normal)
    }

    /// Whether the most recently started of our running tasks should be
    /// paused (`SIGSTOP`) when foreign load leaves fewer CPUs than they
    /// use, and continued when it goes: `Generous` only.
    pub fn pauses_running_tasks(self) -> bool {
        self == Priority::Generous
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Priority {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| crate::Error::UnknownPriority(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Priority::ALL {
            assert_eq!(p.name().parse::<Priority>().unwrap(), p);
            assert_eq!(p.to_string().to_uppercase().parse::<Priority>().unwrap(), p);
        }
        let err = "nucler".parse::<Priority>().unwrap_err();
        assert!(err.to_string().contains("nucler"), "{err}");
    }

    #[test]
    fn the_more_considerate_the_mode_the_more_it_leaves() {
        let reserves: Vec<f64> = Priority::ALL
            .iter()
            .map(|p| p.memory_reserve_percent())
            .collect();
        assert!(reserves.windows(2).all(|w| w[0] > w[1]), "{reserves:?}");
        assert_eq!(reserves[4], 0.0, "nuclear keeps nothing back");
        let renice: Vec<bool> = Priority::ALL
            .iter()
            .map(|p| p.renices_running_tasks())
            .collect();
        assert_eq!(renice, [true, true, false, false, false]);
        let pause: Vec<bool> = Priority::ALL
            .iter()
            .map(|p| p.pauses_running_tasks())
            .collect();
        assert_eq!(pause, [true, false, false, false, false]);
    }

    #[test]
    fn each_mode_has_its_own_remeasure_interval() {
        let intervals: Vec<_> = Priority::ALL
            .iter()
            .filter_map(|p| p.remeasure_interval())
            .collect();
        assert_eq!(intervals.len(), 4);
        for pair in intervals.windows(2) {
            assert!(pair[0] < pair[1]);
        }
    }
}
