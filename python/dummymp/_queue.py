""":class:`DummyMP`: a queue of Python calls, each run in a process of its
own by dummymp's engine, with the original DummyMP's methods (the
module-level functions of ``dummymp`` work on a default one) and a few
typed extras."""

from __future__ import annotations

import enum
import logging
import pickle
import sys
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

from . import _logs, _native, _pickling, _worker
from ._outcome import Outcome, TaskError

if TYPE_CHECKING:  # kept out of a worker's start-up
    from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

    ProgressCallback = Callable[[int, int, int], Any]

_log = logging.getLogger("dummymp")

# Workers run task after task unless told otherwise: a fresh Python
# interpreter per task (its start, this package's import and the main
# script's) costs more than the original's fork did.
REUSE_WORKERS_BY_DEFAULT = True


class Priority(enum.IntEnum):
    """The priority modes, with the original's numbers (so that they equal
    the ``DUMMYMP_*`` constants). How considerate each is: a foreign
    process counts as load only above its threshold; when no CPU is free,
    every mode but GENEROUS still runs one task if none of ours runs."""

    GENEROUS = 15
    """Counts processes above 20 %; waits while no CPU is free."""
    NORMAL = 0
    """Counts processes above 30 % (the default)."""
    AGGRESSIVE = -5
    """Counts processes above 50 %."""
    EXTREME = -10
    """Counts processes above 80 %."""
    NUCLEAR = -20
    """Ignores other processes: every usable CPU."""


def _priority(mode: Union[Priority, int, str]) -> Priority:
    if isinstance(mode, str):
        try:
            return Priority[mode.strip().upper()]
        except KeyError:
            raise ValueError("no priority mode is called %r" % mode) from None
    try:
        return Priority(mode)
    except ValueError:
        raise ValueError(
            "%r is no priority mode (use DUMMYMP_GENEROUS, DUMMYMP_NORMAL, "
            "DUMMYMP_AGGRESSIVE, DUMMYMP_EXTREME or DUMMYMP_NUCLEAR)" % (mode,)
        ) from None


def _flush_standard_streams() -> None:
    # The engine writes relayed lines straight to the process's standard
    # output and error: what Python still buffers goes first.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


class DummyMP:
    """A queue of calls, each run in a child process of its own, started as
    CPUs allow: the original DummyMP's state, as a value.

    Several are independent queues. Leaving a ``with`` block ends every
    task still queued or running (they end as ``"killed"``)::

        with dummymp.DummyMP() as mp:
            squares = mp.map(square, range(10))
    """

    def __init__(self) -> None:
        _logs.install()
        self._native = _native.NativeQueue()
        self._clear()

    def _clear(self) -> None:
        """The Python side's state and defaults, as after a reset."""
        self._native.reuse_workers = REUSE_WORKERS_BY_DEFAULT
        self._returns: Dict[int, Any] = {}
        self._outcomes: Dict[int, Outcome] = {}
        self._on_start: Optional[ProgressCallback] = None
        self._on_end: Optional[ProgressCallback] = None
        self._args_deepcopy = True
        self._kwargs_deepcopy = True

    # ---- queueing

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Queues ``func(*args, **kwargs)`` and returns its index (call
        order from 0, the key of :meth:`get_returns`). The call is pickled
        now: later changes to the arguments do not reach it. Raises
        ``TypeError`` when it cannot be pickled."""
        return self.run_with(func, args, kwargs)

    def run_with(
        self,
        func: Callable[..., Any],
        args: Iterable[Any] = (),
        kwargs: Optional[Dict[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
        retries: int = 0,
    ) -> int:
        """:meth:`run` with options: ``timeout`` (seconds; the task is ended
        as ``"timed_out"`` past it) and ``retries`` (how many times a task
        whose process died or timed out is started again)."""
        if _worker.preparing:
            raise RuntimeError(
                "a worker that was importing the main script tried to queue a task: "
                "put the code that queues tasks under `if __name__ == \"__main__\":`"
            )
        payload = _pickling.encode_call(func, tuple(args), dict(kwargs or {}))
        program, program_args = _pickling.worker_command()
        return self._native.submit(
            program, program_args, payload, _pickling.task_name(func), timeout, retries
        )

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any]) -> List[Any]:
        """Runs ``func`` over the items (``func(a, b)`` for each pair, with
        two iterables, as the built-in ``map``), each in a task, processes
        the queue until done, and returns the values in item order. Raises
        :class:`TaskError` when any task did not return (the values of the
        others are in :meth:`get_returns`)."""
        indices = [self.run(func, *items) for items in zip(*iterables)]
        self.process_until_done()
        outcomes = [self._outcomes[i] for i in indices]
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise TaskError(failed[0], failed)
        return [o.value for o in outcomes]

    # ---- processing

    def _after_turn(self) -> None:
        """Records the tasks that ended, then calls the callbacks."""
        for index in self._native.take_ended():
            self._record(index)
        for kind, completed, running, total in self._native.take_progress():
            callback = self._on_start if kind == "start" else self._on_end
            if callback is not None:
                callback(completed, running, total)

    def _record(self, index: int) -> None:
        report = self._native.report(index)
        if report is None:  # pragma: no cover - take_ended gives ended tasks
            return
        value = None
        kind = report["kind"]
        if kind == "returned":
            try:
                value = pickle.loads(report["returned"])
            except Exception as error:
                kind = "failed"
                report["description"] = report["reason"] = (
                    "failed: cannot unpickle its return value here: %s: %s" % (type(error).__name__, error)
                )
                _log.warning("task %d %s", index, report["description"])
            else:
                self._returns[index] = value
        self._outcomes[index] = Outcome(
            index=index,
            kind=kind,
            description=report["description"],
            pid=report.get("pid"),
            value=value,
            exception=report.get("exception"),
            message=report.get("message"),
            traceback=report.get("traceback"),
            code=report.get("code"),
            signal=report.get("signal"),
            reason=report.get("reason"),
            attempts=report.get("attempts", 1),
            runtime=report.get("runtime", 0.0),
            stdout=report.get("stdout", b""),
            stderr=report.get("stderr", b""),
        )

    def process_process(self) -> bool:
        """Relays what arrived, finishes the tasks that ended, starts the
        queued ones the CPUs allow, without waiting. Returns True when
        nothing is queued or running any more."""
        _flush_standard_streams()
        done = self._native.process_process()
        self._after_turn()
        return done

    def process_queue(self) -> None:
        """Relays the log records, output lines and results that arrived,
        without waiting."""
        _flush_standard_streams()
        self._native.process_queue()
        self._after_turn()

    def process_until_done(self) -> None:
        """Processes the queue until every task has ended, sleeping until
        something happens (no polling). In GENEROUS mode it waits for CPUs
        to come free rather than return with tasks still queued. Ctrl-C
        interrupts it (the tasks go on; :meth:`killall` ends them)."""
        while not self.process_process():
            self._native.wait(None)
            self._after_turn()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until something happens (or ``timeout`` seconds pass),
        then processes the queue; True when nothing is queued or running."""
        _flush_standard_streams()
        done = self._native.wait(timeout)
        self._after_turn()
        return done

    # ---- reading back

    def get_returns(self) -> Dict[int, Any]:
        """The values returned so far, by call index (0-based, call order).
        It is the queue's own dictionary: it fills as tasks end, and
        :meth:`reset` starts a new one. Tasks that did not return are not
        in it (see :meth:`outcome`)."""
        return self._returns

    def outcome(self, index: int) -> Optional[Outcome]:
        """How task ``index`` ended; None while it has not."""
        return self._outcomes.get(index)

    def outcomes(self) -> Dict[int, Outcome]:
        """The outcome of every task that has ended, by call index."""
        return dict(self._outcomes)

    def progress(self) -> Tuple[int, int, int]:
        """``(completed, running, total)``, the callbacks' arguments."""
        return self._native.progress()

    def running_pids(self) -> List[int]:
        """Process ids of the running tasks."""
        return self._native.running_pids()

    getSpawnProcPIDs = running_pids

    # ---- control

    def kill(self, index: int) -> bool:
        """Ends task ``index``: taken off the queue if it has not started,
        else terminated (SIGTERM, then SIGKILL after the kill grace
        period). It ends as ``"killed"`` once the queue is processed.
        Returns whether it was queued or running."""
        return self._native.kill(index)

    def killall(self) -> None:
        """Ends every running task and waits until they are gone; values
        already received are kept, the killed tasks end as ``"killed"``
        (the end callback is called for each). Queued tasks stay queued."""
        self._native.killall()
        self._after_turn()

    def reset(self) -> None:
        """:meth:`killall`, then a fresh start: an empty queue, every
        setting back to its default, returns and callbacks dropped."""
        self.killall()
        self._native.reset()
        self._clear()

    def close(self) -> None:
        """Ends every task still queued or running, and the idle workers,
        and waits until they are gone."""
        total = self._native.progress()[2]
        for index in range(total):
            if index not in self._outcomes:
                self._native.kill(index)
        self.process_until_done()
        self.killall()

    def __enter__(self) -> DummyMP:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ---- settings

    def set_max_processes(self, max_proc: int) -> None:
        """Caps the tasks running at once, in every priority mode (0: no cap)."""
        self._native.max_processes = int(max_proc)

    def get_max_processes(self) -> int:
        """The process cap (0: none)."""
        return self._native.max_processes

    def set_priority_mode(self, mode: Union[Priority, int, str]) -> None:
        """Sets how considerate scheduling is of other processes: one of the
        ``DUMMYMP_*`` constants (a :class:`Priority`), or its name."""
        self._native.priority = _priority(mode).name.lower()

    def get_priority_mode(self) -> Priority:
        """The priority mode (NORMAL by default)."""
        return Priority[self._native.priority.upper()]

    def set_start_callback(self, callback: Optional[ProgressCallback]) -> None:
        """Calls ``callback(total_completed, total_running, total_queued_ever)``
        each time a task starts (it counts as running)."""
        self._on_start = callback

    def set_end_callback(self, callback: Optional[ProgressCallback]) -> None:
        """Calls ``callback(total_completed, total_running, total_queued_ever)``
        each time a task ends, however it ended (it counts as completed)."""
        self._on_end = callback

    def set_args_deepcopy(self, tf: bool) -> None:
        """Kept for the original's programs. Arguments are always pickled at
        :meth:`run` (a copy), since the task runs in another process."""
        self._args_deepcopy = bool(tf)

    def set_kwargs_deepcopy(self, tf: bool) -> None:
        """Kept for the original's programs; see :meth:`set_args_deepcopy`."""
        self._kwargs_deepcopy = bool(tf)

    def set_reuse_workers(self, reuse: bool) -> None:
        """Whether a worker runs task after task (True, the default) or one
        fresh process runs each task (False, as the original's fork did).
        Reuse saves a Python start per task (and the main script's
        imports); the tasks of one worker share its module state and
        environment variables (the working directory follows this
        process's). A task that crashes or is killed ends its worker only;
        idle workers end with :meth:`killall`, :meth:`reset` or the
        program."""
        self._native.reuse_workers = bool(reuse)

    def get_reuse_workers(self) -> bool:
        return self._native.reuse_workers

    def set_capacity(self, capacity: int) -> None:
        """How many tasks may run at once on an idle machine (0, the default:
        one per usable CPU). Raise it for tasks that mostly wait."""
        self._native.capacity = int(capacity)

    def get_capacity(self) -> int:
        return self._native.capacity

    def set_output_mode(self, mode: str) -> None:
        """Where the output of tasks queued from now on goes: ``"tagged"``
        (the default: this process's standard output and error, each line
        prefixed ``[PID n] ``), ``"untagged"``, or ``"captured"`` (kept in
        the task's :class:`Outcome`, ``stdout`` and ``stderr``)."""
        self._native.output_mode = mode

    def get_output_mode(self) -> str:
        return self._native.output_mode

    def set_kill_grace(self, seconds: float) -> None:
        """Seconds between SIGTERM and SIGKILL when a task is ended
        (default 1)."""
        self._native.kill_grace = float(seconds)

    def get_kill_grace(self) -> float:
        return self._native.kill_grace

    # ---- CPUs

    def getCPUAvail(self) -> int:
        """How many tasks may run under the priority mode, the process cap
        aside (blocks for one sampling interval, 0.1 s to 0.5 s, unless a
        fresh measurement exists)."""
        return self._native.cpu_avail()

    def getTotalCPUs(self) -> int:
        """CPUs this process may use: its CPU affinity, limited by any
        cgroup quota (the machine's count is :meth:`get_machine_cpus`)."""
        return self._native.usable_cpus()

    def get_machine_cpus(self) -> int:
        """CPUs online on the machine."""
        return self._native.machine_cpus()

    def last_decision(self) -> str:
        """Why tasks started or waited at the last scheduling decision, for
        people: ``"waiting (1 waiting, 0 running): 2 of 2 CPUs busy with
        other processes: ..."``."""
        return self._native.last_decision()[0]

    def last_limit(self) -> str:
        """What held back the last scheduling decision: ``"nothing"``,
        ``"process_cap"``, ``"first_measurement"`` (the mode waits for its
        first measurement of other processes' load), ``"cpus"`` (other
        processes and ours leave no CPU free), ``"forced_one"`` (none was
        free and none of ours ran, so one started anyway) or ``"memory"``."""
        return self._native.last_decision()[1]

    def __repr__(self) -> str:
        completed, running, total = self._native.progress()
        return "<DummyMP %s, max_processes=%d: %d of %d completed, %d running>" % (
            self.get_priority_mode().name, self.get_max_processes(), completed, total, running
        )
