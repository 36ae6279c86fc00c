"""DummyMP on dummymp's engine: run Python functions in parallel child
processes, considerately.

The original DummyMP's module-level API, unchanged, on a default queue::

    import dummymp

    def square(x):
        return x * x

    if __name__ == "__main__":
        for x in range(10):
            dummymp.run(square, x)
        dummymp.set_max_processes(2)
        dummymp.process_until_done()
        print(dummymp.get_returns())    # {0: 0, 1: 1, 2: 4, ...}

Each task runs in a worker process that imports its function by module
and name, as ``multiprocessing`` does when it spawns (see ``_pickling``):
keep the code that queues tasks under ``if __name__ == "__main__":``.
Log records of a task reach this process's ``logging`` prefixed
``[PID n] ``; its printed lines are relayed; an exception it raises is kept
as its :class:`Outcome` and logged.

For new code: :class:`DummyMP` (a queue as a value, and a context manager
that ends its tasks on exit), :func:`outcome`, :func:`map`.
"""

from __future__ import annotations

import atexit
import sys
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

from . import _native
from ._outcome import Outcome, TaskError
from ._queue import DummyMP, Priority

if TYPE_CHECKING:  # kept out of a worker's start-up
    from typing import Any, Callable, Dict, Iterable, List, Optional, Union

    from ._queue import ProgressCallback

__version__: str = _native.__version__

DUMMYMP_GENEROUS = Priority.GENEROUS
DUMMYMP_NORMAL = Priority.NORMAL
DUMMYMP_AGGRESSIVE = Priority.AGGRESSIVE
DUMMYMP_EXTREME = Priority.EXTREME
DUMMYMP_NUCLEAR = Priority.NUCLEAR

# What ``from dummymp import *`` gives, as with the original: its API and
# constants (the extras, such as ``map``, stay ``dummymp.``-qualified so
# that no built-in is shadowed).
__all__ = [
    "DUMMYMP_GENEROUS", "DUMMYMP_NORMAL", "DUMMYMP_AGGRESSIVE", "DUMMYMP_EXTREME", "DUMMYMP_NUCLEAR",
    "run", "process_process", "process_queue", "process_until_done", "get_returns",
    "set_max_processes", "get_max_processes", "set_priority_mode", "get_priority_mode",
    "getCPUAvail", "getTotalCPUs", "set_start_callback", "set_end_callback", "killall", "reset",
    "set_args_deepcopy", "set_kwargs_deepcopy", "get_version",
    "DummyMP", "Outcome", "Priority", "TaskError",
]

# Pickles made in a worker name the main script's module ``__mp_main__``;
# here it is ``__main__`` (multiprocessing makes the same alias).
if "__main__" in sys.modules:
    sys.modules.setdefault("__mp_main__", sys.modules["__main__"])

_default: Optional[DummyMP] = None


def default() -> DummyMP:
    """The queue the module-level functions work on."""
    global _default
    if _default is None:
        _default = DummyMP()
    return _default


@atexit.register
def _end_tasks_at_exit() -> None:
    # The original's children outlived an exiting program; ours end with it.
    if _default is not None:
        _default.killall()


def run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Queues ``func(*args, **kwargs)``; returns its call index (0-based).
    Nothing runs until the queue is processed."""
    return default().run(func, *args, **kwargs)


def process_process() -> bool:
    """Finishes the tasks that ended and starts queued ones as CPUs allow;
    True when nothing is queued or running any more."""
    return default().process_process()


def process_queue() -> None:
    """Relays the log records, output and returns that arrived."""
    default().process_queue()


def process_until_done() -> None:
    """Processes the queue until every task has ended."""
    default().process_until_done()


def get_returns() -> Dict[int, Any]:
    """The values returned so far, by call index (0-based, call order)."""
    return default().get_returns()


def set_max_processes(max_proc: int) -> None:
    """Caps the tasks running at once (0: no cap)."""
    default().set_max_processes(max_proc)


def get_max_processes() -> int:
    """The cap on tasks running at once (0: none)."""
    return default().get_max_processes()


def set_priority_mode(mode: Union[Priority, int, str]) -> None:
    """Sets the priority mode: a ``DUMMYMP_*`` constant."""
    default().set_priority_mode(mode)


def get_priority_mode() -> Priority:
    """The priority mode (``DUMMYMP_NORMAL`` by default)."""
    return default().get_priority_mode()


def getCPUAvail() -> int:
    """CPUs available under the priority mode (measures the load of other
    processes unless a fresh measurement exists)."""
    return default().getCPUAvail()


def getTotalCPUs() -> int:
    """CPUs this process may use (CPU affinity and cgroup quota applied)."""
    return default().getTotalCPUs()


def set_start_callback(callback: Optional[ProgressCallback]) -> None:
    """Calls ``callback(total_completed, total_running, total_queued_ever)``
    when a task starts."""
    default().set_start_callback(callback)


def set_end_callback(callback: Optional[ProgressCallback]) -> None:
    """Calls ``callback(total_completed, total_running, total_queued_ever)``
    when a task ends."""
    default().set_end_callback(callback)


def killall() -> None:
    """Ends every running task; returns already received are kept."""
    default().killall()


def reset() -> None:
    """Ends every running task, then puts every setting and all state back
    to the defaults (returns are lost)."""
    default().reset()


def set_args_deepcopy(tf: bool) -> None:
    """Kept for compatibility: arguments are always pickled (copied) at
    :func:`run`."""
    default().set_args_deepcopy(tf)


def set_kwargs_deepcopy(tf: bool) -> None:
    """Kept for compatibility: keyword arguments are always pickled
    (copied) at :func:`run`."""
    default().set_kwargs_deepcopy(tf)


def get_version() -> str:
    """This package's version."""
    return __version__


# ---- extras


def outcome(index: int) -> Optional[Outcome]:
    """How task ``index`` ended (None while it has not)."""
    return default().outcome(index)


def map(func: Callable[..., Any], *iterables: Iterable[Any]) -> List[Any]:
    """Runs ``func`` over the items, each in a task, and returns the values
    in item order; raises :class:`TaskError` if any task did not return."""
    return default().map(func, *iterables)


def kill(index: int) -> bool:
    """Ends task ``index`` (queued or running)."""
    return default().kill(index)


def set_reuse_workers(reuse: bool) -> None:
    """Whether workers run task after task (the default) instead of one
    fresh process per task."""
    default().set_reuse_workers(reuse)


def set_capacity(capacity: int) -> None:
    """How many tasks may run at once on an idle machine (0: one per CPU)."""
    default().set_capacity(capacity)


def set_output_mode(mode: str) -> None:
    """``"tagged"`` (default), ``"untagged"`` or ``"captured"``."""
    default().set_output_mode(mode)


def getSpawnProcPIDs() -> List[int]:
    """Process ids of the running tasks."""
    return default().running_pids()
