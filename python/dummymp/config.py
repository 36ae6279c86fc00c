"""``dummymp.config``: the original DummyMP's configuration module, for the
programs that read or set it.

The priority tables, keyed by mode number, are plain dictionaries, as in
the original: ``DUMMYMP_THRESHOLD`` (the CPU use, in % of one CPU, above
which another process counts as load), ``DUMMYMP_MINTERVAL`` (how long a
measurement samples, in seconds), ``DUMMYMP_MREFRESH`` (how often it is
taken again, in seconds; ``False`` for Nuclear, which never measures) and
``DUMMYMP_STRING`` (the names). A mode of one's own is a new number with an
entry in each, then ``dummymp.set_priority_mode(number)``, as the
original's guide shows::

    DUMMYMP_CUSTOM = -3
    dummymp.config.DUMMYMP_THRESHOLD[DUMMYMP_CUSTOM] = 75
    dummymp.config.DUMMYMP_MINTERVAL[DUMMYMP_CUSTOM] = 0.3
    dummymp.config.DUMMYMP_MREFRESH[DUMMYMP_CUSTOM] = 12
    dummymp.config.DUMMYMP_STRING[DUMMYMP_CUSTOM] = "Custom"
    dummymp.set_priority_mode(DUMMYMP_CUSTOM)

The rest is the state of the module-level API's queue, read live:
``max_processes``, ``DUMMYMP_MODE`` and the deep-copy flags
``DUMMYMP_ARGS_DEEPCOPY`` and ``DUMMYMP_KWARGS_DEEPCOPY`` (which can be set
too), ``PROCESS_START_CALLBACK`` and ``PROCESS_END_CALLBACK``, the counters
``total_procs``, ``total_completed`` and ``total_running``, ``CPU_AVAIL``
(the CPUs the last measurement left available, without measuring again)
and ``dummymp_rets`` (the returns). ``dummymp.reset()`` puts the tables
back as they were, as the original's did.
"""

from __future__ import annotations

import sys
import types
TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time

if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

DUMMYMP_GENEROUS = 15
DUMMYMP_NORMAL = 0
DUMMYMP_AGGRESSIVE = -5
DUMMYMP_EXTREME = -10
DUMMYMP_NUCLEAR = -20

# The built-in modes, as (threshold, sampling interval, re-measure
# interval, name): the original's values, which are dummymp's own.
_BUILT_IN: Dict[int, Tuple[Any, ...]] = {
    DUMMYMP_GENEROUS: (20, 0.5, 5, "Generous"),
    DUMMYMP_NORMAL: (30, 0.35, 10, "Normal"),
    DUMMYMP_AGGRESSIVE: (50, 0.2, 20, "Aggressive"),
    DUMMYMP_EXTREME: (80, 0.1, 30, "Extreme"),
    DUMMYMP_NUCLEAR: (float("inf"), 0.1, False, "Nuclear"),
}

DUMMYMP_THRESHOLD: Dict[int, Any] = {}
DUMMYMP_MINTERVAL: Dict[int, Any] = {}
DUMMYMP_MREFRESH: Dict[int, Any] = {}
DUMMYMP_STRING: Dict[int, Any] = {}


def _restore_tables() -> None:
    """Puts the four tables back as the built-in modes have them (new
    dictionaries, as the original's ``reload(config)`` made)."""
    module = sys.modules[__name__]
    for position, table in enumerate(("DUMMYMP_THRESHOLD", "DUMMYMP_MINTERVAL", "DUMMYMP_MREFRESH", "DUMMYMP_STRING")):
        module.__dict__[table] = {mode: entry[position] for mode, entry in _BUILT_IN.items()}


_restore_tables()


def _mode_entry(number: int) -> Optional[Tuple[Any, ...]]:
    """Mode ``number`` as the tables say it now: ``(threshold, sampling
    interval, re-measure interval, name)``; None unless every table has it."""
    module = sys.modules[__name__].__dict__
    try:
        return (
            module["DUMMYMP_THRESHOLD"][number],
            module["DUMMYMP_MINTERVAL"][number],
            module["DUMMYMP_MREFRESH"][number],
            module["DUMMYMP_STRING"][number],
        )
    except (KeyError, TypeError):
        return None


def _queue() -> Any:
    from . import default

    return default()


class _Config(types.ModuleType):
    """The module, with the module-level queue's state as attributes."""

    @property
    def max_processes(self) -> int:
        return _queue().get_max_processes()

    @max_processes.setter
    def max_processes(self, value: int) -> None:
        _queue().set_max_processes(value)

    @property
    def DUMMYMP_MODE(self) -> int:
        return int(_queue().get_priority_mode())

    @DUMMYMP_MODE.setter
    def DUMMYMP_MODE(self, value: int) -> None:
        _queue().set_priority_mode(value)

    @property
    def DUMMYMP_ARGS_DEEPCOPY(self) -> bool:
        return _queue()._args_deepcopy

    @DUMMYMP_ARGS_DEEPCOPY.setter
    def DUMMYMP_ARGS_DEEPCOPY(self, value: bool) -> None:
        _queue().set_args_deepcopy(value)

    @property
    def DUMMYMP_KWARGS_DEEPCOPY(self) -> bool:
        return _queue()._kwargs_deepcopy

    @DUMMYMP_KWARGS_DEEPCOPY.setter
    def DUMMYMP_KWARGS_DEEPCOPY(self, value: bool) -> None:
        _queue().set_kwargs_deepcopy(value)

    @property
    def PROCESS_START_CALLBACK(self) -> Any:
        return _queue()._on_start

    @PROCESS_START_CALLBACK.setter
    def PROCESS_START_CALLBACK(self, value: Any) -> None:
        _queue().set_start_callback(value)

    @property
    def PROCESS_END_CALLBACK(self) -> Any:
        return _queue()._on_end

    @PROCESS_END_CALLBACK.setter
    def PROCESS_END_CALLBACK(self, value: Any) -> None:
        _queue().set_end_callback(value)

    @property
    def total_procs(self) -> int:
        """Tasks queued since the last reset."""
        return _queue().progress()[2]

    @property
    def total_completed(self) -> int:
        """Tasks that ended since the last reset."""
        return _queue().progress()[0]

    @property
    def total_running(self) -> int:
        """Tasks running now."""
        return _queue().progress()[1]

    @property
    def CPU_AVAIL(self) -> int:
        """CPUs the last measurement left available (not measuring again:
        ``dummymp.getCPUAvail()`` does)."""
        return _queue()._native.last_cpu_avail()

    @property
    def dummymp_rets(self) -> Dict[int, Any]:
        """The returns, by call index (``dummymp.get_returns()``)."""
        return _queue().get_returns()


sys.modules[__name__].__class__ = _Config
