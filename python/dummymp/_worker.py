"""The worker process: started by the engine as ``python -c`` (see
``_pickling.worker_command``), it hands :func:`serve_call` to the engine's
worker loop, which runs one call (or, with reused workers, call after call)
and relays its output and log records to the parent.

For each call the worker

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
    for handler in list(root.handlers):
        if handler is not _handler:
            root.removeHandler(handler)
    if _handler not in root.handlers:
        root.addHandler(_handler)
    root.setLevel(logging.DEBUG)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def serve_call(task: int, name: str, payload: bytes) -> Tuple[Any, ...]:
    """Runs one call; answers ``("returned", pickled value)``, ``("raised",
    type, message, traceback)`` or ``("failed", reason)``."""
    stream = io.BytesIO(payload)
    try:
        preparation = pickle.load(stream)
        # The main script runs here only for a call that names something
        # of it (a pickle names the module of each function and class).
        _prepare(preparation, b"__main__" in payload[stream.tell() :])
    except BaseException as error:
        return ("failed", "cannot prepare the worker: %s\n%s" % (_describe(error), traceback.format_exc()))
    try:
        function, args, kwargs = pickle.load(stream)
    except BaseException as error:
        return ("failed", "cannot unpickle the task %s: %s" % (name, _describe(error)))
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

