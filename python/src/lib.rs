//! `dummymp._native`: the Rust half of the dummymp Python package, a thin
//! layer of PyO3 over the dummymp library. The Python half (`dummymp/`)
//! holds the original's API, pickling and the worker's Python side.
//!
//! | what | file |
//! |---|---|
//! | a queue of Python tasks over `DummyMp` (the parent side) | `queue.rs` |
//! | Rust `log` records into Python `logging`, in the parent | `logs.rs` |
//! | serving calls and forwarding log records, in a worker | `worker.rs` |

mod logs;
mod queue;
mod worker;

use pyo3::prelude::*;

/// The dummymp engine, for the `dummymp` package (use `dummymp`, not this
/// module).
#[pymodule]
mod _native {
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
