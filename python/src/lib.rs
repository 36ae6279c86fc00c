//! `dummymp._native`: the Rust half of the dummymp Python package, a thin
//! layer of PyO3 over the dummymp library. The Python half (`dummymp/`)
//! holds the original's API, pickling and the worker's Python side.
//!
//! | what | file |
//! |---|---|
//! | a queue of Python tasks over `DummyMp` (the parent side) | `queue.rs` |
//! | a task's report as a dict | `report.rs` |
//! | what Python needs around the fork of a task | `fork.rs` |
//! | Rust `log` records into Python `logging`, in the parent | `logs.rs` |
//! | serving calls and forwarding log records, in a worker | `worker.rs` |

mod fork;
mod logs;
mod queue;
mod report;
mod worker;

use pyo3::prelude::*;

pyo3::create_exception!(
    dummymp,
    Error,
    pyo3::exceptions::PyException,
    "What dummymp raises when no built-in exception fits (a task that did not \
     return, a queue used where it cannot be, the system refusing what the \
     scheduler needs). Usage mistakes raise ValueError or TypeError."
);

/// The dummymp engine, for the `dummymp` package (use `dummymp`, not this
/// module).
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::Error;
    #[pymodule_export]
    use super::logs::install_log_bridge;
    #[pymodule_export]
    use super::queue::NativeQueue;
    #[pymodule_export]
    use super::worker::{forward_log, serve};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        module.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
