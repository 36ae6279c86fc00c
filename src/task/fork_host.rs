//! [`ForkHost`]: how a front end's process is copied to start a task,
//! for a [`ForeignWorker::forked`](crate::engine::ForeignWorker::forked)
//! worker (the launcher's side is `launch/forked.rs`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// A front end that starts tasks as copies of its own process (see
/// [`ForeignWorker::forked`](crate::engine::ForeignWorker::forked)): what
/// must happen around the `fork`, and what the copy runs.
///
/// The engine calls [`prepare`](ForkHost::prepare), forks, then
/// [`resume`](ForkHost::resume) in the parent or
/// [`serve`](ForkHost::serve) in the copy, all in the thread that drives
/// the engine, one start at a time.
///
/// ```
/// use dummymp::engine::{ForeignWorker, TaskSpec};
/// use dummymp::foreign::{self, ForeignResult, ForkHost, ForkedLink};
/// use std::sync::Arc;
///
/// struct Doubler;
///
/// impl ForkHost for Doubler {
///     fn prepare(&self) {}
///     fn resume(&self) {}
///     fn serve(&self, link: ForkedLink) -> i32 {
///         foreign::serve_forked(link, |call| {
///             ForeignResult::Returned(call.payload.iter().map(|b| b * 2).collect())
///         })
///     }
/// }
///
/// let mut mp = dummymp::DummyMp::new();
/// mp.set_priority_mode(dummymp::Priority::Nuclear);
/// let worker = ForeignWorker::forked(Arc::new(Doubler));
/// let task = mp.run_spec(TaskSpec::foreign(worker, vec![1, 2, 3], "double"));
/// mp.process_until_done()?;
/// assert_eq!(mp.report(task).unwrap().returned_bytes(), Some(&[2u8, 4, 6][..]));
/// # Ok::<(), dummymp::Error>(())
/// ```
pub trait ForkHost: Send + Sync {
    /// In the parent, just before the `fork`: makes the process ready to be
    /// copied (takes the locks a copy needs free, flushes buffered output
    /// so that it is not written twice). What it leaves held is held in the
    /// copy too, until [`serve`](ForkHost::serve) sets it right there.
    fn prepare(&self);

    /// In the parent, just after the `fork` (whether it worked or not):
    /// undoes [`prepare`](ForkHost::prepare).
    fn resume(&self);

    /// In the copy, never in the parent: sets the copy right (what
    /// [`prepare`](ForkHost::prepare) held, what the front end must forget
    /// of the parent) and serves its task over `link` with
    /// [`foreign::serve_forked`](crate::foreign::serve_forked), whose exit
    /// code it returns. The copy then ends with that code.
    fn serve(&self, link: ForkedLink) -> i32;
}

/// A forked task's two descriptors to the engine, handed to
/// [`ForkHost::serve`] in the copy, for
/// [`foreign::serve_forked`](crate::foreign::serve_forked).
#[derive(Debug)]
pub struct ForkedLink {
    /// Requests from the engine.
    pub(crate) input: OwnedFd,
    /// Messages to the engine.
    pub(crate) output: OwnedFd,
}

/// A [`ForkHost`], compared by identity.
#[derive(Clone)]
pub(crate) struct ForkHostRef(pub(crate) Arc<dyn ForkHost>);

impl PartialEq for ForkHostRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ForkHostRef {}

impl Hash for ForkHostRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).cast::<()>().hash(state);
    }
}

impl fmt::Debug for ForkHostRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForkHost@{:p}", Arc::as_ptr(&self.0).cast::<()>())
    }
}
