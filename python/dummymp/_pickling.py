"""How a Python call travels to a worker that is not a fresh copy of this
process (a reused worker, or a fresh interpreter: under Slurm, or with the
``spawn`` start method): the payload the parent queues, and the command
that starts a fresh interpreter. (A task forked from this process at its
start needs neither: it finds its call in its copy of this process.)

A payload is two pickles, one after the other:

1. the *preparation*: what the worker needs before it can find the
   function (the parent's ``sys.path``, ``sys.argv`` and working directory
   at ``run``, and where its main module came from: a script's path, or the
   module name of ``python -m``);
2. the call, ``(function, args, kwargs)``.

Functions and classes are pickled by reference (module and qualified name),
as :mod:`multiprocessing` does when it spawns: the worker imports them. Those
of the main script are found because the worker runs the script once as
the module ``__mp_main__`` (so code under ``if __name__ == "__main__":``
does not run again), when the first call that names one of them arrives. Lambdas, nested functions and functions defined in an
interactive session cannot be found that way; they travel by value when
``cloudpickle`` is installed, and are refused otherwise.
"""

from __future__ import annotations

import os
import pickle
import sys
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

if TYPE_CHECKING:  # kept out of a worker's start-up
    from typing import Any, Callable, Dict, List, Optional, Tuple

# What the worker is started as: this interpreter, with this package on
# its path first (so that it loads the very extension module the parent
# loaded, which the worker checks), running the worker's main.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, %r); "
    "from dummymp._worker import main; main()" % _PACKAGE_PARENT
)


_worker_command: Optional[Tuple[str, List[str]]] = None


def worker_command() -> Tuple[str, List[str]]:
    """The program and arguments that start a worker (the engine adds its
    own two arguments after them)."""
    global _worker_command
    if _worker_command is None:
        import subprocess

        try:
            # The interpreter's own options (-O, -X, -W...), passed on as
            # multiprocessing does.
            flags = list(subprocess._args_from_interpreter_flags())  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover - a Python without it
            flags = []
        _worker_command = (sys.executable or "python3", flags + ["-c", _BOOTSTRAP])
    return _worker_command


def main_origin() -> Dict[str, str]:
    """Where the main module came from: ``{"name": ...}`` under ``python -m``,
    ``{"path": ...}`` for a script, ``{}`` for an interactive session,
    ``python -c`` or an embedded interpreter."""
    main = sys.modules.get("__main__")
    if main is None:
        return {}
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if name:
        return {"name": name}
    path = getattr(main, "__file__", None)
    # Not "<stdin>" and the like.
    if path and os.path.isfile(path):
        return {"path": os.path.abspath(path)}
    return {}


# The main module's origin, taken once: a relative path means the working
# directory of the start.
_MAIN = main_origin()
_cached_preparation: Optional[Tuple[Tuple[Any, ...], bytes]] = None


def preparation() -> bytes:
    """The pickled preparation for the current state of this process."""
    global _cached_preparation
    key = (tuple(sys.path), tuple(sys.argv), os.getcwd())
    if _cached_preparation is None or _cached_preparation[0] != key:
        data = {"sys_path": list(key[0]), "sys_argv": list(key[1]), "cwd": key[2], "main": dict(_MAIN)}
        _cached_preparation = (key, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    return _cached_preparation[1]


def _main_is_findable() -> bool:
    """Whether a worker can find what the main module defines."""
    return bool(_MAIN)


def _by_value(call: Tuple[Any, ...], why: str) -> bytes:
    try:
        import cloudpickle  # type: ignore[import-not-found]
    except ImportError:
        raise TypeError(
            "%s; a worker that is not a fresh copy of this process imports functions "
            "by module and name, as multiprocessing does: define it at the top level "
            "of a module or script (not as a lambda, a nested function or in an "
            "interactive session), install cloudpickle to send it by value, or let "
            "each task be a fresh copy of this process (the default, without "
            "set_reuse_workers(True) or set_start_method('spawn'))" % why
        ) from None
    try:
        data: bytes = cloudpickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise TypeError("%s, even by value (cloudpickle: %s)" % (why, _describe(error))) from None
    return data


def _describe(error: BaseException) -> str:
    return "%s: %s" % (type(error).__name__, error)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<%s object>" % type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _unpicklable_part(function: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> str:
    """Which part of a call cannot be pickled, for the refusal: the
    function, or the argument, each named with what pickle said."""
    parts: List[Tuple[str, Any]] = [("the function %s" % _short_repr(function), function)]
    parts += [("argument %d (%s)" % (i, _short_repr(a)), a) for i, a in enumerate(args)]
    parts += [("keyword argument %s=%s" % (k, _short_repr(v)), v) for k, v in kwargs.items()]
    for description, value in parts:
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            return "cannot send %s to a worker: %s" % (description, _describe(error))
    return "cannot send the call of %s to a worker" % _short_repr(function)


def encode_call(
    function: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any], *, fresh_interpreter: bool
) -> bytes:
    """The payload for ``function(*args, **kwargs)``. Raises ``TypeError``
    naming the function or argument that cannot be pickled."""
    call = (function, args, kwargs)
    if (
        fresh_interpreter
        and getattr(function, "__module__", None) == "__main__"
        and not _main_is_findable()
    ):
        body = _by_value(
            call, "cannot send the function %s to a fresh interpreter: it is defined in an "
            "interactive session" % _short_repr(function)
        )
    else:
        try:
            body = pickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            body = _by_value(call, _unpicklable_part(function, args, kwargs))
    return preparation() + body


def task_name(function: Callable[..., Any]) -> str:
    """How logs and reports name a task of ``function``."""
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    return str(name) if name else repr(function)
