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
/// A mode of your own ([`Priority::Custom`], made with
/// [`CustomPriority::new`]) sets the first three columns (and a name); the
/// other rules are those of a built-in mode (see [`CustomPriority`]).
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
#[non_exhaustive]
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
    /// A mode of your own: its threshold, sampling and re-measure
    /// intervals and name, with the other rules of a built-in mode.
    Custom(CustomPriority),
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

    /// Lower-case name, as accepted by [`str::parse`]; a custom mode's
    /// own name.
    ///
    /// ```
    /// assert_eq!(dummymp::Priority::Generous.name(), "generous");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Priority::Generous => "generous",
            Priority::Normal => "normal",
            Priority::Aggressive => "aggressive",
            Priority::Extreme => "extreme",
            Priority::Nuclear => "nuclear",
            Priority::Custom(custom) => custom.name,
        }
    }

    /// A foreign process counts as load only above this share of one CPU,
    /// in percent. `None` for `Nuclear` (and a custom mode that counts
    /// nobody), which never measures.
    ///
    /// ```
    /// use dummymp::Priority;
    /// assert_eq!(Priority::Normal.threshold_percent(), Some(30.0));
    /// assert_eq!(Priority::Nuclear.threshold_percent(), None);
    /// ```
    pub fn threshold_percent(self) -> Option<f64> {
        match self {
            Priority::Generous => Some(20.0),
            Priority::Normal => Some(30.0),
            Priority::Aggressive => Some(50.0),
            Priority::Extreme => Some(80.0),
            Priority::Nuclear => None,
            Priority::Custom(custom) => Some(custom.threshold_percent).filter(|t| t.is_finite()),
        }
    }

    /// How long one measurement of foreign load samples CPU times (`None`
    /// for a mode that never measures).
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::Priority;
    /// assert_eq!(Priority::Extreme.sample_interval(), Some(Duration::from_millis(100)));
    /// assert_eq!(Priority::Nuclear.sample_interval(), None);
    /// ```
    pub fn sample_interval(self) -> Option<Duration> {
        match self {
            Priority::Generous => Some(Duration::from_millis(500)),
            Priority::Normal => Some(Duration::from_millis(350)),
            Priority::Aggressive => Some(Duration::from_millis(200)),
            Priority::Extreme => Some(Duration::from_millis(100)),
            Priority::Nuclear => None,
            Priority::Custom(custom) => {
                Some(custom.sample_interval).filter(|_| self.measures_load())
            }
        }
    }

    /// How long a measurement stays valid before it is taken again (`None`
    /// for a mode that never measures).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(dummymp::Priority::Generous.remeasure_interval(), Some(Duration::from_secs(5)));
    /// ```
    pub fn remeasure_interval(self) -> Option<Duration> {
        match self {
            Priority::Generous => Some(Duration::from_secs(5)),
            Priority::Normal => Some(Duration::from_secs(10)),
            Priority::Aggressive => Some(Duration::from_secs(20)),
            Priority::Extreme => Some(Duration::from_secs(30)),
            Priority::Nuclear => None,
            Priority::Custom(custom) => {
                Some(custom.remeasure_interval).filter(|_| self.measures_load())
            }
        }
    }

    /// Whether one task is started anyway when no CPU is free and none of
    /// ours runs. Only `Generous` waits instead (and waits for its first
    /// measurement before it starts anything).
    ///
    /// ```
    /// use dummymp::Priority;
    /// assert!(Priority::Normal.forces_one());
    /// assert!(!Priority::Generous.forces_one());
    /// ```
    pub fn forces_one(self) -> bool {
        self.built_in_rules() != Priority::Generous
    }

    /// Whether the mode measures foreign load at all.
    ///
    /// ```
    /// use dummymp::Priority;
    /// assert!(Priority::Aggressive.measures_load());
    /// assert!(!Priority::Nuclear.measures_load());
    /// ```
    pub fn measures_load(self) -> bool {
        self.threshold_percent().is_some()
    }

    /// The built-in mode whose rules this one follows beyond its threshold
    /// and intervals: itself, or a custom mode's
    /// [`CustomPriority::rules_of`].
    fn built_in_rules(self) -> Priority {
        match self {
            Priority::Custom(custom) => custom.rules_of(),
            built_in => built_in,
        }
    }

    /// The share of the usable memory, in percent, that must stay available
    /// to others after a task starts: room for the page cache and for other
    /// users' programs to grow between two decisions. `Generous` leaves a
    /// fifth; `Extreme` keeps just above the kernel's own reclaim
    /// watermarks; `Nuclear` keeps nothing back (a task must still fit in
    /// what is available).
    ///
    /// ```
    /// use dummymp::Priority;
    /// assert_eq!(Priority::Generous.memory_reserve_percent(), 20.0);
    /// assert_eq!(Priority::Nuclear.memory_reserve_percent(), 0.0);
    /// ```
    pub fn memory_reserve_percent(self) -> f64 {
        match self.built_in_rules() {
            Priority::Generous => 20.0,
            Priority::Normal => 10.0,
            Priority::Aggressive => 5.0,
            Priority::Extreme => 2.0,
            _ => 0.0,
        }
    }

    /// Whether our running tasks should run at a lower priority (`nice`)
    /// when foreign load leaves fewer CPUs than they use: `Generous` and
    /// `Normal`.
    ///
    /// ```
    /// use dummymp::Priority;
    /// assert!(Priority::Normal.renices_running_tasks());
    /// assert!(!Priority::Aggressive.renices_running_tasks());
    /// ```
    pub fn renices_running_tasks(self) -> bool {
        matches!(self.built_in_rules(), Priority::Generous | Priority::Normal)
    }

    /// Whether the most recently started of our running tasks should be
    /// paused (`SIGSTOP`) when foreign load leaves fewer CPUs than they
    /// use, and continued when it goes: `Generous` only.
    ///
    /// ```
    /// use dummymp::Priority;
    /// assert!(Priority::Generous.pauses_running_tasks());
    /// assert!(!Priority::Normal.pauses_running_tasks());
    /// ```
    pub fn pauses_running_tasks(self) -> bool {
        self.built_in_rules() == Priority::Generous
    }
}

/// A priority mode of your own, as the original DummyMP's guide made them
/// (an entry in each of its tables `DUMMYMP_THRESHOLD`, `DUMMYMP_MINTERVAL`,
/// `DUMMYMP_MREFRESH` and `DUMMYMP_STRING`): a name, the share of one CPU
/// above which a foreign process counts as load, how long a measurement
/// samples CPU times and how often it is taken again. Use it as
/// [`Priority::Custom`].
///
/// What those tables do not say (whether one task starts when no CPU is
/// free and none of ours runs, the memory kept free, whether our running
/// tasks yield to load that appears) follows a built-in mode: by default
/// the nearest one on the politer side, the built-in mode with the largest
/// threshold at or below this one's (Generous below its 20 %; a mode that
/// counts nobody is Nuclear's), or the one
/// [`with_rules_of`](CustomPriority::with_rules_of) names.
///
/// ```
/// use std::time::Duration;
/// use dummymp::{CustomPriority, Priority};
///
/// let custom = CustomPriority::new("custom", 75.0, Duration::from_millis(300), Duration::from_secs(12))?;
/// assert_eq!(custom.rules_of(), Priority::Aggressive); // 50 % <= 75 % < 80 %
/// let mode = Priority::Custom(custom);
/// assert_eq!(mode.threshold_percent(), Some(75.0));
/// assert_eq!(mode.name(), "custom");
/// assert_eq!(mode.memory_reserve_percent(), Priority::Aggressive.memory_reserve_percent());
///
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_priority_mode(mode);
/// assert_eq!(mp.priority_mode(), mode);
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CustomPriority {
    name: &'static str,
    threshold_percent: f64,
    sample_interval: Duration,
    remeasure_interval: Duration,
    /// The built-in mode the other rules come from (never `Custom`).
    rules: BuiltIn,
}

/// A built-in mode, as a custom one's rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BuiltIn(u8);

impl BuiltIn {
    fn of(mode: Priority) -> BuiltIn {
        let built_in = match mode {
            Priority::Custom(custom) => custom.rules_of(),
            built_in => built_in,
        };
        let index = Priority::ALL.iter().position(|m| *m == built_in);
        BuiltIn(index.unwrap_or(1) as u8)
    }

    fn mode(self) -> Priority {
        Priority::ALL[self.0 as usize]
    }
}

impl CustomPriority {
    /// A mode called `name` that counts a foreign process as load when it
    /// uses more than `threshold_percent` of one CPU (`f64::INFINITY`:
    /// counts none and never measures, as Nuclear), samples CPU times over
    /// `sample_interval` and measures again every `remeasure_interval`. The
    /// other rules are those of the nearest built-in mode on the politer
    /// side (see [`CustomPriority`]). The name shows in logs and in
    /// [`Decision`](crate::Decision)s: a literal, or a `String` leaked with
    /// [`String::leak`] (modes are few).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) when the
    /// threshold is negative or not a number, an interval is zero, or the
    /// name is empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::{CustomPriority, Priority};
    /// let second = Duration::from_secs(1);
    /// let mode = CustomPriority::new("lenient", 60.0, second / 4, 15 * second)?;
    /// assert_eq!(mode.rules_of(), Priority::Aggressive);
    /// assert!(CustomPriority::new("", 60.0, second, second).is_err());
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn new(
        name: &'static str,
        threshold_percent: f64,
        sample_interval: Duration,
        remeasure_interval: Duration,
    ) -> Result<CustomPriority, crate::Error> {
        let invalid = |reason: String| crate::Error::InvalidSetting {
            setting: "custom priority mode",
            reason: format!("{name:?}: {reason}"),
        };
        if name.trim().is_empty() {
            return Err(invalid("a mode needs a name".to_string()));
        }
        if threshold_percent.is_nan() || threshold_percent < 0.0 {
            return Err(invalid(format!(
                "the threshold must be a share of a CPU of 0 % or more, not {threshold_percent}"
            )));
        }
        if sample_interval.is_zero() || remeasure_interval.is_zero() {
            return Err(invalid(
                "the sampling and re-measure intervals must be longer than zero".to_string(),
            ));
        }
        let politer = Priority::ALL
            .into_iter()
            .rev()
            .find(|mode| mode.threshold_percent().unwrap_or(f64::INFINITY) <= threshold_percent)
            .unwrap_or(Priority::Generous);
        Ok(CustomPriority {
            name,
            threshold_percent,
            sample_interval,
            remeasure_interval,
            rules: BuiltIn::of(politer),
        })
    }

    /// The same mode with the rules its tables do not set taken from
    /// `mode` (a custom mode's own rules, for a custom one).
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::{CustomPriority, Priority};
    /// let custom = CustomPriority::new("patient", 40.0, Duration::from_millis(500), Duration::from_secs(5))?
    ///     .with_rules_of(Priority::Generous);
    /// assert!(!Priority::Custom(custom).forces_one()); // waits, as Generous
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn with_rules_of(mut self, mode: Priority) -> CustomPriority {
        self.rules = BuiltIn::of(mode);
        self
    }

    /// The built-in mode the rules beyond the threshold and the intervals
    /// come from.
    ///
    /// ```
    /// use std::time::Duration;
    /// use dummymp::{CustomPriority, Priority};
    /// let mode = CustomPriority::new("shy", 25.0, Duration::from_millis(400), Duration::from_secs(5))?;
    /// assert_eq!(mode.rules_of(), Priority::Generous); // 20 % <= 25 % < 30 %
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn rules_of(&self) -> Priority {
        self.rules.mode()
    }

    /// Its name.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mode = dummymp::CustomPriority::new("mine", 40.0, Duration::from_millis(300), Duration::from_secs(9))?;
    /// assert_eq!(mode.name(), "mine");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The share of one CPU above which a foreign process counts, in
    /// percent (infinite: none counts).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mode = dummymp::CustomPriority::new("mine", 40.0, Duration::from_millis(300), Duration::from_secs(9))?;
    /// assert_eq!(mode.threshold_percent(), 40.0);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn threshold_percent(&self) -> f64 {
        self.threshold_percent
    }

    /// How long a measurement samples CPU times.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mode = dummymp::CustomPriority::new("mine", 40.0, Duration::from_millis(300), Duration::from_secs(9))?;
    /// assert_eq!(mode.sample_interval(), Duration::from_millis(300));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn sample_interval(&self) -> Duration {
        self.sample_interval
    }

    /// How often the measurement is taken again.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mode = dummymp::CustomPriority::new("mine", 40.0, Duration::from_millis(300), Duration::from_secs(9))?;
    /// assert_eq!(mode.remeasure_interval(), Duration::from_secs(9));
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn remeasure_interval(&self) -> Duration {
        self.remeasure_interval
    }

    /// What tells two modes apart, with the threshold as its bits (it is
    /// never NaN).
    fn key(&self) -> (&'static str, u64, Duration, Duration, BuiltIn) {
        (
            self.name,
            self.threshold_percent.to_bits(),
            self.sample_interval,
            self.remeasure_interval,
            self.rules,
        )
    }
}

impl PartialEq for CustomPriority {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for CustomPriority {}

impl std::hash::Hash for CustomPriority {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
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

    fn custom(threshold: f64) -> CustomPriority {
        CustomPriority::new(
            "custom",
            threshold,
            Duration::from_millis(300),
            Duration::from_secs(12),
        )
        .unwrap()
    }

    #[test]
    fn a_custom_modes_other_rules_come_from_the_nearest_politer_built_in() {
        let rules = |threshold| custom(threshold).rules_of();
        assert_eq!(rules(0.0), Priority::Generous, "politer than them all");
        assert_eq!(rules(20.0), Priority::Generous);
        assert_eq!(rules(29.9), Priority::Generous);
        assert_eq!(rules(30.0), Priority::Normal);
        assert_eq!(rules(75.0), Priority::Aggressive);
        assert_eq!(rules(80.0), Priority::Extreme);
        assert_eq!(rules(1000.0), Priority::Extreme);
        assert_eq!(rules(f64::INFINITY), Priority::Nuclear, "counts nobody");
        let mode = Priority::Custom(custom(75.0));
        assert_eq!(mode.forces_one(), Priority::Aggressive.forces_one());
        assert_eq!(mode.memory_reserve_percent(), 5.0);
        assert!(!mode.renices_running_tasks() && !mode.pauses_running_tasks());
        let patient = Priority::Custom(custom(75.0).with_rules_of(Priority::Generous));
        assert!(!patient.forces_one() && patient.pauses_running_tasks());
        assert_eq!(patient.memory_reserve_percent(), 20.0);
        let inherited = custom(10.0).with_rules_of(Priority::Custom(custom(80.0)));
        assert_eq!(
            inherited.rules_of(),
            Priority::Extreme,
            "a custom mode's own rules"
        );
    }

    #[test]
    fn a_custom_mode_measures_with_its_own_threshold_and_intervals() {
        let mode = Priority::Custom(custom(75.0));
        assert_eq!(mode.name(), "custom");
        assert_eq!(mode.to_string(), "custom");
        assert_eq!(mode.threshold_percent(), Some(75.0));
        assert_eq!(mode.sample_interval(), Some(Duration::from_millis(300)));
        assert_eq!(mode.remeasure_interval(), Some(Duration::from_secs(12)));
        assert!(mode.measures_load());
        let blind = Priority::Custom(custom(f64::INFINITY));
        assert!(!blind.measures_load());
        assert_eq!(
            (
                blind.threshold_percent(),
                blind.sample_interval(),
                blind.remeasure_interval()
            ),
            (None, None, None)
        );
        assert_eq!(mode, Priority::Custom(custom(75.0)));
        assert_ne!(mode, Priority::Custom(custom(76.0)));
        assert_ne!(mode, Priority::Aggressive);
    }

    #[test]
    fn a_custom_mode_that_cannot_work_is_refused() {
        let second = Duration::from_secs(1);
        for (name, threshold, sample, remeasure) in [
            ("", 50.0, second, second),
            ("nan", f64::NAN, second, second),
            ("negative", -1.0, second, second),
            ("no sampling", 50.0, Duration::ZERO, second),
            ("no refresh", 50.0, second, Duration::ZERO),
        ] {
            let error = CustomPriority::new(name, threshold, sample, remeasure).unwrap_err();
            assert!(
                matches!(
                    error,
                    crate::Error::InvalidSetting {
                        setting: "custom priority mode",
                        ..
                    }
                ),
                "{name}: {error}"
            );
        }
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
