"""The public calls (the original's ``interface.py``)."""

import copy

from . import config
from .taskmgr import process_queue

__version__ = "0.5b1 (Python 3 port for benchmarks)"


def set_max_processes(max_proc):
    """Caps the number of children running at once (0: no cap)."""
    config.max_processes = max_proc


def get_max_processes():
    """The cap on children running at once."""
    return config.max_processes


def set_priority_mode(mode):
    """Sets the priority mode (the re-measure interval is not updated)."""
    config.DUMMYMP_MODE = mode


def get_priority_mode():
    """The priority mode."""
    return config.DUMMYMP_MODE


def set_start_callback(callback):
    """callback(total_completed, total_running, total_procs) at each start."""
    config.PROCESS_START_CALLBACK = callback


def set_end_callback(callback):
    """callback(total_completed, total_running, total_procs) at each end."""
    config.PROCESS_END_CALLBACK = callback


def get_version():
    """The version string."""
    return __version__


def get_returns():
    """Returns received so far, by call index."""
    return config.dummymp_rets


def killall():
    """Terminates the running children (without waiting for them)."""
    while len(config.dummymp_procs) != 0:
        dummymp_proc = config.dummymp_procs[0]
        try:
            dummymp_proc.terminate()
        except Exception:
            pass
        process_queue()
        pi = config.dummymp_procs.index(dummymp_proc)
        config.dummymp_queues.pop(pi)
        config.dummymp_procs.pop(pi)
        config.total_completed += 1
        config.total_running -= 1
        if config.PROCESS_END_CALLBACK:
            config.PROCESS_END_CALLBACK(
                config.total_completed, config.total_running, config.total_procs
            )


def reset():
    """killall, then every setting and all state back to the defaults."""
    killall()
    config.reinit()


def set_args_deepcopy(tf):
    """Whether run() deep-copies positional arguments."""
    config.DUMMYMP_ARGS_DEEPCOPY = tf


def set_kwargs_deepcopy(tf):
    """Whether run() deep-copies keyword arguments."""
    config.DUMMYMP_KWARGS_DEEPCOPY = tf


def run(func, *args, **kwargs):
    """Queues func(*args, **kwargs)."""
    if config.DUMMYMP_ARGS_DEEPCOPY:
        final_args_tuple = copy.deepcopy(args)
    else:
        final_args_tuple = args
    if config.DUMMYMP_KWARGS_DEEPCOPY:
        final_kwargs = copy.deepcopy(kwargs)
    else:
        final_kwargs = kwargs
    final_args = list(final_args_tuple)
    config.dummymp_start_procs.append([config.total_procs, func, final_args, final_kwargs])
    config.total_procs += 1
