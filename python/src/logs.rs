//! The parent's Rust `log` logger: every record (the engine's own, and the
//! ones workers relay, already prefixed `[PID n] `) goes to a Python
//! function that hands it to Python's `logging` (`dummymp/_logs.py`).
//!
//! Records that a Python worker forwarded (see `worker.rs`) carry the
//! exact Python level and function name in their module path, as
//! `python:LEVELNO:FUNCNAME`; the Python side reads them back from there.
//!
//! Python's loggers decide which records they want, each with its own
//! level. Asking them takes the interpreter's lock, which the engine gave
//! up to run: so the lowest level each logger takes is asked once and kept
//! until the next call into the queue ([`new_generation`]; logging's
//! configuration can only change while Python code runs), and a record no
//! logger wants (the engine's per-task debug lines, in most programs) never
//! reaches Python.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use log::{LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;

/// The logger installed in the parent.
struct PythonLogging {
    /// `emit(level, target, module_path, file, line, message)`.
    emit: Py<PyAny>,
    /// `threshold(name)`: the lowest level number the logger `name` takes.
    threshold: Py<PyAny>,
    /// Per Python logger name: the generation it was asked in, and its
    /// threshold.
    thresholds: Mutex<HashMap<String, (u64, i32)>>,
}

/// Bumped at every call into a queue: thresholds asked before are asked
/// again.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Forgets the loggers' thresholds: Python code ran since they were asked,
/// and may have changed them.
pub(crate) fn new_generation() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The Python level number of a Rust level (what `_logs.py` logs it at).
fn python_level(level: log::Level) -> i32 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

/// The Python logger a record goes to, and its level number.
fn python_logger(record: &Record<'_>) -> (String, i32) {
    if let Some(forwarded) = record
        .module_path()
        .and_then(|path| path.strip_prefix("python:"))
    {
        let level = forwarded
            .split(':')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(20);
        return (record.target().to_string(), level);
    }
    (
        record.target().replace("::", "."),
        python_level(record.level()),
    )
}

impl PythonLogging {
    /// Whether a Python logger takes `record`; `None` when Python cannot
    /// be asked (it is shutting down).
    fn wanted(&self, record: &Record<'_>) -> Option<bool> {
        let (name, level) = python_logger(record);
        let generation = GENERATION.load(Ordering::Relaxed);
        let known = self
            .thresholds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&name)
            .filter(|(asked, _)| *asked == generation)
            .map(|(_, threshold)| *threshold);
        let threshold = match known {
            Some(threshold) => threshold,
            None => {
                let threshold = Python::try_attach(|py| {
                    self.threshold
                        .call1(py, (name.as_str(),))
                        .and_then(|t| t.extract::<i32>(py))
                        // A broken logging setup: let emit find out.
                        .unwrap_or(0)
                })?;
                self.thresholds
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(name, (generation, threshold));
                threshold
            }
        };
        Some(level >= threshold)
    }
}

impl Log for PythonLogging {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        // Python's loggers decide, each with its own level (see `log`).
        true
    }

    fn log(&self, record: &Record<'_>) {
        // In a copy of this process forked for a task, the records go to
        // the parent.
        if dummymp::foreign::forward_log(record) {
            return;
        }
        if self.wanted(record) != Some(true) {
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
/// for error to 5 for trace), when `threshold(name)` (the lowest Python
/// level number the logger `name` takes) says a logger wants them. Returns
/// false when a logger was already installed (in a worker, the one that
/// forwards records to the parent): records then keep going there.
#[pyfunction]
pub fn install_log_bridge(emit: Py<PyAny>, threshold: Py<PyAny>) -> bool {
    let logger = PythonLogging {
        emit,
        threshold,
        thresholds: Mutex::new(HashMap::new()),
    };
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        return false;
    }
    // Workers are told this level: they forward every record, and the
    // parent's Python loggers filter them, as the original did.
    log::set_max_level(LevelFilter::Trace);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_the_python_logger_of_their_target() {
        let rust = Record::builder()
            .level(log::Level::Debug)
            .target("dummymp::engine")
            .build();
        assert_eq!(python_logger(&rust), ("dummymp.engine".to_string(), 10));
        let forwarded = Record::builder()
            .level(log::Level::Warn)
            .target("tasks.chatty")
            .module_path(Some("python:35:chatty"))
            .build();
        assert_eq!(python_logger(&forwarded), ("tasks.chatty".to_string(), 35));
    }
}
