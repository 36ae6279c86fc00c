"""Running one contender of a benchmark scenario and taking its result:
the helpers bench/runner.py and bench/politeness.py share. Standard library
only.
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(message):
    """Progress, on standard error."""
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def rotated(items, round_index):
    """``items`` rotated by the round number: each takes its turn first."""
    k = round_index % len(items)
    return items[k:] + items[:k]


class Failure(Exception):
    """A contender did not produce a result."""


def run_json(cmd, timeout=600, env=None):
    """Runs a benchmark program and returns (its JSON line, wall seconds)."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        raise Failure("timed out after %d s" % timeout)
    wall = time.perf_counter() - t0
    lines = [line for line in done.stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise Failure("exit %d: %s" % (done.returncode, " / ".join(tail)))
    return json.loads(lines[-1]), wall


def time_shell(cmd, timeout=600):
    """Wall time of a shell command line, by this script's clock."""
    t0 = time.perf_counter()
    done = subprocess.run(
        ["bash", "-c", cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-2:]
        raise Failure("exit %d: %s" % (done.returncode, " / ".join(tail)))
    return wall


# ---------------------------------------------------------------- the runner


def strip(contenders):
    """What the report needs to know of each contender."""
    return [{k: c.get(k) for k in ("name", "show", "kind", "note", "skip")} for c in contenders]
