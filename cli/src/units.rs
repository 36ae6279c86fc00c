//! Durations and sizes as GNU parallel's options take them: `1.5`, `30s`,
//! `2m`, `1h30m`, `1d` for durations; `512`, `4k`, `1G` for sizes.

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a duration: seconds (30, 0.5) or numbers with s, m, h or d after them \
     (30s, 2m, 1h30m, 1.5d)"
)]
pub struct DurationError;

/// Parses a non-negative duration: a number of seconds, or numbers each
/// followed by `s`, `m`, `h` or `d` (seconds, minutes, hours, days), added
/// up: `1h30m` is 5400 seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError);
    }
    let mut seconds = 0.0;
    let mut parts = 0;
    let mut rest = text;
    while !rest.is_empty() {
        parts += 1;
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(DurationError);
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| DurationError)?;
        rest = &rest[number_len..];
        let unit = match rest.chars().next() {
            None => 1.0,
            Some('s') => 1.0,
            Some('m') => 60.0,
            Some('h') => 3600.0,
            Some('d') => 86400.0,
            Some(_) => return Err(DurationError),
        };
        if let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
        } else if parts > 1 {
            // A bare number may only stand alone: `1h30` is ambiguous.
            return Err(DurationError);
        }
        seconds += number * unit;
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError)
}

/// Why a size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a size: a number, optionally followed by K, M, G, T or P (powers of 1024) \
     or k, m, g, t or p (powers of 1000), such as 512M or 2G"
)]
pub struct SizeError;

/// Parses a size with GNU parallel's unit letters: `K M G T P` multiply by
/// powers of 1024, `k m g t p` by powers of 1000; fractions are allowed
/// (`1.5G`).
pub(crate) fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let (number, multiplier) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let power = match c.to_ascii_lowercase() {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                'p' => 5,
                _ => return Err(SizeError),
            };
            let base: f64 = if c.is_ascii_uppercase() {
                1024.0
            } else {
                1000.0
            };
            (&text[..text.len() - 1], base.powi(power))
        }
        _ => (text, 1.0),
    };
    let number: f64 = number.parse().map_err(|_| SizeError)?;
    let bytes = number * multiplier;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(SizeError);
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> f64 {
        parse_duration(text).unwrap().as_secs_f64()
    }

    /// Pins the durations GNU parallel accepts for --timeout and --delay
    /// (`1s`, `1m`, `1h30m`, `1.5m` all accepted by GNU parallel 20221122;
    /// its manual's example `1d3.5h16.6m4s` is 100000 seconds).
    #[test]
    fn durations_take_gnu_parallels_suffixes() {
        assert_eq!(secs("30"), 30.0);
        assert_eq!(secs("0.5"), 0.5);
        assert_eq!(secs("1s"), 1.0);
        assert_eq!(secs("2m"), 120.0);
        assert_eq!(secs("1h30m"), 5400.0);
        assert_eq!(secs("1.5m"), 90.0);
        assert_eq!(secs("1d"), 86400.0);
        assert!((secs("1d3.5h16.6m4s") - 100_000.0).abs() < 1e-6);
        for bad in ["", "-1", "s", "1x", "1h30", "1..5", "abc", "1 m"] {
            assert_eq!(parse_duration(bad), Err(DurationError), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("1k"), Ok(1000));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1.5M"), Ok(1_572_864));
        assert_eq!(parse_size("2g"), Ok(2_000_000_000));
        for bad in ["", "x", "1Q", "-1G", "G"] {
            assert_eq!(parse_size(bad), Err(SizeError), "{bad:?}");
        }
    }
}
