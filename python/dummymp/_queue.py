""":class:`DummyMP`: a queue of Python calls, each run in a process of its
own by dummymp's engine, with the original DummyMP's methods (the
module-level functions of ``dummymp`` work on a default one) and a few
typed extras."""

from __future__ import annotations

import copy
import enum
import logging
import pickle
import sys
import weakref
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

from . import _logs, _native, _pickling, _worker, config
from ._outcome import Outcome, task_error

if TYPE_CHECKING:  # kept out of a worker's start-up
    from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

    ProgressCallback = Callable[[int, int, int], Any]

_log = logging.getLogger("dummymp")

# How tasks start by default: a fresh copy of this process per task, made
# when it starts (as the original's multiprocessing.Process did on Linux).
DEFAULT_START_METHOD = "fork"
START_METHODS = ("fork", "spawn")

# Every queue of this process, so that a copy forked for a task can tell.
_live: "weakref.WeakSet[DummyMP]" = weakref.WeakSet()


class Priority(enum.IntEnum):
    """The priority modes, with the original's numbers (so that they equal
    the ``DUMMYMP_*`` constants). How considerate each is: a foreign
    process counts as load only above its threshold; when no CPU is free,
    every mode but GENEROUS still runs one task if none of ours runs. A
    mode of one's own is a number with an entry in each table of
    :mod:`dummymp.config`."""

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


def _mode_number(mode: Union[Priority, int, str]) -> int:
    if isinstance(mode, str):
        try:
            return int(Priority[mode.strip().upper()])
        except KeyError:
            raise ValueError("no priority mode is called %r" % mode) from None
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError("a priority mode is a DUMMYMP_* constant (an int), not %r" % (mode,))
    return int(mode)


def _politer_built_in(number: int) -> Priority:
    """The built-in mode nearest to mode ``number`` on the politer side
    (the higher numbers): the rules a custom mode's tables do not set."""
    politer = [m for m in Priority if m >= number]
    return min(politer) if politer else Priority.GENEROUS


def _flush_standard_streams() -> None:
    # The engine writes relayed lines straight to the process's standard
    # output and error: what Python still buffers goes first.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _copied(value: Any) -> Any:
    """A deep copy of ``value``, or ``value`` itself when it cannot be
    copied (a lock, an open file...): the task then sees it as it is when
    the task starts."""
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


class DummyMP:
    """A queue of calls, each run in a child process of its own, started as
    CPUs allow: the original DummyMP's state, as a value.

    By default each task is a copy of this process made when it starts (a
    ``fork``, as the original's tasks were): it sees this program's globals
    as they are then, and runs any function, lambdas included. Several
    queues are independent. Leaving a ``with`` block ends every task still
    queued or running (they end as ``"killed"``)::

        with dummymp.DummyMP() as mp:
            squares = mp.map(square, range(10))
    """

    def __init__(self) -> None:
        _logs.install()
        side = _worker.ForkSide(self)
        self._native = _native.NativeQueue(side.before, side.child)
        self._clear()
        _live.add(self)

    def _clear(self) -> None:
        """The Python side's state and defaults, as after a reset."""
        self._returns: Dict[int, Any] = {}
        # How each task that ended did, by index: its Outcome, made when
        # first asked for; until then ``(value,)`` for a task that returned,
        # None for the others.
        self._outcomes: Dict[int, Any] = {}
        # Tasks that returned a value this process cannot unpickle: why.
        self._unreadable: Dict[int, str] = {}
        # The calls of tasks that run as copies of this process, until
        # they end: the copy finds its call here.
        self._calls: Dict[int, Tuple[Any, Any, Any]] = {}
        self._on_start: Optional[ProgressCallback] = None
        self._on_end: Optional[ProgressCallback] = None
        self._args_deepcopy = True
        self._kwargs_deepcopy = True
        self._start_method = DEFAULT_START_METHOD
        from . import config

        # The mode the engine has, as (number, its entry in the tables).
        self._mode = int(Priority.NORMAL)
        self._mode_applied = (self._mode, config._BUILT_IN[self._mode])
        # The counts of the progress event whose callback runs, if one does.
        self._in_callback: Optional[Tuple[int, int, int]] = None

    # ---- queueing

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Queues ``func(*args, **kwargs)`` and returns its index (call
        order from 0, the key of :meth:`get_returns`). The arguments are
        deep-copied now (unless :meth:`set_args_deepcopy` says otherwise):
        later changes to them do not reach the task."""
        return self.run_with(func, args, kwargs)

    def run_with(
        self,
        func: Callable[..., Any],
        args: Iterable[Any] = (),
        kwargs: Optional[Dict[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        cpus: Optional[int] = None,
        memory: Optional[int] = None,
    ) -> int:
        """:meth:`run` with options of its own (those not given are the
        queue's, see :meth:`set_task_options`): ``timeout`` (seconds; the
        task is ended as ``"timed_out"`` past it), ``retries`` (how many
        times a task that failed is started again), ``cpus`` (how many CPUs
        it uses: a Slurm step asks for that many) and ``memory`` (the bytes
        it needs at most: it starts only when that much is free).

        Raises ``TypeError`` when ``func`` is not callable, or, for a task
        that is not a fresh copy of this process (reused workers, the
        ``spawn`` start method, Slurm), names the function or argument that
        cannot be pickled."""
        if not callable(func):
            raise TypeError("dummymp can only run a callable, not %r" % (func,))
        if _worker.preparing:
            raise RuntimeError(
                "a worker that was importing the main script tried to queue a task: "
                "put the code that queues tasks under `if __name__ == \"__main__\":`"
            )
        args = tuple(args)
        kwargs = dict(kwargs or {})
        fresh_interpreter = self._fresh_interpreters()
        name = _pickling.task_name(func)
        if fresh_interpreter or self._native.reuse_workers:
            payload = _pickling.encode_call(func, args, kwargs, fresh_interpreter=fresh_interpreter)
            program, program_args = _pickling.worker_command() if fresh_interpreter else (None, [])
            return self._native.submit(
                payload, name, program, program_args, timeout, retries, cpus, memory
            )
        if self._args_deepcopy and args:
            try:
                args = copy.deepcopy(args)
            except Exception:
                args = tuple(_copied(a) for a in args)
        if self._kwargs_deepcopy and kwargs:
            try:
                kwargs = copy.deepcopy(kwargs)
            except Exception:
                kwargs = {k: _copied(v) for k, v in kwargs.items()}
        index = self._native.submit(b"", name, None, [], timeout, retries, cpus, memory)
        self._calls[index] = (func, args, kwargs)
        return index

    def _fresh_interpreters(self) -> bool:
        """Whether tasks start in fresh interpreters (Slurm, or ``spawn``)
        rather than as copies of this process."""
        return self._start_method == "spawn" or self._native.launcher() != "local"

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any]) -> List[Any]:
        """Runs ``func`` over the items (``func(a, b)`` for each pair, with
        two iterables, as the built-in ``map``), each in a task, processes
        the queue until done, and returns the values in item order. Raises
        :class:`TaskError` when any task did not return (the values of the
        others are in :meth:`get_returns`)."""
        indices = [self.run(func, *items) for items in zip(*iterables)]
        self.process_until_done()
        outcomes = [self._outcome(i) for i in indices]
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise task_error(failed[0], failed)
        return [o.value for o in outcomes]

    # ---- processing

    def _after_turn(self) -> None:
        """Records the tasks that ended, then calls the callbacks."""
        native = self._native
        returns, outcomes, calls = self._returns, self._outcomes, self._calls
        for index, returned in native.take_ended():
            calls.pop(index, None)
            outcomes[index] = None
            if returned is not None:
                try:
                    value = returns[index] = pickle.loads(returned)
                    outcomes[index] = (value,)
                except Exception as error:
                    why = "cannot unpickle its return value here: %s: %s" % (type(error).__name__, error)
                    self._unreadable[index] = why
                    _log.warning("task %d failed: %s", index, why)
        for kind, completed, running, total in native.take_progress():
            callback = self._on_start if kind == "start" else self._on_end
            if callback is not None:
                # What the callback reads (progress(), dummymp.config's
                # counters) is what it is told, as when it was called.
                self._in_callback = (completed, running, total)
                try:
                    callback(completed, running, total)
                finally:
                    self._in_callback = None

    def _outcome(self, index: int) -> Optional[Outcome]:
        """How task ``index`` ended (made from the engine's report the
        first time it is asked for); None while it has not."""
        if index not in self._outcomes:
            return None
        outcome = self._outcomes[index]
        if isinstance(outcome, Outcome):
            return outcome
        value = outcome[0] if outcome is not None else None
        report = self._native.report(index)
        if report is None:  # pragma: no cover - ended tasks have a report
            return None
        kind = report["kind"]
        if index in self._unreadable:
            kind = "failed"
            report["description"] = "failed: " + self._unreadable[index]
            report["reason"] = self._unreadable[index]
        outcome = self._outcomes[index] = Outcome(
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
            peak_memory=report.get("peak_memory"),
            started_at=report.get("started_at"),
        )
        return outcome

    def process_process(self) -> bool:
        """Relays what arrived, finishes the tasks that ended, starts the
        queued ones the CPUs allow, without waiting. Returns True when
        nothing is queued or running any more."""
        self._sync_priority()
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
        native = self._native
        while True:
            self._sync_priority()
            _flush_standard_streams()
            # One turn: what can be done now, else a wait for the next event.
            done = native.wait(None)
            self._after_turn()
            if done:
                return

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until something happens (or ``timeout`` seconds pass),
        then processes the queue; True when nothing is queued or running."""
        self._sync_priority()
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
        return self._outcome(index)

    def outcomes(self) -> Dict[int, Outcome]:
        """The outcome of every task that has ended, by call index."""
        return {index: self._outcome(index) for index in list(self._outcomes)}  # type: ignore[misc]

    def progress(self) -> Tuple[int, int, int]:
        """``(completed, running, total)``, the callbacks' arguments (in a
        callback, those it was called with)."""
        if self._in_callback is not None:
            return self._in_callback
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
        ``DUMMYMP_*`` constants (a :class:`Priority`), its name, or the
        number of a mode of one's own, made as the original's guide shows:
        an entry in each of ``dummymp.config``'s tables
        ``DUMMYMP_THRESHOLD`` (the CPU % above which another process
        counts), ``DUMMYMP_MINTERVAL`` (the sampling interval, s),
        ``DUMMYMP_MREFRESH`` (how often it measures again, s) and
        ``DUMMYMP_STRING`` (its name). What those tables do not say (whether
        one task runs anyway when no CPU is free, the memory kept free,
        yielding to load that appears) follows the built-in mode nearest to
        its number on the politer side (the higher numbers). The tables are
        read again whenever the queue is processed. Raises ``ValueError``
        for a number with no entry in the tables."""
        number = _mode_number(mode)
        self._apply_priority(number)
        self._mode = number

    def _apply_priority(self, number: int) -> None:
        """Hands mode ``number``, as the tables say it now, to the engine
        (unless it has it already)."""
        entry = config._mode_entry(number)
        if entry is None:
            raise ValueError(
                "%r is no priority mode: use DUMMYMP_GENEROUS, DUMMYMP_NORMAL, "
                "DUMMYMP_AGGRESSIVE, DUMMYMP_EXTREME or DUMMYMP_NUCLEAR, or give a mode of "
                "your own an entry in each of dummymp.config's tables DUMMYMP_THRESHOLD, "
                "DUMMYMP_MINTERVAL, DUMMYMP_MREFRESH and DUMMYMP_STRING" % (number,)
            )
        if (number, entry) == self._mode_applied:
            return
        if entry == config._BUILT_IN.get(number):
            self._native.priority = Priority(number).name.lower()
        else:
            threshold, sample, refresh, name = entry
            rules = _politer_built_in(number)
            if threshold == float("inf"):
                # Counts nobody: never measures, so its intervals do not matter.
                sample, refresh = sample or 0.1, refresh or 1.0
            elif not refresh:
                raise ValueError(
                    "DUMMYMP_MREFRESH[%r] is %r: a mode that measures other processes' "
                    "load needs a re-measure interval in seconds" % (number, refresh)
                )
            self._native.set_custom_priority(
                str(name), float(threshold), float(sample), float(refresh), rules.name.lower()
            )
        self._mode_applied = (number, entry)

    def _sync_priority(self) -> None:
        """Takes in what was changed in the tables of the current mode."""
        try:
            self._apply_priority(self._mode)
        except ValueError:
            # The entry was removed or broken since: the mode set before stays.
            pass

    def get_priority_mode(self) -> Union[Priority, int]:
        """The priority mode (NORMAL by default): a :class:`Priority`, or
        the number of a mode of one's own."""
        try:
            return Priority(self._mode)
        except ValueError:
            return self._mode

    def set_start_callback(self, callback: Optional[ProgressCallback]) -> None:
        """Calls ``callback(total_completed, total_running, total_queued_ever)``
        each time a task starts (it counts as running)."""
        self._on_start = callback

    def set_end_callback(self, callback: Optional[ProgressCallback]) -> None:
        """Calls ``callback(total_completed, total_running, total_queued_ever)``
        each time a task ends, however it ended (it counts as completed)."""
        self._on_end = callback

    def set_args_deepcopy(self, tf: bool) -> None:
        """Whether :meth:`run` deep-copies the arguments (True, the
        default), so that changes made to them after :meth:`run` do not
        reach the task. An argument that cannot be copied (a lock, an open
        file) is passed as it is. Off, the task sees the arguments as they
        are when it starts. (A task that is not a fresh copy of this
        process gets its arguments pickled at :meth:`run`, a copy either
        way.)"""
        self._args_deepcopy = bool(tf)

    def set_kwargs_deepcopy(self, tf: bool) -> None:
        """The same as :meth:`set_args_deepcopy`, for keyword arguments."""
        self._kwargs_deepcopy = bool(tf)

    def set_reuse_workers(self, reuse: bool) -> None:
        """Whether a worker runs task after task (True) instead of one fresh
        copy of this process per task (False, the default, as the
        original's tasks were). A reused worker is a copy of this process
        made at its first task (a fresh interpreter with ``spawn`` or
        Slurm), so it saves a fork per task; but it keeps what its tasks
        change (module globals, environment variables) from one task to the
        next, it does not see what this program changes after it was made,
        and calls reach it pickled: lambdas, nested functions and functions
        defined after it was made fail (by reference, as
        ``multiprocessing.Pool`` sends them), unless cloudpickle is
        installed. Applies to tasks queued from now on. Idle workers end
        with :meth:`killall`, :meth:`reset` or the program."""
        self._native.reuse_workers = bool(reuse)

    def get_reuse_workers(self) -> bool:
        return self._native.reuse_workers

    def set_start_method(self, method: str) -> None:
        """How tasks queued from now on start: ``"fork"`` (the default: a
        copy of this process, made when the task starts) or ``"spawn"``
        (a fresh interpreter that imports the function by module and name,
        running the main script again as ``__mp_main__``, as
        ``multiprocessing``'s spawn does: for programs with threads whose
        locks a copy must not inherit). Under Slurm tasks always start in
        fresh interpreters."""
        if method not in START_METHODS:
            raise ValueError("no start method is called %r (fork, spawn)" % (method,))
        self._start_method = method

    def get_start_method(self) -> str:
        return self._start_method

    def set_capacity(self, capacity: int) -> None:
        """How many tasks may run at once on an idle machine (0, the default:
        one per usable CPU). Raise it for tasks that mostly wait."""
        self._native.capacity = int(capacity)

    def get_capacity(self) -> int:
        return self._native.capacity

    def set_output_mode(self, mode: str) -> None:
        """Where the output of tasks queued from now on goes:
        ``"untagged"`` (the default: this process's standard output and
        error, whole lines, as the original's tasks printed), ``"tagged"``
        (each line prefixed ``[PID n] ``), or ``"captured"`` (kept in the
        task's :class:`Outcome`, ``stdout`` and ``stderr``). Log records
        keep their ``[PID n]`` tag in every mode."""
        self._native.output_mode = mode

    def get_output_mode(self) -> str:
        return self._native.output_mode

    def set_kill_grace(self, seconds: float) -> None:
        """Seconds between SIGTERM and SIGKILL when a task is ended
        (default 1)."""
        self._native.kill_grace = float(seconds)

    def get_kill_grace(self) -> float:
        return self._native.kill_grace

    def set_nice(self, increment: Optional[int]) -> None:
        """Runs tasks ``increment`` nicer than this process (``None``, the
        default: as nice as this process; clamped to -20..19): the
        command-line tool's ``--nice``."""
        self._native.nice = None if increment is None else int(increment)

    def get_nice(self) -> Optional[int]:
        return self._native.nice

    def set_start_delay(self, seconds: Optional[float]) -> None:
        """Starts tasks at least ``seconds`` apart (``None``, the default:
        as fast as the scheduler allows): the command-line tool's
        ``--delay``."""
        self._native.start_delay = None if seconds is None else float(seconds)

    def get_start_delay(self) -> Optional[float]:
        return self._native.start_delay

    def set_memory_per_task(self, nbytes: Optional[int]) -> None:
        """States how much memory each task needs, in bytes (``None``, the
        default: learned from the peaks of finished tasks of the same
        function): a task starts only when that much is available beyond
        the priority mode's reserve. The command-line tool's ``--memfree``;
        a task's own ``memory`` (:meth:`run_with`) overrides it."""
        if nbytes is not None and int(nbytes) < 0:
            raise ValueError("a task cannot need %r bytes" % (nbytes,))
        self._native.memory_per_task = None if nbytes is None else int(nbytes)

    def get_memory_per_task(self) -> Optional[int]:
        return self._native.memory_per_task

    def set_task_options(
        self,
        timeout: Optional[float] = None,
        retries: int = 0,
        cpus: int = 1,
        memory: Optional[int] = None,
    ) -> None:
        """The options of tasks queued without options of their own (see
        :meth:`run_with`): like the command-line tool's ``--timeout`` and
        ``--retries``."""
        self._native.set_task_options(timeout, int(retries), int(cpus), memory)

    def get_task_options(self) -> Dict[str, Any]:
        """``{"timeout": ..., "retries": ..., "cpus": ..., "memory": ...}``."""
        timeout, retries, cpus, memory = self._native.task_options()
        return {"timeout": timeout, "retries": retries, "cpus": cpus, "memory": memory}

    def set_launcher(
        self,
        launcher: str,
        *,
        job_name: Optional[str] = None,
        cpus_per_task: Optional[int] = None,
        srun_args: Iterable[str] = (),
    ) -> None:
        """Where tasks queued from now on start: ``"local"`` (the default)
        or ``"slurm"``: as job steps of the Slurm allocation this program
        runs in (``srun``, with ``job_name``, ``cpus_per_task`` and
        ``srun_args`` when given), each in a fresh interpreter on its node,
        since a node has no copy of this process. Raises ``ValueError``
        where there is no Slurm (no ``srun`` on ``PATH``)."""
        self._native.set_launcher(launcher, job_name, cpus_per_task, [str(a) for a in srun_args])

    def get_launcher(self) -> str:
        return self._native.launcher()

    # ---- CPUs

    def getCPUAvail(self) -> int:
        """How many tasks may run under the priority mode, the process cap
        aside (blocks for one sampling interval, 0.1 s to 0.5 s, unless a
        fresh measurement exists)."""
        self._sync_priority()
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
        mode = self.get_priority_mode()
        return "<DummyMP %s, max_processes=%d: %d of %d completed, %d running>" % (
            getattr(mode, "name", mode), self.get_max_processes(), completed, total, running
        )
