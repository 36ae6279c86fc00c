//! The crate's error type, [`Error`], and [`TaskFailure`], one failed task
//! of a [`map`](crate::DummyMp::map).

use std::fmt;
use std::io;

use crate::task::Outcome;
use crate::task::TaskId;

/// What can go wrong when calling into dummymp.
///
/// Problems of a single task (a panic, a crash, a worker that could not be
/// started) are not errors of the caller: they end that task with an
/// [`Outcome`](crate::Outcome) and everything else goes on. Only
/// [`map`](crate::DummyMp::map), which promises every value, turns them
/// into an error ([`Error::TasksFailed`]).
///
/// ```
/// # dummymp::init();
/// fn double(x: u32) -> u32 { 2 * x }
/// let mut mp = dummymp::DummyMp::new();
/// mp.run(double, 21)?;
/// mp.process_until_done()?;
/// match mp.returns::<u64>() {
///     Err(dummymp::Error::ReturnType { asked, stored }) => {
///         assert_eq!((asked, stored), ("u64", vec!["u32"]));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments of a call could not be serialised; nothing was queued.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::os::unix::ffi::OsStringExt;
    /// use std::path::PathBuf;
    /// fn exists(path: PathBuf) -> bool { path.exists() }
    /// let mut mp = dummymp::DummyMp::new();
    /// // serde refuses paths that are not UTF-8.
    /// let not_utf8 = PathBuf::from(std::ffi::OsString::from_vec(vec![0xff]));
    /// let error = mp.run(exists, not_utf8).unwrap_err();
    /// assert!(matches!(error, dummymp::Error::EncodeArguments { .. }));
    /// assert_eq!(mp.progress().total, 0); // nothing was queued
    /// ```
    #[error("cannot serialise the arguments of a call to `{function}`: {source}")]
    EncodeArguments {
        /// The function that was to be called.
        function: &'static str,
        /// What serde reported.
        #[source]
        source: postcard::Error,
    },

    /// The arguments of a call take more than
    /// [`MESSAGE_LIMIT`](crate::MESSAGE_LIMIT) bytes encoded, more than one
    /// message to a worker may carry; nothing was queued. (Encoding stopped
    /// at the limit.)
    ///
    /// ```no_run
    /// # dummymp::init();
    /// fn total(bytes: Vec<u8>) -> usize { bytes.len() }
    /// let mut mp = dummymp::DummyMp::new();
    /// let error = mp.run(total, vec![0u8; dummymp::MESSAGE_LIMIT + 1]).unwrap_err();
    /// assert!(matches!(error, dummymp::Error::ArgumentsTooLarge { .. }));
    /// assert!(error.to_string().contains("more than 1 GiB"));
    /// ```
    #[error(
        "cannot queue a call to `{function}`: {}",
        crate::encoded::too_large("its arguments")
    )]
    ArgumentsTooLarge {
        /// The function that was to be called.
        function: &'static str,
        /// The limit, [`MESSAGE_LIMIT`](crate::MESSAGE_LIMIT), in bytes.
        limit: usize,
    },

    /// A priority mode name that does not exist.
    ///
    /// ```
    /// let error = "lazy".parse::<dummymp::Priority>().unwrap_err();
    /// assert!(matches!(error, dummymp::Error::UnknownPriority(ref name) if name == "lazy"));
    /// ```
    #[error(
        "unknown priority mode {0:?}: expected generous, normal, aggressive, extreme or nuclear"
    )]
    UnknownPriority(String),

    /// A setting that cannot work; the previous value is kept.
    ///
    /// ```
    /// let mut mp = dummymp::DummyMp::new();
    /// let error = mp.set_worker_program(Some("/nonexistent".into())).unwrap_err();
    /// assert!(matches!(error, dummymp::Error::InvalidSetting { setting: "worker program", .. }));
    /// ```
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// Why it cannot work.
        reason: String,
    },

    /// Return values were asked for as a type that no function task of
    /// the queue returns ([`returns`](crate::DummyMp::returns),
    /// [`take_returns`](crate::DummyMp::take_returns),
    /// [`get_returns`](crate::get_returns)): nothing was read.
    ///
    /// ```
    /// # dummymp::init();
    /// fn name(id: u8) -> String { format!("#{id}") }
    /// let mut mp = dummymp::DummyMp::new();
    /// mp.run(name, 1)?;
    /// mp.process_until_done()?;
    /// let error = mp.returns::<&'static str>().unwrap_err();
    /// assert_eq!(error.to_string(), "return values asked for as `&str`, but the tasks return `String`");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    #[error(
        "return values asked for as `{asked}`, but the tasks return {}",
        TypeList(stored)
    )]
    ReturnType {
        /// The type asked for.
        asked: &'static str,
        /// The types the queue's function tasks return.
        stored: Vec<&'static str>,
    },

    /// Some tasks of a [`map`](crate::DummyMp::map) did not return a
    /// value; the values of the others stay in the queue.
    ///
    /// ```
    /// # dummymp::init();
    /// fn check(x: u32) -> u32 {
    ///     assert!(x != 2, "two is not allowed");
    ///     x
    /// }
    /// let mut mp = dummymp::DummyMp::new();
    /// let Err(dummymp::Error::TasksFailed { failed, of }) = mp.map(check, [1, 2, 3]) else {
    ///     panic!("task 1 panics");
    /// };
    /// assert_eq!(of, 3);
    /// assert_eq!((failed[0].item, failed[0].task.index()), (1, 1));
    /// assert!(matches!(failed[0].outcome, dummymp::Outcome::Panicked { .. }));
    /// // The values of the others are still there.
    /// assert_eq!(mp.take_returns::<u32>()?.into_values().collect::<Vec<_>>(), [1, 3]);
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    #[error("{} of {of} tasks failed: {}", failed.len(), Failures(failed))]
    TasksFailed {
        /// The tasks that did not return, in item order.
        failed: Vec<TaskFailure>,
        /// How many tasks the map ran.
        of: usize,
    },

    /// The operating system refused something the scheduler itself needs
    /// (waiting for events, reading a worker's messages).
    ///
    /// ```
    /// let error = dummymp::Error::Os {
    ///     context: "cannot wait for events",
    ///     source: std::io::Error::from_raw_os_error(4),
    /// };
    /// assert!(error.to_string().starts_with("cannot wait for events: "));
    /// ```
    #[error("{context}: {source}")]
    Os {
        /// What dummymp was doing.
        context: &'static str,
        /// The error the system reported.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn os(context: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Os { context, source }
    }
}

/// One task of a [`map`](crate::DummyMp::map) that did not return a value.
///
/// ```
/// let failure = dummymp::TaskFailure {
///     item: 4,
///     task: 9.into(),
///     outcome: dummymp::Outcome::Signaled { signal: 9 },
/// };
/// assert_eq!(failure.to_string(), "item 4 (task 9) was killed by signal 9 (SIGKILL)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// Its position in the items given to `map`, from 0.
    pub item: usize,
    /// Its task id in the queue.
    pub task: TaskId,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item {} ({}) {}", self.item, self.task, self.outcome)
    }
}

/// `` `u32` ``, `` `u32` or `String` ``.
struct TypeList<'a>(&'a [&'static str]);

impl fmt::Display for TypeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            match i {
                0 => {}
                _ if i + 1 == self.0.len() => f.write_str(" or ")?,
                _ => f.write_str(", ")?,
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

/// The first few failures, then how many more.
struct Failures<'a>(&'a [TaskFailure]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 3;
        for (i, failure) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "; and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_lists_read_as_prose() {
        assert_eq!(TypeList(&["u32"]).to_string(), "`u32`");
        assert_eq!(
            TypeList(&["u32", "String"]).to_string(),
            "`u32` or `String`"
        );
        assert_eq!(
            TypeList(&["u8", "u16", "u32"]).to_string(),
            "`u8`, `u16` or `u32`"
        );
    }

    #[test]
    fn many_failures_are_summed_up() {
        let failed: Vec<_> = (0..5)
            .map(|i| TaskFailure {
                item: i,
                task: TaskId(i),
                outcome: Outcome::Killed,
            })
            .collect();
        let error = Error::TasksFailed { failed, of: 10 };
        assert_eq!(
            error.to_string(),
            "5 of 10 tasks failed: item 0 (task 0) was killed on request; \
             item 1 (task 1) was killed on request; item 2 (task 2) was killed on request; \
             and 2 more"
        );
    }
}
