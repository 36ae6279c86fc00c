//! The parent's Rust `log` logger: every record (the engine's own, and the
//! ones workers relay, already prefixed `[PID n] `) goes to a Python
//! function that hands it to Python's `logging` (`dummymp/_logs.py`).
//!
//! Records that a Python worker forwarded (see `worker.rs`) carry the
//! exact Python level and function name in their module path, as
//! `python:LEVELNO:FUNCNAME`; the Python side reads them back from there.

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// The logger installed in the parent.
struct PythonLogging {
    /// `emit(level, target, module_path, file, line, message)`.
    emit: Py<PyAny>,
}

impl Log for PythonLogging {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        // Python's loggers decide, each with its own level.
        true
    }

    fn log(&self, record: &Record<'_>) {
        // In a copy of this process forked for a task, the records go to
        // the parent.
        if dummymp::foreign::forward_log(record) {
            return;
        }
        // During interpreter shutdown there is no Python to log to.
        Python::try_attach(|py| {
            let arguments = (
                record.level() as usize,
                record.target(),
                record.module_path(),
                record.file(),
                record.line(),
                record.args().to_string(),
            );
            if let Err(error) = self.emit.call1(py, arguments) {
                error.write_unraisable(py, None);
            }
        });
    }

    fn flush(&self) {}
}

/// Sends the Rust `log` records of this process to `emit(level, target,
/// module_path, file, line, message)`, where `level` is the Rust level (1
/// for error to 5 for trace). Returns false when a logger was already
/// installed (in a worker, the one that forwards records to the parent):
/// records then keep going there.
#[pyfunction]
pub fn install_log_bridge(emit: Py<PyAny>) -> bool {
    if log::set_boxed_logger(Box::new(PythonLogging { emit })).is_err() {
        return false;
    }
    // Workers are told this level: they forward every record, and the
    // parent's Python loggers filter them, as the original did.
    log::set_max_level(LevelFilter::Trace);
    true
}
