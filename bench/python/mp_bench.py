"""Python standard-library contenders (multiprocessing, fork start method).

    mp_bench.py process TASKS AT_ONCE   one multiprocessing.Process per task
    mp_bench.py pool TASKS AT_ONCE      Pool(AT_ONCE), chunksize 1
    mp_bench.py pool-cpu TASKS SECONDS AT_ONCE
                                        Pool(AT_ONCE), tasks burning CPU

Each prints one JSON line. Times cover creating the workers, running every
task and collecting every return (not the interpreter's start).
"""

import json
import multiprocessing
import multiprocessing.connection
import sys
import time

from bench_tasks import burn, identity

_mp = multiprocessing.get_context("fork")




def _child(i, conn):
    conn.send(identity(i))
    conn.close()


def per_process(tasks, at_once):
    """One Process per task, at most ``at_once`` alive; each returns its
    value through a pipe."""
    t0 = time.perf_counter()
    running = {}
    returned = 0
    started = 0
    while started < tasks or running:
        while started < tasks and len(running) < at_once:
            parent, child = _mp.Pipe(duplex=False)
            p = _mp.Process(target=_child, args=(started, child))
            p.start()
            child.close()
            running[p.sentinel] = (p, parent)
            started += 1
        for sentinel in multiprocessing.connection.wait(list(running)):
            p, parent = running.pop(sentinel)
            if parent.poll():
                parent.recv()
                returned += 1
            parent.close()
            p.join()
    wall = time.perf_counter() - t0
    return {"tasks": tasks, "returned": returned, "wall_s": wall, "per_task_ms": wall * 1000 / tasks}


def pool(tasks, at_once):
    """Pool(at_once) with reused workers, chunksize 1."""
    t0 = time.perf_counter()
    with _mp.Pool(at_once) as p:
        values = p.map(identity, range(tasks), chunksize=1)
    wall = time.perf_counter() - t0
    return {"tasks": tasks, "returned": len(values), "wall_s": wall, "per_task_ms": wall * 1000 / tasks}


def pool_cpu(tasks, seconds, at_once):
    """Pool(at_once) running CPU-bound tasks, chunksize 1."""
    t0 = time.perf_counter()
    with _mp.Pool(at_once) as p:
        values = p.map(burn, [seconds] * tasks, chunksize=1)
    wall = time.perf_counter() - t0
    return {"tasks": tasks, "returned": len(values), "wall_s": wall}


def main(argv):
    what = argv[1]
    if what == "process":
        result = per_process(int(argv[2]), int(argv[3]))
    elif what == "pool":
        result = pool(int(argv[2]), int(argv[3]))
    elif what == "pool-cpu":
        result = pool_cpu(int(argv[2]), float(argv[3]), int(argv[4]))
    else:
        sys.exit("unknown contender %r" % what)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
