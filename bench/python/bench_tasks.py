"""The task functions the Python contenders run (shared by mp_bench.py and
original_bench.py). They live in an importable module, not in a script's
``__main__``, so that a library that re-imports its tasks in a fresh
interpreter can find them."""

import time


def identity(i):
    """The trivial task: returns its argument."""
    return i


def burn(seconds):
    """Burns CPU until this process has used ``seconds`` more CPU time."""
    start = time.process_time()
    x = 0
    while time.process_time() - start < seconds:
        for _ in range(1000):
            x += 1
    return time.process_time() - start


def started_at():
    """Returns CLOCK_MONOTONIC as the task starts, in nanoseconds."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def sleep(seconds):
    """Sleeps ``seconds`` and returns them."""
    time.sleep(seconds)
    return seconds
