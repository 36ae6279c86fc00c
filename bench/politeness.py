"""The politeness scenarios that watch the library react while it runs
(6a: foreign load appears while our tasks run; 6b: how soon Generous starts
after the foreign load goes away; 6c: memory admission next to a memory
hog). Called by bench/runner.py with the runner, which knows the binaries,
the environment and where foreign pids are recorded. Standard library only.
"""

import json
import random
import subprocess
import time

from harness import ROOT, Failure, log, rotated, strip
from machine import BusyLoops, MemoryHog, cgroup_memory_limit, descendants, kill_session_and, meminfo, proc_stat

MIB = 1 << 20


# ---------------------------------------------------------------- 6a


def yield_while_running(runner, n, z):
    """``n`` CPU-bound tasks start on an idle machine with ``n`` usable CPUs;
    once all run, ``n`` foreign busy loops start. Watches when our tasks are
    reniced or paused and what share of a core the loops get before and
    after."""
    contenders = [
        {"name": "dummymp (library), %s" % mode,
         "cmd": [runner.b("cpu_bound"), mode, str(n), str(z["seconds"]), "0"],
         "show": "cpu_bound %s %d %s 0" % (mode, n, z["seconds"]), "kind": "ours"}
        for mode in ("normal", "generous", "nuclear")
    ]
    cases = []
    for r in range(z["rounds"]):
        for c in rotated(contenders, r):
            log("s6a round %d/%d: %s" % (r + 1, z["rounds"], c["name"]))
            try:
                result = _yield_once(runner, c, n, z)
            except Failure as e:
                result = {"error": str(e)}
                log("  failed: %s" % e)
            result.update({"round": r, "name": c["name"]})
            cases.append(result)
    return {"sizes": z, "cpus": n, "loops": n, "contenders": strip(contenders), "cases": cases}


def _task_facts(pids):
    """(running, stopped, reniced) among our task processes ``pids``."""
    running = stopped = reniced = 0
    for pid in pids:
        st = proc_stat(pid)
        if st is None:
            continue
        if st[1] in "Tt":
            stopped += 1
        elif st[1] != "Z":
            running += 1
        if st[4] > 0:
            reniced += 1
    return running, stopped, reniced


def _yield_once(runner, c, n, z):
    p = subprocess.Popen(c["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=runner.env, cwd=ROOT, start_new_session=True)
    loops = None
    tasks = {}
    try:
        t0 = time.perf_counter()
        # Our tasks are the contender's descendants that lead a process
        # group (a fresh worker each; not a helper such as a fork server).
        while p.poll() is None and time.perf_counter() - t0 < 20:
            tasks = descendants(p.pid, leaders=True)
            if sum(1 for state, _ in tasks.values() if state not in "TtZ") >= n:
                break
            time.sleep(0.05)
        if p.poll() is not None:
            raise Failure("it ended before its tasks ran: %s" % p.stderr.read().decode(errors="replace")[-300:])
        all_running_s = time.perf_counter() - t0
        pids = list(tasks)
        time.sleep(z["settle"])
        loops = BusyLoops(n, runner.foreign)
        tl = time.perf_counter()
        samples = []
        while True:
            now = time.perf_counter() - tl
            loop_cpu = sum(x or 0.0 for x in loops.cpu())
            running, stopped, reniced = _task_facts(pids)
            samples.append({"t": now, "loops_cpu": loop_cpu, "running": running, "stopped": stopped,
                            "reniced": reniced})
            if now >= z["observe"] or p.poll() is not None:
                break
            time.sleep(0.1)
        ended_early = p.poll() is not None
        loops.stop()
        stopped_at = time.perf_counter()
        continued = None
        if samples[-1]["stopped"] and not ended_early:
            while time.perf_counter() - stopped_at < 10:
                if _task_facts(pids)[1] == 0:
                    continued = time.perf_counter() - stopped_at
                    break
                time.sleep(0.05)
        result = _yield_summary(samples, n, z)
        result.update({"tasks": len(pids), "all_running_s": all_running_s, "continued_after_s": continued,
                       "ended_early": ended_early})
        return result
    finally:
        if loops is not None:
            loops.stop()
        kill_session_and(p.pid, tasks)
        p.communicate()


def _share(samples, a, b, loops):
    """The loops' mean share of a core between the samples nearest to
    ``a`` and ``b`` seconds after they started."""
    if b - a < 0.5:
        return None
    first = min(samples, key=lambda s: abs(s["t"] - a))
    last = min(samples, key=lambda s: abs(s["t"] - b))
    if last["t"] - first["t"] <= 0:
        return None
    return (last["loops_cpu"] - first["loops_cpu"]) / (last["t"] - first["t"]) / loops


def _yield_summary(samples, loops, z):
    end = samples[-1]["t"]
    reaction = next((s["t"] for s in samples if s["stopped"] or s["reniced"]), None)
    before = _share(samples, 0.0, reaction if reaction is not None else end, loops)
    after = _share(samples, reaction + z["after_settle"], end, loops) if reaction is not None else None
    return {
        "observed_s": end,
        "reaction_s": reaction,
        "share_before": before,
        "share_after": after,
        "share_tail": _share(samples, end - z["tail"], end, loops),
        "max_stopped": max(s["stopped"] for s in samples),
        "max_reniced": max(s["reniced"] for s in samples),
        "stopped_at_end": samples[-1]["stopped"],
        "running_at_end": samples[-1]["running"],
    }


# ---------------------------------------------------------------- 6b


def start_after_load(runner, n, z):
    """Every one of the ``n`` usable CPUs is busy with a foreign loop;
    Generous waits with ``n`` tasks queued; the loops are killed at a random
    moment after ``wait`` s and the time until the first task starts is
    taken (both clocks are CLOCK_MONOTONIC)."""
    s = z["seconds"]
    inputs = [str(i) for i in range(1, n + 1)]
    contenders = [
        {"name": "dummymp (library), generous", "cmd": [runner.b("start_times"), "generous", str(n), str(s)],
         "show": "start_times generous %d %s" % (n, s), "kind": "ours", "names": None, "leaders": True},
        {"name": "dummymp CLI, generous",
         "cmd": [runner.cli or "dummymp", "--priority", "generous", "stamp", str(s), ":::"] + inputs,
         "show": "dummymp --priority generous stamp %s ::: %s" % (s, " ".join(inputs)), "kind": "ours",
         "skip": runner.cli_skip, "names": {"stamp"}, "leaders": False},
    ]
    active = [c for c in contenders if not c.get("skip")]
    cases = []
    for r in range(z["rounds"]):
        for rep in range(z["reps"]):
            for c in rotated(active, r + rep):
                log("s6b round %d/%d, repetition %d/%d: %s" % (r + 1, z["rounds"], rep + 1, z["reps"], c["name"]))
                try:
                    result = _start_after_load_once(runner, c, n, z)
                except Failure as e:
                    result = {"error": str(e)}
                    log("  failed: %s" % e)
                result.update({"round": r, "rep": rep, "name": c["name"]})
                cases.append(result)
    return {"sizes": z, "cpus": n, "loops": n, "contenders": strip(contenders), "cases": cases,
            "skipped": {c["name"]: c["skip"] for c in contenders if c.get("skip")}}


def _start_times(c, out):
    """The tasks' start times (ns, CLOCK_MONOTONIC) from a contender's
    standard output."""
    text = out.decode(errors="replace")
    if c["names"] is None:
        lines = [x for x in text.splitlines() if x.startswith("{")]
        if not lines:
            return []
        return [t for t in json.loads(lines[-1])["starts_ns"] if t is not None]
    return [int(x) for x in text.split() if x.isdigit()]


def _start_after_load_once(runner, c, n, z):
    loops = BusyLoops(n, runner.foreign)
    p = None
    try:
        time.sleep(0.5)
        p = subprocess.Popen(c["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             env=runner.env, cwd=ROOT, start_new_session=True)
        # A random phase against the library's 0.5 s sampling interval.
        time.sleep(z["wait"] + random.uniform(0.0, 0.5))
        running_before = len(descendants(p.pid, c["names"], c["leaders"]))
        stopped_ns = time.monotonic_ns()
        loops.stop()
        try:
            out, err = p.communicate(timeout=60 + n * z["seconds"])
        except subprocess.TimeoutExpired:
            raise Failure("no task ended within 60 s of the loops ending")
        if p.returncode != 0:
            raise Failure("exit %d: %s" % (p.returncode, err.decode(errors="replace")[-300:]))
        starts = sorted(_start_times(c, out))
        if len(starts) != n:
            raise Failure("%d of %d tasks reported their start" % (len(starts), n))
        return {
            "first_start_s": (starts[0] - stopped_ns) / 1e9,
            "all_started_s": (starts[-1] - stopped_ns) / 1e9,
            "started_before": sum(1 for t in starts if t < stopped_ns),
            "running_before": running_before,
        }
    finally:
        loops.stop()
        if p is not None and p.poll() is None:
            kill_session_and(p.pid, descendants(p.pid))
            p.wait()


# ---------------------------------------------------------------- 6c


def task_memory(total):
    """The memory each task needs and states: 1/64 of the machine's, at
    least 64 MiB and at most 1 GiB, in whole MiB."""
    return max(64 * MIB, min(1024 * MIB, total // 64 // MIB * MIB))


# The cases of 6c: (name, tasks' room the hog leaves, seconds until the hog
# is killed or None).
MEMORY_CASES = [
    ("no hog", None, None),
    ("hog leaves room for 1 task", 1, None),
    ("hog leaves room for none, then ends", 0, "wait"),
]


def memory_admission(runner, n, z):
    """Tasks that state a memory need (and take it), in Generous, next to a
    foreign memory hog that leaves room for some of them or none."""
    limit = cgroup_memory_limit()
    if limit is not None:
        return {"skipped": "the runner is in a memory-limited cgroup (%d MiB): the hog's size is computed for "
                           "the machine" % (limit // MIB)}
    total, _ = meminfo()
    per_task = task_memory(total)
    reserve = int(total * 0.20)
    tasks = z["tasks_per_cpu"] * n
    show = "start_times generous %d %s %d sleep" % (tasks, z["hold"], per_task)
    cmd = [runner.b("start_times"), "generous", str(tasks), str(z["hold"]), str(per_task), "sleep"]
    cases = []
    for r in range(z["rounds"]):
        for name, room, release in rotated(MEMORY_CASES, r):
            log("s6c round %d/%d: %s" % (r + 1, z["rounds"], name))
            try:
                result = _memory_once(runner, cmd, per_task, reserve, room,
                                      z["wait"] if release else None)
            except Failure as e:
                result = {"error": str(e)}
                log("  failed: %s" % e)
            result.update({"round": r, "case": name})
            cases.append(result)
    return {"sizes": z, "cpus": n, "tasks": tasks, "per_task": per_task, "total": total, "reserve": reserve,
            "reserve_percent": 20, "show": show, "cases": cases, "case_names": [c[0] for c in MEMORY_CASES]}


def _most_at_once(starts, ends):
    events = sorted([(s, 1) for s in starts] + [(e, -1) for e in ends], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def _memory_once(runner, cmd, per_task, reserve, room, release_after):
    hogs = []
    p = None
    try:
        _, available_before = meminfo()
        if room is not None:
            # Half a task's memory above the wanted room; what others free
            # meanwhile is taken by more hogs (at most two more).
            for _ in range(3):
                _, now = meminfo()
                size = now - reserve - int((room + 0.5) * per_task)
                if hogs and size < per_task // 4:
                    break
                if size <= 0:
                    raise Failure("only %d MiB available, not enough above the reserve to leave room for %d "
                                  "task(s)" % (now // MIB, room))
                try:
                    hogs.append(MemoryHog(runner.b("memory_hog"), size, runner.foreign))
                except RuntimeError as e:
                    raise Failure(str(e))
        _, available = meminfo()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             env=runner.env, cwd=ROOT, start_new_session=True)
        released_ns = None
        running_before = None
        if release_after is not None:
            time.sleep(release_after + random.uniform(0.0, 0.5))
            running_before = len(descendants(p.pid, leaders=True))
            released_ns = time.monotonic_ns()
            for hog in hogs:
                hog.stop()
        try:
            out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            raise Failure("the tasks did not end within 120 s")
        if p.returncode != 0:
            raise Failure("exit %d: %s" % (p.returncode, err.decode(errors="replace")[-300:]))
        lines = [x for x in out.decode(errors="replace").splitlines() if x.startswith("{")]
        info = json.loads(lines[-1])
        starts = [t for t in info["starts_ns"] if t is not None]
        ends = [t for t in info["ends_ns"] if t is not None]
        result = {
            "available_before": available_before,
            "hog_bytes": sum(h.report["bytes"] for h in hogs) if hogs else None,
            "hogs": len(hogs),
            "hog_touch_s": sum(h.report["touch_s"] for h in hogs) if hogs else None,
            "available": available,
            "room": max(0, (available - reserve) // per_task),
            "returned": info["returned"],
            "most_at_once": _most_at_once(starts, ends),
            "wall_s": info["wall_s"],
            "running_before": running_before,
        }
        if released_ns is not None and starts:
            result["first_start_s"] = (min(starts) - released_ns) / 1e9
            result["started_before"] = sum(1 for t in starts if t < released_ns)
        return result
    finally:
        for hog in hogs:
            hog.stop()
        if p is not None and p.poll() is None:
            kill_session_and(p.pid, descendants(p.pid))
            p.wait()
