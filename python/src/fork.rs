//! [`PythonForkHost`]: how the engine copies this Python process to start a
//! task (the default on Linux: a fresh `fork` per task, as the original
//! DummyMP's `multiprocessing.Process` did). The engine forks (the launch
//! seam's `forked` launcher); this says what Python needs around it, as
//! `os.fork()` does:
//!
//! - before: the interpreter's lock is taken by the thread that drives the
//!   engine (which had released it while waiting), `sys.stdout` and
//!   `sys.stderr` are flushed (or what they buffer would be written twice),
//!   and `PyOS_BeforeFork` runs the `os.register_at_fork(before=...)`
//!   hooks and takes the import lock;
//! - in the parent: `PyOS_AfterFork_Parent`, and the lock is given back;
//! - in the copy: `PyOS_AfterFork_Child` (the runtime's state for a process
//!   with this one thread, the `after_in_child` hooks: `threading`,
//!   `logging` and `random` set themselves right), then the Python side
//!   (`dummymp/_worker.py`) forgets the parent's queues and hands back the
//!   function that runs a call, and the copy serves its task with it.
//!
//! The engine's own threads (load measurement, Slurm's messages) are not
//! in the copy, which never uses their state. Unlike `os.fork()` on Python
//! 3.12 and later, nothing here warns about threads: the engine's are not
//! the user's concern. The Python side warns once when the program has
//! Python threads of its own (see `_worker.py`, `before_fork`).

use std::sync::{Mutex, PoisonError};

use dummymp::foreign::{ForeignCall, ForeignResult, ForkHost, ForkedLink};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::worker::read_answer;

/// What the engine calls around each `fork` of this process.
pub(crate) struct PythonForkHost {
    /// `before()`: flushes the standard streams (and warns about threads).
    before: Py<PyAny>,
    /// `child()`: sets the copy right on the Python side and returns
    /// `run(task, name, payload)`.
    child: Py<PyAny>,
    /// The interpreter's lock as `prepare` took it, for `resume`.
    gil: Mutex<Option<ffi::PyGILState_STATE>>,
}

impl PythonForkHost {
    pub(crate) fn new(before: Py<PyAny>, child: Py<PyAny>) -> PythonForkHost {
        PythonForkHost {
            before,
            child,
            gil: Mutex::new(None),
        }
    }
}

impl ForkHost for PythonForkHost {
    fn prepare(&self) {
        // SAFETY: takes the interpreter's lock for this thread (which has a
        // thread state: it released the lock to drive the engine); given
        // back in `resume`.
        let state = unsafe { ffi::PyGILState_Ensure() };
        Python::attach(|py| {
            if let Err(error) = self.before.call0(py) {
                error.write_unraisable(py, None);
            }
        });
        // SAFETY: called with the interpreter's lock held, just before
        // `fork`, as the C API asks.
        unsafe { ffi::PyOS_BeforeFork() };
        *self.gil.lock().unwrap_or_else(PoisonError::into_inner) = Some(state);
    }

    fn resume(&self) {
        // SAFETY: called in the parent just after `fork` (whether it worked
        // or not), with the lock `prepare` took.
        unsafe { ffi::PyOS_AfterFork_Parent() };
        let state = self
            .gil
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(state) = state {
            // SAFETY: gives back what `PyGILState_Ensure` took in `prepare`,
            // on the same thread.
            unsafe { ffi::PyGILState_Release(state) };
        }
    }

    fn serve(&self, link: ForkedLink) -> i32 {
        // SAFETY: called in the copy just after `fork`, by the thread that
        // forked, which holds the interpreter's lock (taken in `prepare`).
        unsafe { ffi::PyOS_AfterFork_Child() };
        Python::attach(|py| {
            let run = match self.child.call0(py) {
                Ok(run) => run,
                Err(error) => {
                    error.print(py);
                    return 3;
                }
            };
            dummymp::foreign::serve_forked(link, |call: &ForeignCall<'_>| {
                let payload = PyBytes::new(py, call.payload);
                match run.call1(py, (call.task, call.name, payload)) {
                    Ok(answer) => read_answer(answer.bind(py)).unwrap_or_else(|error| {
                        ForeignResult::Failed(format!("the copy's handler answered {error}"))
                    }),
                    Err(error) => {
                        ForeignResult::Failed(format!("the copy's handler failed: {error}"))
                    }
                }
            })
        })
    }
}
