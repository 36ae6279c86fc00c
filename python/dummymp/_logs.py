"""Log records reaching Python's :mod:`logging` in the parent: the
engine's own (logger ``dummymp``: a task that raised, failed or could not
start is reported there at WARNING) and those its tasks logged, which keep
their logger name, level, file and line and get ``[PID n] `` in front of
their message, as the original did.

Each record is logged only where a logger is enabled for its level, as
the original filtered them in the parent.
"""

from __future__ import annotations

import logging
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

from . import _native

if TYPE_CHECKING:
    from typing import Optional

# The Rust levels, 1 (error) to 5 (trace).
_FROM_RUST = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_installed = False

# The logger of each Rust target (``dummymp::engine`` -> ``dummymp.engine``),
# found once: the engine logs a few debug records per task, which most
# programs do not want, and getLogger takes logging's lock.
_loggers: "dict[str, logging.Logger]" = {}


def emit(level: int, target: str, module_path: Optional[str], file: Optional[str], line: Optional[int], message: str) -> None:
    """Logs one record that reached the engine (see ``src/logs.rs``)."""
    function = None
    if module_path is not None and module_path.startswith("python:"):
        # Forwarded by a Python worker: exact level, function name.
        _, levelno, function = module_path.split(":", 2)
        level_number = int(levelno)
        name = target
        logger = logging.getLogger() if name == "root" else logging.getLogger(name)
    else:
        level_number = _FROM_RUST.get(level, logging.INFO)
        logger = _loggers.get(target)  # type: ignore[assignment]
        if logger is None:
            logger = _loggers[target] = logging.getLogger(target.replace("::", "."))
    if not logger.isEnabledFor(level_number):
        return
    record = logger.makeRecord(
        logger.name, level_number, file or "(unknown file)", line or 0, message, (), None, function or None
    )
    if message.startswith("[PID "):
        # The record comes from the task's process.
        pid = message[5 : message.find("]")]
        if pid.isdigit():
            record.process = int(pid)
    logger.handle(record)


def threshold(name: str) -> int:
    """The lowest level number the logger ``name`` takes now (the engine
    asks once per call into a queue, and drops what no logger takes)."""
    logger = logging.getLogger() if name == "root" else logging.getLogger(name)
    if logger.disabled:
        return 1 << 30
    return max(logger.getEffectiveLevel(), logger.manager.disable + 1)


def install() -> None:
    """Sends this process's engine records to :func:`emit` (once; in a
    worker they keep going to the worker's parent)."""
    global _installed
    if not _installed:
        _installed = True
        _native.install_log_bridge(emit, threshold)
