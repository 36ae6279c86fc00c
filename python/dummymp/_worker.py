"""The worker's side: what runs a task.

By default a task is a copy of the parent made by ``fork`` when it starts
(the engine forks; ``src/fork.rs`` says what Python needs around it): the
copy calls :meth:`ForkSide.child`, which forgets the parent's queues and
returns :func:`serve_forked_call`, and finds its call (function and
arguments) in its copy of the parent's memory. A reused worker forked from
the parent gets later calls pickled, as :func:`serve_call` runs them.

A fresh interpreter (under Slurm, or with the ``spawn`` start method) is
started by the engine as ``python -c`` (see ``_pickling.worker_command``): it
hands :func:`serve_call` to the engine's worker loop, which runs one call
(or, with reused workers, call after call) and relays its output and log
records to the parent.

For each pickled call the worker

1. prepares itself: the parent's ``sys.path``, ``sys.argv`` and working
   directory; and, the first time a call names something of the parent's
   main script, that script run as ``__mp_main__`` (and made
   ``__main__``) so that its functions and classes can be unpickled;
2. unpickles the function and its arguments;
3. routes the root logger to the parent (as the original did: its handlers
   replaced, its level DEBUG; the parent's loggers filter);
4. calls the function, and answers with its pickled value, or the exception
   it raised (printed to standard error as well, as multiprocessing did).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import logging
import os
import pickle
import sys
import traceback
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

if TYPE_CHECKING:
    from typing import Any, Dict, Tuple

# True while the parent's main script runs here: queueing work then is a
# script without the ``if __name__ == "__main__":`` guard.
preparing = False

_prepared = False

# True in a copy of the parent forked for a task.
in_copy = False

# Whether the program was warned that it forks while it runs threads.
_warned_about_threads = False

# The last preparation, as it came (pickled) and as it was read: a reused
# worker's tasks mostly bring the same one.
_last_preparation: Tuple[bytes, Any] = (b"", None)


def main() -> None:
    """Serves the parent's calls; never returns."""
    from . import _native

    # Lines printed by a task reach the parent as they are printed, in
    # order with its log records (standard output is a pipe: Python would
    # buffer it by blocks).
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except Exception:
        pass
    _native.serve(serve_call)


def _describe(error: BaseException) -> str:
    return "%s: %s" % (_type_name(type(error)), error)


def _type_name(kind: type) -> str:
    module = getattr(kind, "__module__", None)
    if module in (None, "builtins", "__main__", "__mp_main__"):
        return kind.__qualname__
    return "%s.%s" % (module, kind.__qualname__)


def _run_main(origin: Dict[str, str]) -> None:
    """Runs the parent's main module here as ``__mp_main__``, and makes it
    ``__main__`` too."""
    path, name = origin.get("path"), origin.get("name")
    if name:
        # A package's __main__ (python -m pytest, say) is the program
        # itself, not a place for task functions: leave it.
        if name == "__main__" or name.endswith(".__main__"):
            return
        spec = importlib.util.find_spec(name)
        if spec is None or not hasattr(spec.loader, "get_code"):
            raise ImportError("cannot find the source of the parent's main module %s" % name)
        code = spec.loader.get_code(name)  # type: ignore[union-attr]
    elif path:
        loader = importlib.machinery.SourceFileLoader("__mp_main__", path)
        spec = importlib.util.spec_from_file_location("__mp_main__", path, loader=loader)
        if spec is None:
            raise ImportError("cannot load the parent's main script %s" % path)
        code = loader.get_code("__mp_main__")
    else:
        return
    module = importlib.util.module_from_spec(spec)
    # Under this name, `if __name__ == "__main__":` does not run again; the
    # module keeps its spec, so relative imports of `python -m` work.
    module.__name__ = "__mp_main__"
    sys.modules["__mp_main__"] = module
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def _prepare(preparation: Dict[str, Any], needs_main: bool) -> None:
    global _prepared, preparing
    sys.path[:] = preparation["sys_path"]
    # A reused worker follows the parent's working directory too (and a
    # task's chdir does not reach the next task).
    if os.getcwd() != preparation["cwd"]:
        os.chdir(preparation["cwd"])
    sys.argv[:] = preparation["sys_argv"]
    if _prepared or not needs_main:
        return
    _prepared = True
    preparing = True
    try:
        _run_main(preparation["main"])
    finally:
        preparing = False


class ForwardingHandler(logging.Handler):
    """Sends each record to the parent, which logs it prefixed
    ``[PID n]`` under the same logger name and level."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        # The parent formats the record; here only the message and any
        # exception text are put together.
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from . import _native

            _native.forward_log(
                record.levelno,
                record.name,
                self.format(record),
                record.pathname,
                record.lineno,
                record.funcName,
            )
        except Exception:
            self.handleError(record)


_handler = ForwardingHandler()


def _route_logging() -> None:
    root = logging.getLogger()
    if root.level == logging.DEBUG and len(root.handlers) == 1 and root.handlers[0] is _handler:
        return
    for handler in list(root.handlers):
        if handler is not _handler:
            root.removeHandler(handler)
    if _handler not in root.handlers:
        root.addHandler(_handler)
    root.setLevel(logging.DEBUG)


def _flush(streams: Any = None) -> None:
    for stream in streams or (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def serve_call(task: int, name: str, payload: bytes) -> Tuple[Any, ...]:
    """Runs one pickled call; answers ``("returned", pickled value)``,
    ``("raised", type, message, traceback)`` or ``("failed", reason)``."""
    global _last_preparation
    try:
        known, preparation = _last_preparation
        if known and payload.startswith(known):
            start = len(known)
        else:
            stream = io.BytesIO(payload)
            preparation = pickle.load(stream)
            start = stream.tell()
            _last_preparation = (payload[:start], preparation)
        # The main script runs here only for a call that names something
        # of it (a pickle names the module of each function and class).
        _prepare(preparation, not _prepared and b"__main__" in payload[start:])
    except BaseException as error:
        return ("failed", "cannot prepare the worker: %s\n%s" % (_describe(error), traceback.format_exc()))
    try:
        function, args, kwargs = pickle.loads(memoryview(payload)[start:])
    except BaseException as error:
        hint = ""
        if isinstance(error, AttributeError) and "__mp_main__" in str(error):
            hint = (
                " (the worker ran the main script as __mp_main__, where code under "
                "`if __name__ == \"__main__\":` does not run: define the function there "
                "at the top level)"
            )
        elif isinstance(error, AttributeError) and in_copy:
            hint = " (this reused worker is a copy of the parent made before it was defined)"
        return ("failed", "cannot unpickle the task %s: %s%s" % (name, _describe(error), hint))
    return _call(function, args, kwargs, name)


def _call(function: Any, args: Any, kwargs: Any, name: str) -> Tuple[Any, ...]:
    """Calls ``function(*args, **kwargs)`` with the root logger routed to
    the parent; answers as :func:`serve_call` does."""
    _route_logging()
    try:
        value = function(*args, **kwargs)
    except BaseException as error:
        # The traceback from the task's own frames on.
        own_frame = error.__traceback__
        frames = own_frame.tb_next if own_frame is not None else None
        text = "".join(traceback.format_exception(type(error), error, frames))
        sys.stderr.write(text)
        return ("raised", _type_name(type(error)), str(error), text)
    finally:
        _flush()
    try:
        return ("returned", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as error:
        return ("failed", "cannot pickle the return value of %s: %s" % (name, _describe(error)))


def serve_forked_call(calls: Dict[int, Any], task: int, name: str, payload: bytes) -> Tuple[Any, ...]:
    """Runs task ``task`` in a copy of the parent: the call the parent
    kept in ``calls`` when the task was queued, or a pickled one (a reused
    worker's later tasks)."""
    if payload:
        return serve_call(task, name, payload)
    call = calls.get(task)
    if call is None:
        return ("failed", "task %d (%s) is not in this copy of the parent" % (task, name))
    function, args, kwargs = call
    return _call(function, args, kwargs, name)


class ForkSide:
    """What a queue's tasks run around the fork of the parent: ``before``
    in the parent, ``child`` in the copy. It holds its queue weakly (the
    queue holds it)."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Any) -> None:
        import weakref

        self._queue = weakref.ref(queue)

    def before(self) -> None:
        """In the parent, just before the fork."""
        _flush((sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))
        _warn_about_threads()

    def child(self) -> Any:
        """In the copy, first thing: returns the function that runs a call."""
        import functools

        queue = self._queue()
        calls = queue._calls if queue is not None else {}
        _become_copy()
        return functools.partial(serve_forked_call, calls)


def _warn_about_threads() -> None:
    """Warns once when the program runs Python threads of its own at a
    fork: the copy has only the thread that forked, and a lock another held
    stays locked there (Python 3.12 and later warn about os.fork then
    too). Threads that only called into Python (the engine's) do not
    count."""
    global _warned_about_threads
    threading = sys.modules.get("threading")
    if _warned_about_threads or threading is None:
        return
    current = threading.current_thread()
    others = [
        t.name for t in threading.enumerate()
        if t is not current and type(t).__name__ != "_DummyThread"
    ]
    if not others:
        return
    _warned_about_threads = True
    import warnings

    warnings.warn(
        "dummymp forks this process to start a task while it runs other threads (%s): "
        "a task gets a copy of the thread that started it only, and a lock another "
        "thread held at that moment stays locked in the task. Use "
        "dummymp.set_start_method('spawn') if tasks need what those threads hold."
        % ", ".join(others),
        RuntimeWarning,
        stacklevel=2,
    )


class _Inherited:
    """A queue of the parent, as a task forked from it sees it: using it
    raises ``dummymp.Error`` (the copy has the queue's memory, not its
    processes; the parent's call that forked the copy still holds it)."""

    __slots__ = ("_native", "_owner")

    def __init__(self, native: Any) -> None:
        # Kept: the copy must not drop the parent's engine.
        self._native = native
        self._owner = os.getppid()

    def __getattr__(self, name: str) -> Any:
        from ._native import Error

        raise Error(
            "this queue belongs to process %d: a task cannot use its parent's queue (make a "
            "DummyMP of its own, or use the module-level functions, which get a fresh queue "
            "in a task)" % self._owner
        )


def _become_copy() -> None:
    """Sets a copy of the parent right for its task: the main script is
    here already, the parent's queues are not ours to use (the
    module-level functions get a fresh queue), and what the task prints
    goes to its standard output and error (descriptors 1 and 2, which the
    engine relays), line by line, even where the parent had replaced
    ``sys.stdout`` or ``sys.stderr`` (with a ``StringIO``, say, whose copy
    would keep the lines to itself)."""
    global in_copy, _prepared
    in_copy = True
    _prepared = True
    package = sys.modules.get("dummymp")
    if package is not None:
        package._default = None
    queues = sys.modules.get("dummymp._queue")
    if queues is not None:
        for queue in list(queues._live):
            queue._native = _Inherited(queue._native)
    for name in ("stdout", "stderr"):
        original = getattr(sys, "__%s__" % name)
        if original is not None and getattr(sys, name) is not original:
            setattr(sys, name, original)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except Exception:
        pass

