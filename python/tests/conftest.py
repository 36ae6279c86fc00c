"""Shared fixtures: a fresh default queue (the original's module-level
API) or a fresh DummyMP for each test, foreign load fed to dummymp or made
by busy loops on one CPU, scenarios run in processes of their own, and
their output read with a deadline."""

import ast
import os
import queue
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import dummymp

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# How long a test waits for what should happen before it fails (instead of
# hanging): generous, so that a slow machine never fails a test.
PATIENCE = 60


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
    own, pinned to ``cpu``. Each ends by itself once the test process is
    gone (it looks for ``/proc/PID`` at every turn), so that a test run
    killed before it could stop them leaves no busy loop behind."""

    def __init__(self, cpu, count):
        self.cpu = cpu
        script = (
            "for i in $(seq %d); do setsid taskset -c %d sh -c 'while [ -e /proc/%d ]; do :; done' "
            "</dev/null >/dev/null 2>&1 & echo $!; done" % (count, cpu, os.getpid())
        )
        out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
        self.pids = [int(line) for line in out.split()]
        # setsid and taskset exec the loop under the same pid: wait until
        # each pid runs the loop itself.
        deadline = time.monotonic() + PATIENCE
        for pid in self.pids:
            while _comm(pid) not in ("sh", None):
                assert time.monotonic() < deadline, "loop %d never started" % pid
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


class FedLoad:
    """Foreign load fed to dummymp instead of measured: a file that a
    scenario started with :meth:`env` reads at each of its load
    measurements (``DUMMYMP_LOAD_SOURCE``, one ``PID NAME PERCENT`` line
    per foreign process). What the scenario's scheduler sees is then what
    the test says, whatever else the machine runs."""

    def __init__(self, directory):
        self.path = os.path.join(str(directory), "load")
        self.set_busy(0)

    def set_busy(self, cpus):
        """From now on, ``cpus`` foreign busy loops (0: a quiet machine).
        The file is replaced whole, never read half-written."""
        text = "".join("%d fed-loop 100\n" % (5000000 + i) for i in range(1, cpus + 1))
        with open(self.path + ".next", "w") as f:
            f.write(text)
        os.replace(self.path + ".next", self.path)

    def env(self):
        """The environment of a scenario that reads this load."""
        return dict(os.environ, DUMMYMP_LOAD_SOURCE=self.path)


@pytest.fixture
def fed_load(tmp_path):
    """A quiet machine, as fed to scenarios (see :class:`FedLoad`)."""
    return FedLoad(tmp_path)


def run_on_cpu(cpu, code, **kwargs):
    """Starts ``code`` (a Python script) in a process allowed on ``cpu``
    only; returns the Popen (text, pipes)."""
    script = "import os\nos.sched_setaffinity(0, {%d})\n%s" % (cpu, textwrap.dedent(code))
    return run_scenario(script, **kwargs)


def run_scenario(code, **kwargs):
    """Starts ``code`` (a Python script) in a process of its own; returns
    the Popen (text, pipes)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
        **kwargs,
    )


class Lines:
    """The lines of a stream, read on a thread of their own so that each
    wait for one has a deadline."""

    def __init__(self, stream):
        self._lines = queue.Queue()
        thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        thread.start()

    def _read(self, stream):
        for line in iter(stream.readline, ""):
            self._lines.put(line)
        self._lines.put(None)

    def next(self, what, timeout=PATIENCE):
        """The next line; fails the test, naming ``what`` it waited for,
        after ``timeout`` seconds or at the end of the stream."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail("no line within %s s while waiting for %s" % (timeout, what))
        if line is None:
            pytest.fail("the output ended while waiting for %s" % what)
        return line

    def __iter__(self):
        """Lines up to the end of the stream, each within the deadline."""
        while True:
            try:
                line = self._lines.get(timeout=PATIENCE)
            except queue.Empty:
                pytest.fail("no line within %s s" % PATIENCE)
            if line is None:
                return
            yield line


def finish(scenario, stdin=None):
    """Waits (at most :data:`PATIENCE`) for ``scenario`` to end, killing it
    if it does not; returns its (stdout, stderr)."""
    try:
        return scenario.communicate(stdin, timeout=PATIENCE)
    except subprocess.TimeoutExpired:
        scenario.kill()
        out, err = scenario.communicate()
        pytest.fail("the scenario did not end within %s s: %r %r" % (PATIENCE, out, err))


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
