"""The task functions the Python contenders run (shared by mp_bench.py and
original_bench.py)."""

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
