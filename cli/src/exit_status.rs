//! The exit statuses of `dummymp`, in one place (they are documented in
//! `--help`).

/// Exit status for a usage or input error (and for an error that stopped
/// the run).
pub const USAGE_ERROR: u8 = 255;

/// The largest number of failed jobs that is reported as itself; more
/// failures give [`MANY_FAILED`].
pub const MAX_COUNTED_FAILURES: u64 = 100;

/// Exit status when more than [`MAX_COUNTED_FAILURES`] jobs failed.
pub const MANY_FAILED: u8 = 101;

/// Exit status when our standard output was closed (128 + SIGPIPE, as if
/// the signal had ended us).
pub const OUTPUT_CLOSED: u8 = 141;

/// The exit status for `failed` failed jobs: 0, the count itself up to 100,
/// else 101.
pub(crate) fn for_failures(failed: u64) -> u8 {
    match u8::try_from(failed) {
        Ok(n) if failed <= MAX_COUNTED_FAILURES => n,
        _ => MANY_FAILED,
    }
}

/// The exit status after being stopped by signal `signal` (the shell's
/// convention: 128 + the signal number).
pub(crate) fn for_signal(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(USAGE_ERROR - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_up_to_a_hundred() {
        assert_eq!(for_failures(0), 0);
        assert_eq!(for_failures(1), 1);
        assert_eq!(for_failures(100), 100);
        assert_eq!(for_failures(101), 101);
        assert_eq!(for_failures(1_000_000), 101);
    }

    #[test]
    fn signals_follow_the_shell_convention() {
        assert_eq!(for_signal(2), 130);
        assert_eq!(for_signal(15), 143);
    }
}
