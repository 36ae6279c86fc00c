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

Each task is a copy of this process made when it starts (a ``fork``, as
the original's tasks were on Linux): it sees the program's globals as they
are then, runs any function (lambdas and closures too), and its return
value comes back pickled. Log records of a task reach this process's
``logging`` prefixed ``[PID n] ``; the lines it prints reach standard
output and error whole; an exception it raises is kept as its
:class:`Outcome` and logged. :mod:`dummymp.config` is the original's
configuration module.

For new code: :class:`DummyMP` (a queue as a value, and a context manager
that ends its tasks on exit), :func:`outcome`, :func:`map`, and the
settings the command-line tool has (niceness, delay between starts,
memory per task, timeouts and retries, the Slurm launcher).
"""

from __future__ import annotations

import atexit
import sys
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

from . import _native
from ._outcome import Error, Outcome, TaskError, TaskTimeoutError
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

from . import config  # noqa: E402 (it reads the default queue through this module)

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
    """Sets the priority mode: a ``DUMMYMP_*`` constant, or the number of a
    mode of one's own with an entry in each table of :mod:`dummymp.config`."""
    default().set_priority_mode(mode)


def get_priority_mode() -> Union[Priority, int]:
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
    to the defaults (returns are lost), the tables of :mod:`dummymp.config`
    included."""
    default().reset()
    config._restore_tables()


def set_args_deepcopy(tf: bool) -> None:
    """Whether :func:`run` deep-copies the arguments (True, the default);
    off, a task sees them as they are when it starts."""
    default().set_args_deepcopy(tf)


def set_kwargs_deepcopy(tf: bool) -> None:
    """Whether :func:`run` deep-copies the keyword arguments (True, the
    default)."""
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
    """Whether workers run task after task instead of one fresh copy of
    this process per task (the default); see
    :meth:`DummyMP.set_reuse_workers` for what changes."""
    default().set_reuse_workers(reuse)


def get_reuse_workers() -> bool:
    """Whether workers run task after task."""
    return default().get_reuse_workers()


def set_start_method(method: str) -> None:
    """``"fork"`` (the default: each task a copy of this process) or
    ``"spawn"`` (a fresh interpreter); see :meth:`DummyMP.set_start_method`."""
    default().set_start_method(method)


def get_start_method() -> str:
    """How tasks start: ``"fork"`` or ``"spawn"``."""
    return default().get_start_method()


def set_capacity(capacity: int) -> None:
    """How many tasks may run at once on an idle machine (0: one per CPU)."""
    default().set_capacity(capacity)


def set_output_mode(mode: str) -> None:
    """``"untagged"`` (default), ``"tagged"`` or ``"captured"``."""
    default().set_output_mode(mode)


def get_output_mode() -> str:
    """Where the output of tasks goes."""
    return default().get_output_mode()


def set_kill_grace(seconds: float) -> None:
    """Seconds between SIGTERM and SIGKILL when a task is ended (default 1)."""
    default().set_kill_grace(seconds)


def get_kill_grace() -> float:
    """Seconds between SIGTERM and SIGKILL when a task is ended."""
    return default().get_kill_grace()


def set_nice(increment: Optional[int]) -> None:
    """Runs tasks ``increment`` nicer than this process (None: as nice)."""
    default().set_nice(increment)


def get_nice() -> Optional[int]:
    """How much nicer than this process tasks run (None: as nice)."""
    return default().get_nice()


def set_start_delay(seconds: Optional[float]) -> None:
    """Starts tasks at least ``seconds`` apart (None: no delay)."""
    default().set_start_delay(seconds)


def get_start_delay() -> Optional[float]:
    """The least time between two starts, in seconds (None: none)."""
    return default().get_start_delay()


def set_memory_per_task(nbytes: Optional[int]) -> None:
    """The memory each task needs, in bytes (None: learned)."""
    default().set_memory_per_task(nbytes)


def get_memory_per_task() -> Optional[int]:
    """The memory each task is said to need, in bytes (None: learned)."""
    return default().get_memory_per_task()


def set_task_options(
    timeout: Optional[float] = None, retries: int = 0, cpus: int = 1, memory: Optional[int] = None
) -> None:
    """The timeout, retries, CPUs and memory of tasks queued from now on."""
    default().set_task_options(timeout, retries, cpus, memory)


def get_task_options() -> Dict[str, Any]:
    """The options tasks are queued with."""
    return default().get_task_options()


def set_launcher(launcher: str, **options: Any) -> None:
    """``"local"`` (default) or ``"slurm"``; see :meth:`DummyMP.set_launcher`."""
    default().set_launcher(launcher, **options)


def get_launcher() -> str:
    """Where tasks start: ``"local"`` or ``"slurm"``."""
    return default().get_launcher()


def getSpawnProcPIDs() -> List[int]:
    """Process ids of the running tasks."""
    return default().running_pids()
