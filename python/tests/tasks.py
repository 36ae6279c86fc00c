"""Task functions for the tests. They live in an importable module (the
tests' folder is on sys.path), as functions a worker imports by name."""

import logging
import os
import sys
import time


def identity(x):
    return x


def square(x):
    return x * x


def add(a, b=0, *, c=0):
    return a + b + c


def nothing():
    """Returns None, which the original kept as a return too."""


def pid():
    return os.getpid()


def pid_of(_):
    return os.getpid()


def append_and_return(items, extra):
    items.append(extra)
    return items


def raises(message):
    raise ValueError(message)


class CustomError(Exception):
    pass


def raises_custom():
    raise CustomError("custom")


def exits(code):
    os._exit(code)


def calls_sys_exit(code):
    sys.exit(code)


def chatty(n):
    """Logs and prints, then returns n."""
    logging.getLogger("tasks.chatty").warning("warned %d", n)
    logging.info("info %d", n)
    logging.debug("debug %d", n)
    logging.critical("critical %d", n)
    print("printed %d" % n)
    print("to stderr %d" % n, file=sys.stderr)
    return n


def logs_many(records, value):
    """Logs ``records`` records, then returns ``value``."""
    log = logging.getLogger("tasks.many")
    for i in range(records):
        log.info("record %d", i)
    return value


def logs_exception():
    try:
        raise KeyError("inner")
    except KeyError:
        logging.exception("caught")
    return "ok"


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def wait_for_fifo(path):
    """Returns what the test writes into the named pipe ``path``, once the
    test closes it (a task that runs until the test lets it go)."""
    with open(path) as fifo:
        return fifo.read()


def unpicklable_return():
    return lambda: None


def getcwd():
    return os.getcwd()


def chdir_and_getcwd(path):
    os.chdir(path)
    return os.getcwd()


def set_global_and_read(value):
    """Sets a module global and returns what it was before."""
    global _state
    before = globals().get("_state")
    _state = value
    return before


# What the fork tests' tasks read: the program's state.
SETTING = 5


def read_setting():
    return SETTING


def bump_state_and_environment():
    """Changes a global and an environment variable, and returns both as
    the task found them."""
    global SETTING
    seen = (SETTING, os.environ.get("DUMMYMP_TEST_COUNTER"))
    SETTING += 1
    os.environ["DUMMYMP_TEST_COUNTER"] = str(int(os.environ.get("DUMMYMP_TEST_COUNTER", "0")) + 1)
    return seen


def uses_the_lock(lock):
    """Takes and gives back a lock it was handed (a lock cannot be pickled)."""
    with lock:
        return "locked and released"


def first_of(iterator):
    return next(iterator)


def queue_of_its_own(values):
    """Uses dummymp itself: a task's own tasks."""
    import dummymp

    dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
    return dummymp.map(square, values)


def uses_the_parents_queue(queue):
    queue.run(square, 2)


def niceness():
    return os.nice(0)


def started_at():
    """CLOCK_MONOTONIC as the task starts (the same clock in every process)."""
    return time.monotonic()
