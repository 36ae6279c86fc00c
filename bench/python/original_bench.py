"""Benchmarks of the original DummyMP's API, run on whatever ``dummymp``
the interpreter imports: the original release 0.5b2, installed and
converted to Python 3 at run time by bench/run.sh (see
convert_original.py), or the dummymp Python package, which offers the same
API on the Rust engine (scenario 9; each lives in its own virtual
environment, as both are ``import dummymp``).

    original_bench.py overhead TASKS AT_ONCE
    original_bench.py first-task REPS MODES
    original_bench.py cpu MODE TASKS SECONDS CAP
    original_bench.py parent-cpu sleep|queued SECONDS TASKS
    original_bench.py scan REPS          (the original only: its psutil scan)

Each prints one JSON line, with the version the package reports.
"""

import json
import multiprocessing
import os
import sys
import time

import dummymp as dmp
from bench_tasks import burn, identity, sleep, started_at

# The release convert_original.py installs and checks.
ORIGINAL_VERSION = "0.5b2"

# The original starts its children with multiprocessing's default context,
# which on Linux forked under Python 2 and every Python 3 before 3.14 (3.14
# made forkserver the default). Keep it forking, as it always did; the
# Python package is left as it is.
if dmp.get_version() == ORIGINAL_VERSION:
    multiprocessing.set_start_method("fork")

MODES = {
    "generous": dmp.DUMMYMP_GENEROUS,
    "normal": dmp.DUMMYMP_NORMAL,
    "aggressive": dmp.DUMMYMP_AGGRESSIVE,
    "extreme": dmp.DUMMYMP_EXTREME,
    "nuclear": dmp.DUMMYMP_NUCLEAR,
}


def overhead(tasks, at_once):
    dmp.reset()
    t0 = time.perf_counter()
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_max_processes(at_once)
    for i in range(tasks):
        dmp.run(identity, i)
    dmp.process_until_done()
    wall = time.perf_counter() - t0
    returned = sum(1 for k, v in dmp.get_returns().items() if k == v)
    return {"tasks": tasks, "returned": returned, "wall_s": wall, "per_task_ms": wall * 1000 / tasks}


def first_task(reps, modes):
    out = {}
    for name in modes.split(","):
        latencies = []
        for _ in range(reps):
            dmp.reset()
            dmp.set_priority_mode(MODES[name])
            dmp.run(started_at)
            t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            dmp.process_process()
            dmp.process_until_done()
            rets = dmp.get_returns()
            latencies.append((rets[0] - t0) / 1e6 if 0 in rets else None)
        out[name] = latencies
    return {"reps": reps, "modes": out}


def cpu(mode, tasks, seconds, cap):
    dmp.reset()
    running = {"max": 0}

    def on_start(completed, now_running, total):
        running["max"] = max(running["max"], now_running)

    t0 = time.perf_counter()
    dmp.set_priority_mode(MODES[mode])
    dmp.set_max_processes(cap)
    dmp.set_start_callback(on_start)
    for _ in range(tasks):
        dmp.run(burn, seconds)
    dmp.process_until_done()
    wall = time.perf_counter() - t0
    return {
        "mode": mode,
        "tasks": tasks,
        "seconds": seconds,
        "returned": len(dmp.get_returns()),
        "max_running": running["max"],
        "wall_s": wall,
    }


def parent_cpu(case, seconds, tasks):
    """Normal mode, cap 2, as the library's own benchmark. For ``queued``
    the loop is process_until_done's own, stopped when the first task ends
    (the rest would take about 54 ms per task)."""
    dmp.reset()
    dmp.set_max_processes(2)
    first_end = []

    def on_end(completed, running, total):
        if not first_end:
            first_end.append((time.process_time(), time.perf_counter()))

    dmp.set_end_callback(on_end)
    n = 2 if case == "sleep" else tasks
    for i in range(n):
        dmp.run(sleep, seconds if i < 2 else 0.0)
    c0, t0 = time.process_time(), time.perf_counter()
    if case == "sleep":
        dmp.process_until_done()
        c1, t1 = time.process_time(), time.perf_counter()
    else:
        while not dmp.process_process():
            dmp.process_queue()
            time.sleep(0.001)
            if first_end:
                break
        c1, t1 = first_end[0]
        dmp.killall()
    return {
        "case": case,
        "tasks": n,
        "seconds": seconds,
        "wall_s": t1 - t0,
        "cpu_s": c1 - c0,
        "cpu_percent": (c1 - c0) / (t1 - t0) * 100,
    }


def scan(reps):
    """Cost of one measurement's two process-table polls (the sleeps of the
    sampling interval left out). The original's own module, so the original only."""
    from dummymp import detect

    times = []
    processes = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        state = detect.poll_procs(0)
        state = detect.poll_procs(0)
        times.append((time.perf_counter() - t0) * 1e6)
        processes = len(state[0])
    times_sorted = sorted(times)
    median = times_sorted[len(times) // 2] if len(times) % 2 else (
        times_sorted[len(times) // 2 - 1] + times_sorted[len(times) // 2]) / 2
    return {
        "processes": processes,
        "reps": reps,
        "times_us": times,
        "median_us": median,
        "per_process_us": median / max(processes, 1),
    }


def main(argv):
    what = argv[1]
    if what == "overhead":
        result = overhead(int(argv[2]), int(argv[3]))
    elif what == "first-task":
        result = first_task(int(argv[2]), argv[3])
    elif what == "cpu":
        result = cpu(argv[2], int(argv[3]), float(argv[4]), int(argv[5]))
    elif what == "parent-cpu":
        result = parent_cpu(argv[2], float(argv[3]), int(argv[4]))
    elif what == "scan":
        result = scan(int(argv[2]))
    else:
        sys.exit("unknown benchmark %r" % what)
    result["version"] = dmp.get_version()
    print(json.dumps(result), flush=True)
    # Children killed by killall() are not waited for (as the original);
    # leave without multiprocessing's exit handlers joining them.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
