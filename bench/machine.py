"""What the benchmark runner reads from and starts on the machine: process
facts from /proc, usable CPUs and memory, and the foreign load it creates
(busy loops, a memory hog). Standard library only.
"""

import json
import math
import os
import signal
import subprocess

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- processes


def proc_stat(pid):
    """(comm, state, ppid, CPU ticks, nice, process group) of a process, or
    None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    lpar, rpar = data.index("("), data.rindex(")")
    comm = data[lpar + 1 : rpar]
    fields = data[rpar + 2 :].split()
    # fields[0] is field 3 (state), then ppid and pgrp; utime and stime are
    # fields 14 and 15, nice is field 19.
    return (comm, fields[0], int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[16]),
            int(fields[2]))


def cpu_seconds(pid):
    """CPU time a process has used (all its threads), in seconds."""
    st = proc_stat(pid)
    return None if st is None else st[3] / CLK_TCK


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root, names=None, leaders=False):
    """{pid: (state, nice)} of the descendants of ``root`` whose command
    name is in ``names`` (all of them when ``names`` is None) and, with
    ``leaders``, that lead their process group: dummymp's tasks do, and a
    helper process of the library (such as a fork server) does not."""
    children = {}
    facts = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st is None:
            continue
        facts[pid] = st
        children.setdefault(st[2], []).append(pid)
    found = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        st = facts[pid]
        if (names is None or st[0] in names) and (not leaders or st[5] == pid):
            found[pid] = (st[1], st[4])
        stack.extend(children.get(pid, []))
    return found


def count_tasks(root, names, leaders=False):
    """How many descendants of ``root`` have a command name in ``names``
    (all of them when ``names`` is None), leading their process group with
    ``leaders``."""
    return len(descendants(root, names, leaders))


def kill_session_and(leader, pids):
    """SIGKILLs the session (process group) ``leader`` leads and each of
    ``pids`` (descendants seen earlier, which may lead groups of their own)."""
    for pid in [leader] + list(pids):
        try:
            if pid == leader:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------- CPUs


def usable_cpus():
    """CPUs this process may use: its affinity mask, less what a cgroup CPU
    quota allows (rounded up)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:
        count = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def _cgroup_paths():
    """{controller: path} from /proc/self/cgroup ("" for cgroup v2)."""
    out = {}
    try:
        for line in open("/proc/self/cgroup"):
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except OSError:
        pass
    return out


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup_cpu_quota():
    """The CPUs a cgroup CPU quota allows (a float), or None."""
    paths = _cgroup_paths()
    if "" in paths:
        text = _read("/sys/fs/cgroup%s/cpu.max" % paths[""].rstrip("/"))
        if text and not text.startswith("max"):
            quota, period = text.split()[:2]
            return int(quota) / int(period)
    for key in ("cpu", "cpu,cpuacct"):
        if key in paths:
            base = "/sys/fs/cgroup/%s%s" % (key, paths[key].rstrip("/"))
            quota, period = _read(base + "/cpu.cfs_quota_us"), _read(base + "/cpu.cfs_period_us")
            if quota and period and int(quota) > 0:
                return int(quota) / int(period)
    return None


# ---------------------------------------------------------------- memory


def meminfo():
    """(MemTotal, MemAvailable) in bytes."""
    values = {}
    for line in open("/proc/meminfo"):
        key, rest = line.split(":", 1)
        values[key] = int(rest.split()[0]) * 1024
    return values["MemTotal"], values.get("MemAvailable", values["MemFree"])


def cgroup_memory_limit():
    """The memory limit of this process's cgroup in bytes, or None when
    there is none below the machine's memory."""
    total = meminfo()[0]
    paths = _cgroup_paths()
    candidates = []
    if "" in paths:
        candidates.append("/sys/fs/cgroup%s/memory.max" % paths[""].rstrip("/"))
    if "memory" in paths:
        candidates.append("/sys/fs/cgroup/memory%s/memory.limit_in_bytes" % paths["memory"].rstrip("/"))
    for path in candidates:
        text = _read(path)
        if text and text.isdigit() and int(text) < total:
            return int(text)
    return None


# ---------------------------------------------------------------- foreign load


class ForeignPids:
    """The pids of the foreign processes the runner started (busy loops, a
    memory hog), each leading a session of its own, written to ``pid_file``
    so that run.sh can kill them whatever happens to the runner."""

    def __init__(self, pid_file):
        self.pid_file = pid_file
        self.pids = set()

    def add(self, pid):
        self.pids.add(pid)
        self._write()

    def remove(self, pid):
        self.pids.discard(pid)
        self._write()

    def _write(self):
        with open(self.pid_file, "w") as f:
            f.write("".join("%d\n" % p for p in sorted(self.pids)))


class BusyLoops:
    """Foreign busy loops (``sh -c 'while :; do :; done'``) in sessions of
    their own: not descendants of any contender."""

    def __init__(self, count, registry):
        self.registry = registry
        self.procs = []
        for _ in range(count):
            p = subprocess.Popen(["sh", "-c", "while :; do :; done"], start_new_session=True,
                                 stdin=subprocess.DEVNULL)
            self.procs.append(p)
            registry.add(p.pid)

    def pids(self):
        return [p.pid for p in self.procs]

    def cpu(self):
        return [cpu_seconds(p.pid) for p in self.procs]

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait()
            self.registry.remove(p.pid)
        self.procs = []


class MemoryHog:
    """A foreign program (``memory_hog``) holding ``size`` bytes, resident,
    in a session of its own, until stop(). Waits until it holds them."""

    def __init__(self, program, size, registry):
        self.registry = registry
        self.proc = subprocess.Popen([program, str(size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        registry.add(self.proc.pid)
        line = self.proc.stdout.readline().decode(errors="replace")
        if not line.startswith("{"):
            self.stop()
            raise RuntimeError("the memory hog did not report holding %d bytes" % size)
        self.report = json.loads(line)

    def stop(self):
        """Kills it and waits until it is gone (its memory is freed by then)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.registry.remove(self.proc.pid)
        self.proc = None
