//! The crate's error type.

use std::io;

/// What can go wrong when calling into dummymp.
///
/// Problems of a single task (a panic, a crash, a worker that could not be
/// started) are not errors of the caller: they end that task with an
/// [`Outcome`](crate::Outcome) and everything else goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments of a call could not be serialised; nothing was queued.
    #[error("cannot serialise the arguments of a call to `{function}`: {source}")]
    EncodeArguments {
        /// The function that was to be called.
        function: &'static str,
        /// What serde reported.
        #[source]
        source: postcard::Error,
    },

    /// A priority mode name that does not exist.
    #[error(
        "unknown priority mode {0:?}: expected generous, normal, aggressive, extreme or nuclear"
    )]
    UnknownPriority(String),

    /// A setting that cannot work; the previous value is kept.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// Why it cannot work.
        reason: String,
    },

    /// The operating system refused something the scheduler itself needs
    /// (waiting for events, reading a worker's messages).
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
