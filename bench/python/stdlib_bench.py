"""The dummymp Python package against what Python programmers use instead:
multiprocessing (fork start method), concurrent.futures and joblib.

    stdlib_bench.py per-task CONTENDER TASKS AT_ONCE
    stdlib_bench.py cold CONTENDER

CONTENDER is one of:

    dummymp-fresh      dummymp, a fresh copy of the program per task (its default)
    dummymp-reuse      dummymp, reused workers (set_reuse_workers(True))
    pool-fresh         multiprocessing.Pool(AT_ONCE, maxtasksperchild=1), apply_async
    pool               multiprocessing.Pool(AT_ONCE), apply_async
    executor           concurrent.futures.ProcessPoolExecutor(AT_ONCE), submit
    joblib             joblib.Parallel(n_jobs=AT_ONCE), delayed (its default backend, loky)

``per-task`` queues TASKS trivial tasks (each returns its argument) and
times queueing up to the last return, workers' start included; it prints
one JSON line with ``per_task_ms``. ``cold`` is a cold start: this
interpreter was started just before; it imports the contender, runs one
trivial task with 2 at a time, and prints (one JSON line) the
``CLOCK_MONOTONIC`` time at which the first result came back, in
nanoseconds, for the caller to subtract the time it started the
interpreter at. Only what a contender needs is imported.
"""

import json
import sys
import time

from bench_tasks import identity


def dummymp_run(tasks, at_once, reuse):
    import dummymp

    dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
    dummymp.set_max_processes(at_once)
    dummymp.set_reuse_workers(reuse)
    for i in range(tasks):
        dummymp.run(identity, i)
    dummymp.process_until_done()
    returns = dummymp.get_returns()
    return [returns.get(i) for i in range(tasks)]


def pool_run(tasks, at_once, fresh):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with context.Pool(at_once, maxtasksperchild=1 if fresh else None) as pool:
        pending = [pool.apply_async(identity, (i,)) for i in range(tasks)]
        return [p.get() for p in pending]


def executor_run(tasks, at_once):
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(at_once, mp_context=context) as executor:
        futures = [executor.submit(identity, i) for i in range(tasks)]
        return [f.result() for f in futures]


def joblib_run(tasks, at_once):
    import joblib

    return joblib.Parallel(n_jobs=at_once)(joblib.delayed(identity)(i) for i in range(tasks))


def run(contender, tasks, at_once):
    if contender == "dummymp-fresh":
        return dummymp_run(tasks, at_once, reuse=False)
    if contender == "dummymp-reuse":
        return dummymp_run(tasks, at_once, reuse=True)
    if contender == "pool-fresh":
        return pool_run(tasks, at_once, fresh=True)
    if contender == "pool":
        return pool_run(tasks, at_once, fresh=False)
    if contender == "executor":
        return executor_run(tasks, at_once)
    if contender == "joblib":
        return joblib_run(tasks, at_once)
    sys.exit("unknown contender %r" % contender)


def main(argv):
    what, contender = argv[1], argv[2]
    if what == "per-task":
        tasks, at_once = int(argv[3]), int(argv[4])
        t0 = time.perf_counter()
        values = run(contender, tasks, at_once)
        wall = time.perf_counter() - t0
        returned = sum(1 for i, v in enumerate(values) if v == i)
        result = {"tasks": tasks, "returned": returned, "wall_s": wall, "per_task_ms": wall * 1000 / tasks}
    elif what == "cold":
        values = run(contender, 1, 2)
        done = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        result = {"returned": int(values == [0]), "first_result_ns": done}
    else:
        sys.exit("unknown benchmark %r" % what)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
