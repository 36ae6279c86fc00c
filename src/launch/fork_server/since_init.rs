//! What changed in the program since `init` forked the server, and must
//! reach a forked worker as it would reach an executed one: environment
//! variables and resource limits (the working directory travels as is).

use std::ffi::OsString;

use rustix::process::{Resource, Rlimit};

/// The resource limits a process has, in the order of [`RESOURCES`].
pub(super) type Limits = [Rlimit; RESOURCES.len()];

/// Every resource limit a worker inherits.
pub(super) const RESOURCES: [Resource; 16] = [
    Resource::Cpu,
    Resource::Fsize,
    Resource::Data,
    Resource::Stack,
    Resource::Core,
    Resource::Rss,
    Resource::Nproc,
    Resource::Nofile,
    Resource::Memlock,
    Resource::As,
    Resource::Locks,
    Resource::Sigpending,
    Resource::Msgqueue,
    Resource::Nice,
    Resource::Rtprio,
    Resource::Rttime,
];

/// One resource limit that differs from what it was at `init`: its index
/// in [`RESOURCES`], then its soft and hard values (`None`: unlimited).
pub(super) type LimitChange = (u8, Option<u64>, Option<u64>);

/// This process's resource limits.
pub(super) fn current_limits() -> Limits {
    RESOURCES.map(rustix::process::getrlimit)
}

/// The limits of `now` that differ from `at_init`.
pub(super) fn limit_changes(at_init: &Limits, now: &Limits) -> Vec<LimitChange> {
    (0u8..)
        .zip(at_init.iter().zip(now))
        .filter(|(_, (then, now))| then != now)
        .map(|(index, (_, now))| (index, now.current, now.maximum))
        .collect()
}

/// Gives the server the program's resource limits now (those at `init`
/// with `changes`), setting only those that differ from `applied`, what
/// it set last. A limit it may not take on (a hard limit the program
/// raised, which needs a privilege) stays as it was.
pub(super) fn take_on_limits(applied: &mut Limits, at_init: &Limits, changes: &[LimitChange]) {
    let mut wanted = *at_init;
    for &(index, current, maximum) in changes {
        if let Some(limit) = wanted.get_mut(usize::from(index)) {
            *limit = Rlimit { current, maximum };
        }
    }
    for ((resource, wanted), applied) in RESOURCES.iter().zip(&wanted).zip(applied.iter_mut()) {
        if wanted != applied && rustix::process::setrlimit(*resource, *wanted).is_ok() {
            *applied = *wanted;
        }
    }
}

/// This process's environment, sorted by name.
pub(super) fn sorted_env() -> Vec<(OsString, OsString)> {
    let mut env: Vec<_> = std::env::vars_os().collect();
    env.sort();
    env
}

/// The changes that turn environment `from` into `to` (both sorted):
/// `(name, Some(value))` sets, `(name, None)` removes.
pub(super) fn env_changes(
    from: &[(OsString, OsString)],
    to: &[(OsString, OsString)],
) -> Vec<(OsString, Option<OsString>)> {
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < from.len() || j < to.len() {
        match (from.get(i), to.get(j)) {
            (Some((a, _)), Some((b, value))) if a > b => {
                changes.push((b.clone(), Some(value.clone())));
                j += 1;
            }
            (Some((a, old)), Some((b, new))) if a == b => {
                if old != new {
                    changes.push((b.clone(), Some(new.clone())));
                }
                i += 1;
                j += 1;
            }
            (Some((a, _)), _) => {
                changes.push((a.clone(), None));
                i += 1;
            }
            (None, Some((b, value))) => {
                changes.push((b.clone(), Some(value.clone())));
                j += 1;
            }
            (None, None) => break,
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn environment_changes_set_change_and_remove() {
        let from = env(&[("A", "1"), ("B", "2"), ("D", "4")]);
        let to = env(&[("B", "2"), ("C", "3"), ("D", "5")]);
        let changes = env_changes(&from, &to);
        assert_eq!(
            changes,
            vec![
                (OsString::from("A"), None),
                (OsString::from("C"), Some(OsString::from("3"))),
                (OsString::from("D"), Some(OsString::from("5"))),
            ]
        );
        assert!(env_changes(&to, &to).is_empty());
    }
}
