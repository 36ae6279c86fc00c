"""Shared fixtures: a fresh default queue (the original's module-level
API) or a fresh DummyMP for each test, foreign load on one CPU, and
scenarios run on that CPU alone."""

import ast
import os
import select
import signal
import subprocess
import sys
import textwrap

import pytest

import dummymp

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture
def dmp():
    """The module-level API, reset before and after the test."""
    dummymp.reset()
    yield dummymp
    dummymp.reset()


@pytest.fixture
def mp():
    """A DummyMP of its own, in NUCLEAR mode (so that the load of other
    programs on the test machine cannot hold tasks back); its tasks end with
    the test."""
    with dummymp.DummyMP() as queue:
        queue.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        yield queue


class ForeignLoad:
    """Busy loops on one CPU that dummymp counts as foreign load: started
    through a shell that exits at once (so they are no descendants of the
    tests, which dummymp would count as its own), each in a session of its
    own, pinned to ``cpu``."""

    def __init__(self, cpu, count):
        self.cpu = cpu
        script = (
            "for i in $(seq %d); do setsid taskset -c %d sh -c 'while :; do :; done' "
            "</dev/null >/dev/null 2>&1 & echo $!; done" % (count, cpu)
        )
        out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
        self.pids = [int(line) for line in out.split()]
        # setsid and taskset exec the loop under the same pid: wait until
        # each pid runs the loop itself.
        for pid in self.pids:
            while _comm(pid) not in ("sh", None):
                os.sched_yield()

    def stop(self):
        """Kills the loops and waits until they are gone."""
        for pid in self.pids:
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                select.select([pidfd], [], [], 30)
            finally:
                os.close(pidfd)
        self.pids = []


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


@pytest.fixture
def foreign_load():
    """Two busy loops on one usable CPU (see :class:`ForeignLoad`); a
    scenario run on that CPU alone (:func:`run_on_cpu`) finds it fully busy,
    whatever else the machine runs."""
    load = ForeignLoad(min(os.sched_getaffinity(0)), 2)
    yield load
    load.stop()


def run_on_cpu(cpu, code, **kwargs):
    """Starts ``code`` (a Python script) in a process allowed on ``cpu``
    only; returns the Popen (text, pipes)."""
    script = "import os\nos.sched_setaffinity(0, {%d})\n%s" % (cpu, textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
        **kwargs,
    )


def read_report(lines, until=None):
    """Reads ``key value`` lines (values are Python literals, or else
    strings) into a dict,
    until the line ``until`` (or the end)."""
    report = {}
    for line in lines:
        line = line.rstrip("\n")
        if line == until:
            return report
        key, _, value = line.partition(" ")
        try:
            report[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            report[key] = value
    assert until is None, "the scenario ended before %r: %r" % (until, report)
    return report


def run_script(path, *args, timeout=120, env=None):
    """Runs a Python script; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, path, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
