//! A task's report as the Python side reads it: a dict of its outcome's
//! kind and fields (`dummymp/_queue.py` makes an `Outcome` of it).

use dummymp::{Outcome, TaskReport};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// `report` as a dict: `kind`, `description`, `pid`, `attempts`,
/// `runtime`, `started_at`, `peak_memory`, `stdout`, `stderr`, and the
/// fields of its kind (`returned`, the pickled value; `exception`,
/// `message`, `traceback`; `code`; `signal`; `reason`, `errno`).
pub(crate) fn report_dict<'py>(
    py: Python<'py>,
    report: &TaskReport,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("description", report.outcome.to_string())?;
    dict.set_item("peak_memory", report.peak_rss)?;
    let started = report
        .started_at
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    dict.set_item("started_at", started.map(|t| t.as_secs_f64()))?;
    dict.set_item("pid", report.pid)?;
    dict.set_item("attempts", report.attempts)?;
    dict.set_item("runtime", report.runtime.as_secs_f64())?;
    dict.set_item("stdout", PyBytes::new(py, &report.stdout))?;
    dict.set_item("stderr", PyBytes::new(py, &report.stderr))?;
    let kind = match &report.outcome {
        Outcome::Returned => {
            let bytes = report.returned_bytes().unwrap_or_default();
            dict.set_item("returned", PyBytes::new(py, bytes))?;
            "returned"
        }
        Outcome::Raised {
            exception,
            message,
            traceback,
        } => {
            dict.set_item("exception", exception)?;
            dict.set_item("message", message)?;
            dict.set_item("traceback", traceback)?;
            "raised"
        }
        Outcome::Panicked { message, .. } => {
            dict.set_item("message", message)?;
            "failed"
        }
        // A worker exits before the function returns (ExitedEarly); a
        // command's exit is its end (Exited).
        Outcome::Exited { code } | Outcome::ExitedEarly { code } => {
            dict.set_item("code", code)?;
            "exited"
        }
        Outcome::Signaled { signal } => {
            dict.set_item("signal", signal)?;
            "signaled"
        }
        // Killed by SIGKILL, most likely by the out-of-memory killer: the
        // description says so.
        Outcome::OutOfMemory { .. } => {
            dict.set_item("signal", 9)?;
            dict.set_item("reason", report.outcome.to_string())?;
            "signaled"
        }
        Outcome::TimedOut => "timed_out",
        Outcome::Killed => "killed",
        Outcome::FailedToStart { error, errno } => {
            dict.set_item("reason", error)?;
            dict.set_item("errno", errno)?;
            "failed_to_start"
        }
        Outcome::Failed { reason } => {
            dict.set_item("reason", reason)?;
            "failed"
        }
        other => {
            dict.set_item("reason", other.to_string())?;
            "failed"
        }
    };
    dict.set_item("kind", kind)?;
    Ok(dict)
}
