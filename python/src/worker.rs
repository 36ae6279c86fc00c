//! The worker's side: a Python worker process (`dummymp/_worker.py`)
//! hands its call handler to [`serve`], and its `logging` handler sends
//! records to the parent through [`forward_log`].

use dummymp::foreign::{ForeignCall, ForeignResult};
use log::{Level, Record};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Turns this process into a dummymp worker that serves its parent's calls
/// with `handler(task, name, payload)`, and exits when it is done (it never
/// returns). Call it before anything prints: from then on standard output
/// and error are relayed to the parent, and standard input is `/dev/null`.
///
/// The handler answers `("returned", bytes)`, `("raised", type, message,
/// traceback)` or `("failed", reason)`.
#[pyfunction]
pub fn serve(py: Python<'_>, handler: Py<PyAny>) -> PyResult<()> {
    dummymp::foreign::serve(|call: &ForeignCall<'_>| {
        let payload = PyBytes::new(py, call.payload);
        match handler.call1(py, (call.task, call.name, payload)) {
            Ok(answer) => read_answer(answer.bind(py)).unwrap_or_else(|error| {
                ForeignResult::Failed(format!("the worker's handler answered {error}"))
            }),
            Err(error) => ForeignResult::Failed(format!("the worker's handler failed: {error}")),
        }
    })
}

/// The result a handler's answer stands for.
pub(crate) fn read_answer(answer: &Bound<'_, PyAny>) -> PyResult<ForeignResult> {
    let text = |i: usize| -> PyResult<String> { answer.get_item(i)?.extract() };
    let kind = text(0)?;
    Ok(match kind.as_str() {
        "returned" => {
            let value = answer.get_item(1)?;
            ForeignResult::Returned(value.cast::<PyBytes>()?.as_bytes().to_vec())
        }
        "raised" => ForeignResult::Raised {
            exception: text(1)?,
            message: text(2)?,
            traceback: text(3)?,
        },
        "failed" => ForeignResult::Failed(text(1)?),
        other => return Err(PyValueError::new_err(format!("an unknown kind {other:?}"))),
    })
}

/// The Rust level closest to the Python level `levelno`.
fn rust_level(levelno: i32) -> Level {
    match levelno {
        40.. => Level::Error,
        30..40 => Level::Warn,
        20..30 => Level::Info,
        10..20 => Level::Debug,
        _ => Level::Trace,
    }
}

/// Sends one Python log record to the parent, which logs it prefixed
/// `[PID n] ` under the logger `name`, at `levelno` (whatever `log` logger
/// this process has: a copy forked for a task has its parent's). Outside a
/// worker it goes wherever this process's Rust records go.
#[pyfunction]
#[pyo3(signature = (levelno, name, message, pathname=None, lineno=None, func_name=None))]
pub fn forward_log(
    levelno: i32,
    name: &str,
    message: &str,
    pathname: Option<&str>,
    lineno: Option<u32>,
    func_name: Option<&str>,
) -> PyResult<()> {
    if name.is_empty() {
        return Err(PyValueError::new_err("a log record needs a logger name"));
    }
    // The exact level and the function travel in the module path (see
    // `logs.rs`, which reads them back in the parent).
    let origin = format!("python:{levelno}:{}", func_name.unwrap_or(""));
    let send = |record: &Record<'_>| {
        if !dummymp::foreign::forward_log(record) {
            log::logger().log(record);
        }
    };
    send(
        &Record::builder()
            .level(rust_level(levelno))
            .target(name)
            .module_path(Some(&origin))
            .file(pathname)
            .line(lineno)
            .args(format_args!("{message}"))
            .build(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_levels_map_to_the_nearest_rust_level() {
        assert_eq!(rust_level(50), Level::Error);
        assert_eq!(rust_level(40), Level::Error);
        assert_eq!(rust_level(35), Level::Warn);
        assert_eq!(rust_level(20), Level::Info);
        assert_eq!(rust_level(10), Level::Debug);
        assert_eq!(rust_level(5), Level::Trace);
        assert_eq!(rust_level(0), Level::Trace);
    }
}
