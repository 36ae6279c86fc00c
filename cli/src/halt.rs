//! `--halt`: when to stop early, how, and the exit status it gives, with
//! GNU parallel's rules:
//!
//! - `fail=N`, `success=N`, `done=N` count failed, succeeded or finished
//!   jobs; `N%` is that share of all jobs (those known so far when they
//!   come from standard input).
//! - The exit status is 0 when `success=...` was reached; the percentage of
//!   all jobs that failed (rounded up) with a `N%` threshold; the status of
//!   the job that stopped the run with `fail=1` or `done=1` (its exit code,
//!   128 + the signal that killed it, 255 when it timed out: see
//!   [`FinishedJob::halt_status`](crate::job::FinishedJob::halt_status));
//!   otherwise the number of failed jobs, as without `--halt`.

use std::str::FromStr;

/// How to stop once the halt condition is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltMode {
    /// Start no more jobs; let the running ones finish.
    Soon,
    /// Start no more jobs and end the running ones (TERM, grace, KILL).
    Now,
}

/// Which outcome is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltOutcome {
    /// Jobs that failed (after their last retry).
    Fail,
    /// Jobs that succeeded.
    Success,
    /// Jobs that finished, failed or not.
    Done,
}

/// How many jobs of that outcome trigger the halt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HaltThreshold {
    /// This many jobs.
    Count(u64),
    /// This share of all jobs, in percent.
    Percent(f64),
}

/// How many jobs ended which way, when `--halt` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HaltCounts {
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed (after their last retry).
    pub failed: u64,
    /// All jobs: the total when it is known, else those known so far.
    pub total: u64,
}

/// A parsed `--halt` value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaltPolicy {
    /// How to stop.
    pub mode: HaltMode,
    /// What is counted.
    pub outcome: HaltOutcome,
    /// How much of it triggers the halt.
    pub threshold: HaltThreshold,
}

impl std::fmt::Display for HaltPolicy {
    /// The policy as `--halt` takes it: `now,fail=1`, `soon,success=10%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            HaltMode::Soon => "soon",
            HaltMode::Now => "now",
        };
        let outcome = match self.outcome {
            HaltOutcome::Fail => "fail",
            HaltOutcome::Success => "success",
            HaltOutcome::Done => "done",
        };
        match self.threshold {
            HaltThreshold::Count(n) => write!(f, "{mode},{outcome}={n}"),
            HaltThreshold::Percent(p) => write!(f, "{mode},{outcome}={p}%"),
        }
    }
}

/// Why a `--halt` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected never, or now|soon followed by ,fail= ,success= or ,done= and N or N% \
     (for example now,fail=1 or soon,fail=10%), or GNU parallel's 0, 1, 2 or -1"
)]
pub struct HaltPolicyError;

/// The value of `--halt`: `never` is `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaltOption(pub Option<HaltPolicy>);

impl FromStr for HaltOption {
    type Err = HaltPolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let short = |mode, outcome| {
            Ok(HaltOption(Some(HaltPolicy {
                mode,
                outcome,
                threshold: HaltThreshold::Count(1),
            })))
        };
        match s {
            "0" => return Ok(HaltOption(None)),
            "1" => return short(HaltMode::Soon, HaltOutcome::Fail),
            "2" => return short(HaltMode::Now, HaltOutcome::Fail),
            "-1" => return short(HaltMode::Soon, HaltOutcome::Success),
            _ if s.eq_ignore_ascii_case("never") => return Ok(HaltOption(None)),
            _ => {}
        }
        let (mode, condition) = s.split_once(',').ok_or(HaltPolicyError)?;
        let mode = match mode.trim().to_ascii_lowercase().as_str() {
            "now" => HaltMode::Now,
            "soon" => HaltMode::Soon,
            _ => return Err(HaltPolicyError),
        };
        let (outcome, amount) = condition.split_once('=').ok_or(HaltPolicyError)?;
        let outcome = match outcome.trim().to_ascii_lowercase().as_str() {
            "fail" => HaltOutcome::Fail,
            "success" => HaltOutcome::Success,
            "done" => HaltOutcome::Done,
            _ => return Err(HaltPolicyError),
        };
        let amount = amount.trim();
        let threshold = match amount.strip_suffix('%') {
            Some(percent) => match percent.parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 100.0 => HaltThreshold::Percent(p),
                _ => return Err(HaltPolicyError),
            },
            None => match amount.parse::<u64>() {
                Ok(n) if n > 0 => HaltThreshold::Count(n),
                _ => return Err(HaltPolicyError),
            },
        };
        Ok(HaltOption(Some(HaltPolicy {
            mode,
            outcome,
            threshold,
        })))
    }
}

impl HaltPolicy {
    /// Whether the condition is met.
    pub(crate) fn is_met(&self, counts: &HaltCounts) -> bool {
        let counted = match self.outcome {
            HaltOutcome::Fail => counts.failed,
            HaltOutcome::Success => counts.succeeded,
            HaltOutcome::Done => counts.failed + counts.succeeded,
        };
        match self.threshold {
            HaltThreshold::Count(n) => counted >= n,
            HaltThreshold::Percent(p) => {
                counted > 0 && counted as f64 * 100.0 >= p * counts.total as f64
            }
        }
    }
}

/// The exit status of a run with `--halt` `policy` (none: `--halt never`),
/// given how many jobs ended which way; `trigger` is the status of the job
/// that met the condition, when one did (see the module's rules).
pub(crate) fn exit_status(
    policy: Option<HaltPolicy>,
    counts: &HaltCounts,
    trigger: Option<u8>,
) -> u8 {
    let failures = crate::exit_status::for_failures(counts.failed);
    let Some(policy) = policy else {
        return failures;
    };
    if policy.outcome == HaltOutcome::Success && trigger.is_some() {
        return 0;
    }
    match (policy.threshold, trigger) {
        (HaltThreshold::Percent(_), _) => failed_percentage(counts),
        (HaltThreshold::Count(1), Some(status)) if policy.outcome != HaltOutcome::Success => status,
        _ => failures,
    }
}

/// The percentage of all jobs that failed, rounded up.
fn failed_percentage(counts: &HaltCounts) -> u8 {
    if counts.total == 0 {
        return 0;
    }
    let percent = (counts.failed * 100).div_ceil(counts.total);
    u8::try_from(percent.min(100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_shows_as_it_is_written() {
        for text in ["now,fail=1", "soon,success=10%", "now,done=3"] {
            let HaltOption(Some(policy)) = text.parse().unwrap() else {
                panic!("{text}");
            };
            assert_eq!(policy.to_string(), text);
        }
    }

    fn parse(s: &str) -> Result<Option<HaltPolicy>, HaltPolicyError> {
        s.parse::<HaltOption>().map(|h| h.0)
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("never"), Ok(None));
        assert_eq!(
            parse("now,fail=1"),
            Ok(Some(HaltPolicy {
                mode: HaltMode::Now,
                outcome: HaltOutcome::Fail,
                threshold: HaltThreshold::Count(1)
            }))
        );
        assert_eq!(
            parse("soon,fail=25%"),
            Ok(Some(HaltPolicy {
                mode: HaltMode::Soon,
                outcome: HaltOutcome::Fail,
                threshold: HaltThreshold::Percent(25.0)
            }))
        );
        assert_eq!(
            parse("now,success=1").unwrap().unwrap().outcome,
            HaltOutcome::Success
        );
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "now",
            "later,fail=1",
            "now,fail",
            "now,fail=0",
            "now,fail=x",
            "now,oops=1",
            "now,fail=0%",
            "now,fail=101%",
            "soon,fail=-1",
            "3",
            "-2",
        ] {
            assert_eq!(parse(bad), Err(HaltPolicyError), "{bad:?}");
        }
    }

    #[test]
    fn gnu_parallels_short_forms() {
        assert_eq!(parse("0"), Ok(None));
        let two = parse("2").unwrap().unwrap();
        assert_eq!((two.mode, two.outcome), (HaltMode::Now, HaltOutcome::Fail));
        let one = parse("1").unwrap().unwrap();
        assert_eq!(
            (one.mode, one.threshold),
            (HaltMode::Soon, HaltThreshold::Count(1))
        );
        assert_eq!(parse("-1").unwrap().unwrap().outcome, HaltOutcome::Success);
        assert_eq!(
            parse("now,done=3").unwrap().unwrap().outcome,
            HaltOutcome::Done
        );
    }

    fn counts(succeeded: u64, failed: u64, total: u64) -> HaltCounts {
        HaltCounts {
            succeeded,
            failed,
            total,
        }
    }

    #[test]
    fn counts_and_percentages_of_all_jobs() {
        let one_failure = parse("now,fail=1").unwrap().unwrap();
        assert!(!one_failure.is_met(&counts(10, 0, 10)));
        assert!(one_failure.is_met(&counts(0, 1, 10)));
        // GNU parallel: soon,fail=20% of 10 jobs halts at the second
        // failure; 30% of 3 jobs at the first.
        let fifth = parse("soon,fail=20%").unwrap().unwrap();
        assert!(!fifth.is_met(&counts(1, 1, 10)));
        assert!(fifth.is_met(&counts(1, 2, 10)));
        assert!(
            parse("now,fail=30%")
                .unwrap()
                .unwrap()
                .is_met(&counts(0, 1, 3))
        );
        let success = parse("now,success=2").unwrap().unwrap();
        assert!(!success.is_met(&counts(1, 5, 9)));
        assert!(success.is_met(&counts(2, 0, 9)));
        let done = parse("soon,done=2").unwrap().unwrap();
        assert!(done.is_met(&counts(1, 1, 9)));
    }

    /// Pins GNU parallel 20221122's exit statuses (`parallel -j1 --halt H
    /// 'exit {}' ::: ...`): now,fail=1 on `0 7 0` exits 7; soon,fail=2 on
    /// `0 7 3 0 0` exits 2; soon,fail=20% on ten jobs with two failures
    /// exits 20; now,fail=30% on `1 2 3` exits 34; now,done=1 on `5 7`
    /// exits 5; now,done=2 on `0 7 0` exits 1; now,success=1 exits 0;
    /// soon,success=1 never reached on `3 4` exits 2; soon,success=90% not
    /// reached on `0 1 1` exits 67; a job killed by SIGKILL with fail=1
    /// gives 137; a timeout with fail=1 gives 255.
    #[test]
    fn exit_statuses_follow_gnu_parallel() {
        let status = |halt: &str, counts: HaltCounts, trigger| {
            exit_status(parse(halt).unwrap(), &counts, trigger)
        };
        assert_eq!(status("now,fail=1", counts(1, 1, 3), Some(7)), 7);
        assert_eq!(status("2", counts(1, 1, 3), Some(9)), 9);
        assert_eq!(status("soon,fail=2", counts(1, 2, 5), Some(3)), 2);
        assert_eq!(status("soon,fail=20%", counts(1, 2, 10), Some(3)), 20);
        assert_eq!(status("now,fail=30%", counts(0, 1, 3), Some(1)), 34);
        assert_eq!(status("soon,fail=50%", counts(9, 1, 10), None), 10);
        assert_eq!(status("now,done=1", counts(0, 1, 2), Some(5)), 5);
        assert_eq!(status("now,done=1", counts(1, 0, 2), Some(0)), 0);
        assert_eq!(status("now,done=2", counts(1, 1, 3), Some(0)), 1);
        assert_eq!(status("now,done=30%", counts(1, 1, 6), Some(7)), 17);
        assert_eq!(status("now,success=1", counts(1, 1, 3), Some(0)), 0);
        assert_eq!(status("soon,success=1", counts(0, 2, 2), None), 2);
        assert_eq!(status("soon,success=90%", counts(1, 2, 3), None), 67);
        assert_eq!(status("now,fail=1", counts(0, 1, 2), Some(137)), 137);
        assert_eq!(status("now,fail=1", counts(0, 1, 2), Some(255)), 255);
        assert_eq!(status("never", counts(1, 3, 4), None), 3);
    }
}
