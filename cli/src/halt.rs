//! `--halt`: when to stop early, and how.

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
}

/// How many jobs of that outcome trigger the halt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HaltThreshold {
    /// This many jobs.
    Count(u64),
    /// This share of the finished jobs, in percent, once at least
    /// [`MIN_JOBS_FOR_PERCENT`] jobs have finished.
    Percent(f64),
}

/// A percentage threshold is evaluated only after this many jobs finished.
pub const MIN_JOBS_FOR_PERCENT: u64 = 3;

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

/// Why a `--halt` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected never, or now|soon followed by ,fail=N ,fail=N% ,success=N or ,success=N% \
     (for example now,fail=1 or soon,fail=10%)"
)]
pub struct HaltPolicyError;

/// The value of `--halt`: `never` is `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaltOption(pub Option<HaltPolicy>);

impl FromStr for HaltOption {
    type Err = HaltPolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("never") {
            return Ok(HaltOption(None));
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
    /// Whether the condition is met after `succeeded` and `failed` jobs
    /// finished.
    pub fn is_met(&self, succeeded: u64, failed: u64) -> bool {
        let counted = match self.outcome {
            HaltOutcome::Fail => failed,
            HaltOutcome::Success => succeeded,
        };
        match self.threshold {
            HaltThreshold::Count(n) => counted >= n,
            HaltThreshold::Percent(p) => {
                let finished = succeeded + failed;
                finished >= MIN_JOBS_FOR_PERCENT && counted as f64 * 100.0 >= p * finished as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert_eq!(parse(bad), Err(HaltPolicyError), "{bad:?}");
        }
    }

    #[test]
    fn counts_and_percentages() {
        let one_failure = parse("now,fail=1").unwrap().unwrap();
        assert!(!one_failure.is_met(10, 0));
        assert!(one_failure.is_met(0, 1));
        let third = parse("soon,fail=30%").unwrap().unwrap();
        assert!(!third.is_met(0, 2), "fewer than three jobs finished");
        assert!(third.is_met(2, 1));
        assert!(!third.is_met(3, 1));
        let success = parse("now,success=2").unwrap().unwrap();
        assert!(!success.is_met(1, 5));
        assert!(success.is_met(2, 0));
    }
}
