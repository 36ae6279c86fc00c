"""How a task ended (:class:`Outcome`), and the errors: :class:`Error`,
the package's own, and :class:`TaskError` for a task that did not return
(:class:`TaskTimeoutError`, also a ``TimeoutError``, when it ran past its
timeout)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

from ._native import Error

if TYPE_CHECKING:  # kept out of a worker's start-up
    from typing import Any, List, Literal, Optional

    OutcomeKind = Literal[
        "returned", "raised", "exited", "signaled", "timed_out", "killed", "failed_to_start", "failed"
    ]

_FIELDS = (
    "index", "kind", "description", "pid", "value", "exception", "message", "traceback",
    "code", "signal", "reason", "attempts", "runtime", "stdout", "stderr", "peak_memory",
    "started_at",
)


class Outcome:
    """How task ``index`` ended.

    ``kind`` says what happened; the fields that go with it are set:

    - ``"returned"``: the function returned ``value``.
    - ``"raised"``: it raised; ``exception`` (the type's name, qualified by
      its module unless built in), ``message`` and ``traceback`` (as Python
      prints it, from the worker).
    - ``"exited"``: its worker process exited with ``code`` before the
      function returned (``os._exit``, say).
    - ``"signaled"``: a ``signal`` killed its worker (a crash, the
      out-of-memory killer, somebody's ``kill``).
    - ``"timed_out"``: it ran past its timeout and was ended.
    - ``"killed"``: it was ended on request (``kill``, ``killall``,
      ``reset``, leaving a ``with`` block).
    - ``"failed_to_start"`` / ``"failed"``: its worker could not be started,
      or could not run it (the function or its arguments could not be
      unpickled in the worker, its return value could not be pickled...);
      ``reason`` says why.

    ``description`` is the engine's one-line account (``"raised ValueError:
    bad"``); ``pid`` the process that ran it; ``peak_memory`` the most memory
    it held, in bytes, when known (for a task forked from this process, the
    memory it did not share with it), which the scheduler learns from;
    ``started_at`` when its (last) attempt was started, in seconds since the
    epoch, and ``runtime`` how long it ran, in seconds.
    """

    __slots__ = _FIELDS

    index: int
    kind: OutcomeKind
    description: str
    pid: Optional[int]
    value: Any
    exception: Optional[str]
    message: Optional[str]
    traceback: Optional[str]
    code: Optional[int]
    signal: Optional[int]
    reason: Optional[str]
    attempts: int
    runtime: float
    stdout: bytes
    stderr: bytes
    peak_memory: Optional[int]
    started_at: Optional[float]

    def __init__(
        self,
        index: int,
        kind: OutcomeKind,
        description: str,
        pid: Optional[int] = None,
        value: Any = None,
        exception: Optional[str] = None,
        message: Optional[str] = None,
        traceback: Optional[str] = None,
        code: Optional[int] = None,
        signal: Optional[int] = None,
        reason: Optional[str] = None,
        attempts: int = 1,
        runtime: float = 0.0,
        stdout: bytes = b"",
        stderr: bytes = b"",
        peak_memory: Optional[int] = None,
        started_at: Optional[float] = None,
    ) -> None:
        init = object.__setattr__
        init(self, "index", index)
        init(self, "kind", kind)
        init(self, "description", description)
        init(self, "pid", pid)
        init(self, "value", value)
        init(self, "exception", exception)
        init(self, "message", message)
        init(self, "traceback", traceback)
        init(self, "code", code)
        init(self, "signal", signal)
        init(self, "reason", reason)
        init(self, "attempts", attempts)
        init(self, "runtime", runtime)
        init(self, "stdout", stdout)
        init(self, "stderr", stderr)
        init(self, "peak_memory", peak_memory)
        init(self, "started_at", started_at)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an Outcome cannot be changed")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (Outcome, tuple(getattr(self, n) for n in _FIELDS))

    def __repr__(self) -> str:
        shown = ["%s=%r" % (n, getattr(self, n)) for n in _FIELDS[:11] if getattr(self, n) is not None]
        return "Outcome(%s)" % ", ".join(shown)

    @property
    def ok(self) -> bool:
        """Whether the function returned."""
        return self.kind == "returned"

    def result(self) -> Any:
        """The value the function returned; raises :class:`TaskError` when
        it did not return (:class:`TaskTimeoutError` when it timed out)."""
        if self.ok:
            return self.value
        raise task_error(self)

    def __str__(self) -> str:
        return "task %d %s" % (self.index, self.description)


class TaskError(Error):
    """A task did not return: ``outcome`` says how it ended instead
    (``failed`` lists every failed task of a :func:`map` call, in item
    order; ``outcome`` is the first of them). The message ends with the
    task's traceback when it raised."""

    def __init__(self, outcome: Outcome, failed: Optional[List[Outcome]] = None) -> None:
        self.outcome = outcome
        self.failed = list(failed) if failed else [outcome]
        text = str(outcome)
        if len(self.failed) > 1:
            text += " (and %d more tasks failed)" % (len(self.failed) - 1)
        if outcome.traceback:
            text += "\n\nThe task's traceback:\n" + outcome.traceback.rstrip("\n")
        super().__init__(text)

    def __reduce__(self) -> Any:
        return (TaskError, (self.outcome, self.failed))


class TaskTimeoutError(TaskError, TimeoutError):
    """A task ran past its timeout and was ended (a :class:`TaskError` and
    a ``TimeoutError``)."""

    def __reduce__(self) -> Any:
        return (TaskTimeoutError, (self.outcome, self.failed))


def task_error(outcome: Outcome, failed: Optional[List[Outcome]] = None) -> TaskError:
    """The error for ``outcome``, a task that did not return."""
    kind = TaskTimeoutError if outcome.kind == "timed_out" else TaskError
    return kind(outcome, failed)
