#!/usr/bin/env python3
"""Runs every benchmark scenario round by round and writes the raw results
as JSON. Called by bench/run.sh (which builds, installs what is missing and
then calls bench/report.py); standard library only.

Every contender of a scenario runs once per round; the order rotates from
round to round so that none always goes first. Each program measures
itself and prints one JSON line; command-line tools are timed from outside
(hyperfine when it is there, else this script's own clock).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

import politeness
from harness import Failure, log, rotated, run_json, strip, time_shell
from machine import CLK_TCK, BusyLoops, ForeignPids, all_pids, count_tasks, cpu_seconds, proc_stat, usable_cpus

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Sizes of the full run and of --quick. "s8" holds the sizes of the
# variants of scenarios 1, 2, 4 and 6 with N at once on a machine with N >=
# 16 usable CPUs.
SIZES = {
    "full": {
        "s1": {"rounds": 5, "tasks": 2000, "reuse_tasks": 20000, "original_tasks": 100},
        "s2": {"rounds": 5, "jobs": 2000},
        "s3": {"rounds": 4, "reps": 2},
        "s4": {"rounds": 3, "tasks": 8, "seconds": 0.5},
        "s5": {"rounds": 3, "seconds": 5.0, "tasks": 2000},
        "s6": {"rounds": 2, "tasks": 8, "seconds": 0.5, "deadline": 10.0},
        "s6a": {"rounds": 2, "seconds": 120.0, "settle": 1.0, "observe": 13.0, "after_settle": 0.5,
                "tail": 3.0},
        "s6b": {"rounds": 2, "reps": 3, "wait": 2.0, "seconds": 0.2},
        "s6c": {"rounds": 2, "tasks_per_cpu": 2, "hold": 1.0, "wait": 2.0},
        "s7": {"rounds": 3, "reps": 20, "counts": [50, 2000]},
        "s8": {
            "s1": {"rounds": 3, "tasks": 8000, "reuse_tasks": 80000},
            "s2": {"rounds": 3, "jobs": 8000},
            "s4": {"rounds": 3, "tasks_per_cpu": 4, "seconds": 0.5},
            "s6": {"rounds": 1, "tasks_per_cpu": 2, "seconds": 0.5, "deadline": 6.0},
        },
        "s9": {"rounds": 3, "tasks": 100, "reps": 2},
        "s10": {"rounds": 5, "tasks": 500, "reuse_tasks": 5000, "cold_reps": 3},
    },
    "quick": {
        "s1": {"rounds": 2, "tasks": 500, "reuse_tasks": 5000, "original_tasks": 20},
        "s2": {"rounds": 2, "jobs": 500},
        "s3": {"rounds": 2, "reps": 1},
        "s4": {"rounds": 2, "tasks": 8, "seconds": 0.25},
        "s5": {"rounds": 1, "seconds": 2.5, "tasks": 2000},
        "s6": {"rounds": 1, "tasks": 4, "seconds": 0.25, "deadline": 3.0},
        "s6a": {"rounds": 1, "seconds": 120.0, "settle": 1.0, "observe": 13.0, "after_settle": 0.5,
                "tail": 3.0},
        "s6b": {"rounds": 1, "reps": 2, "wait": 1.5, "seconds": 0.2},
        "s6c": {"rounds": 1, "tasks_per_cpu": 2, "hold": 0.5, "wait": 1.5},
        "s7": {"rounds": 2, "reps": 5, "counts": [50, 2000]},
        "s8": {
            "s1": {"rounds": 2, "tasks": 2000, "reuse_tasks": 20000},
            "s2": {"rounds": 2, "jobs": 2000},
            "s4": {"rounds": 2, "tasks_per_cpu": 4, "seconds": 0.25},
            "s6": {"rounds": 1, "tasks_per_cpu": 2, "seconds": 0.25, "deadline": 4.0},
        },
        "s9": {"rounds": 2, "tasks": 20, "reps": 1},
        "s10": {"rounds": 2, "tasks": 200, "reuse_tasks": 2000, "cold_reps": 1},
    },
}

# A lent machine's run (bench/device.sh): full sizes, one round of 6a and
# 6b, to stay within a few minutes.
SIZES["device"] = dict(SIZES["full"], s6a=dict(SIZES["full"]["s6a"], rounds=1),
                       s6b=dict(SIZES["full"]["s6b"], rounds=1))

SCENARIOS = ["s1", "s2", "s3", "s4", "s5", "s6", "s6a", "s6b", "s6c", "s7", "s8", "s9", "s10"]

# The scenarios with a variant for N at once, run as scenario 8.
WIDE_PARTS = ["s1", "s2", "s4", "s6"]
WIDE_MIN_CPUS = 16

MODES = ["nuclear", "extreme", "aggressive", "normal", "generous"]

# The original release, installed and converted to Python 3 by run.sh, and
# the dummymp Python package (the original's API on the Rust engine).
ORIGINAL = "original DummyMP 0.5b2"
PY_PACKAGE = "dummymp Python package"

# Scenario 10's contenders: the Python package and what Python programmers
# use instead, by the stdlib_bench.py name each runs as.
PY_FRESH = ("dummymp, a fresh copy per task (default)", "dummymp-fresh")
POOL_FRESH = ("multiprocessing.Pool(2, maxtasksperchild=1)", "pool-fresh")
PY_REUSE = ("dummymp, reused workers", "dummymp-reuse")
POOL = ("multiprocessing.Pool(2).apply_async", "pool")
EXECUTOR = ("concurrent.futures.ProcessPoolExecutor(2)", "executor")
JOBLIB = ("joblib.Parallel(n_jobs=2)", "joblib")


class Runner:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.sizes = SIZES[args.sizes]
        self.bin = os.path.abspath(args.bin)
        self.py = args.python
        self.original_skip = args.original_skip
        self.py_package = args.py_package_python
        self.py_package_skip = args.py_package_skip or (
            None if self.py_package else "no Python package was given (set BENCH_PY_WHEEL to the built wheel)")
        self.cli = args.cli
        self.cli_skip = args.cli_skip
        self.parallel = shutil.which("parallel")
        self.parallel_skip = args.parallel_skip or (None if self.parallel else "GNU parallel is not installed")
        self.hyperfine = shutil.which("hyperfine")
        self.foreign = ForeignPids(args.loops_file)
        self.cpus = usable_cpus()
        # Scenario 8: N at once, N the usable CPUs when there are at least
        # 16 (or N given with --wide, to try the scenario out).
        self.wide = args.wide or (self.cpus if self.cpus >= WIDE_MIN_CPUS else None)
        self.env = dict(os.environ)
        self.env["PATH"] = self.bin + os.pathsep + self.env.get("PATH", "")
        self.env["PYTHONPATH"] = os.path.join(HERE, "python")
        self.results = {}

    def b(self, name):
        return os.path.join(self.bin, name)

    def pyfile(self, name):
        return os.path.join(HERE, "python", name)

    def json(self, cmd, timeout=600):
        return run_json(cmd, timeout=timeout, env=self.env)

    # ---- helpers for rounds of independent runs

    def rounds(self, scenario, contenders, n_rounds, measure):
        """Runs ``measure(contender)`` for each contender, in rotated order,
        ``n_rounds`` times. Returns per-round dicts name -> value (None on
        failure) and the errors seen."""
        per_round = []
        errors = {}
        skipped = {c["name"]: c["skip"] for c in contenders if c.get("skip")}
        active = [c for c in contenders if not c.get("skip")]
        for r in range(n_rounds):
            values = {}
            for c in rotated(active, r):
                log("%s round %d/%d: %s" % (scenario, r + 1, n_rounds, c["name"]))
                try:
                    values[c["name"]] = measure(c)
                except Failure as e:
                    values[c["name"]] = None
                    errors.setdefault(c["name"], str(e))
                    log("  failed: %s" % e)
            per_round.append(values)
        return per_round, errors, skipped

    # ---- scenario 1

    def s1(self):
        self.results["s1"] = self.per_task(2, self.sizes["s1"], with_original=True)

    def per_task(self, w, z, with_original=False):
        """Per-task overhead of trivial tasks, ``w`` at a time: the floors,
        the library with fresh and with reused workers, Python's
        multiprocessing, and (``with_original``) the original."""
        n, n_reuse = z["tasks"], z["reuse_tasks"]
        true_path = "/bin/true" if os.path.exists("/bin/true") else shutil.which("true")
        pool = "multiprocessing.Pool(%d), chunksize 1" % w
        fresh, reused = "dummymp (library), fresh workers", "dummymp (library), reused workers"
        floor = "floor: Rust spawns /bin/true"
        contenders = [
            {"name": floor, "cmd": [self.b("spawn_floor"), true_path, str(n), str(w)],
             "show": "spawn_floor %s %d %d" % (true_path, n, w), "kind": "floor"},
            {"name": "floor: Rust spawns an empty Rust program",
             "cmd": [self.b("spawn_floor"), self.b("empty"), str(n), str(w)],
             "show": "spawn_floor target/release/empty %d %d" % (n, w), "kind": "floor"},
            {"name": fresh, "cmd": [self.b("overhead"), str(n), str(w), "fresh"],
             "show": "overhead %d %d fresh" % (n, w), "kind": "ours"},
            {"name": reused, "cmd": [self.b("overhead"), str(n_reuse), str(w), "reuse"],
             "show": "overhead %d %d reuse" % (n_reuse, w), "kind": "ours",
             "note": "%d tasks, as many as the Pool" % n_reuse},
            {"name": "multiprocessing.Process per task",
             "cmd": [self.py, self.pyfile("mp_bench.py"), "process", str(n), str(w)],
             "show": "python3 bench/python/mp_bench.py process %d %d" % (n, w), "kind": "peer"},
            {"name": pool, "cmd": [self.py, self.pyfile("mp_bench.py"), "pool", str(n_reuse), str(w)],
             "show": "python3 bench/python/mp_bench.py pool %d %d" % (n_reuse, w), "kind": "peer",
             "note": "%d tasks" % n_reuse},
        ]
        if with_original:
            no = z["original_tasks"]
            contenders.append(
                {"name": ORIGINAL, "cmd": [self.py, self.pyfile("original_bench.py"), "overhead", str(no), str(w)],
                 "show": "python3 bench/python/original_bench.py overhead %d %d" % (no, w), "kind": "original",
                 "skip": self.original_skip, "note": "%d tasks only (about 54 ms each)" % no})

        def measure(c):
            out, _ = self.json(c["cmd"])
            if out.get("returned", out.get("tasks")) != out["tasks"] or out.get("failed"):
                raise Failure("only %s of %s tasks returned" % (out.get("returned"), out["tasks"]))
            return out["per_task_ms"]

        per_round, errors, skipped = self.rounds("s1 (%d at once)" % w, contenders, z["rounds"], measure)
        return {
            "sizes": z, "at_once": w, "unit": "ms per task", "contenders": strip(contenders),
            "rounds": per_round, "errors": errors, "skipped": skipped,
            "baseline": floor,
            "baselines": [floor, "floor: Rust spawns an empty Rust program"],
            "fresh": fresh, "reused": reused, "pool": pool,
        }

    # ---- scenario 2

    def s2(self):
        self.results["s2"] = self.per_job(2, self.sizes["s2"])

    def per_job(self, w, z):
        """Per-job overhead of the command-line tools running ``true``, ``w``
        at a time."""
        n = z["jobs"]
        xargs = "xargs -P%d -n1" % w
        contenders = [
            {"name": xargs, "shell": "seq %d | xargs -P%d -n1 true" % (n, w), "kind": "peer"},
            {"name": "dummymp CLI, nuclear", "shell": "seq %d | dummymp -j%d --priority nuclear true" % (n, w),
             "kind": "ours", "skip": self.cli_skip},
            {"name": "dummymp CLI, normal (default)", "shell": "seq %d | dummymp -j%d true" % (n, w),
             "kind": "ours", "skip": self.cli_skip},
            {"name": "GNU parallel -j%d" % w, "shell": "seq %d | parallel --will-cite -j%d true" % (n, w),
             "kind": "peer", "skip": self.parallel_skip},
        ]
        for c in contenders:
            c["show"] = c["shell"]
        active = [c for c in contenders if not c.get("skip")]
        per_round, errors = [], {}
        for r in range(z["rounds"]):
            order = rotated(active, r)
            log("s2 (%d at once) round %d/%d: %s" % (w, r + 1, z["rounds"], ", ".join(c["name"] for c in order)))
            values = {}
            if self.hyperfine:
                values = self._hyperfine(order, errors)
            else:
                for c in order:
                    try:
                        values[c["name"]] = time_shell(self._with_path(c["shell"]))
                    except Failure as e:
                        values[c["name"]] = None
                        errors.setdefault(c["name"], str(e))
            per_round.append({k: (None if v is None else v * 1000.0 / n) for k, v in values.items()})
        return {
            "sizes": z, "at_once": w, "unit": "ms per job", "contenders": strip(contenders),
            "rounds": per_round, "errors": errors,
            "skipped": {c["name"]: c["skip"] for c in contenders if c.get("skip")},
            "baseline": xargs,
            "timer": "hyperfine %s (one run per command per round, shell start-up subtracted)" % hyperfine_version()
            if self.hyperfine else "this script's clock around bash -c (hyperfine is not installed)",
        }

    def _with_path(self, shell):
        return "PATH=%s:$PATH; %s" % (self.bin, shell)

    def _hyperfine(self, order, errors):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = ["hyperfine", "--runs", "1", "--shell", "bash", "--style", "none",
                   "--export-json", out.name]
            for c in order:
                cmd += ["-n", c["name"], c["shell"]]
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=self.env, cwd=ROOT, timeout=600)
            if done.returncode != 0:
                msg = done.stderr.decode(errors="replace").strip().splitlines()[-2:]
                for c in order:
                    errors.setdefault(c["name"], "hyperfine: " + " / ".join(msg))
                return {c["name"]: None for c in order}
            data = json.load(open(out.name))
        return {res["command"]: res["mean"] for res in data["results"]}

    # ---- scenario 3

    def s3(self):
        z = self.sizes["s3"]
        modes = ",".join(MODES)
        contenders = [
            {"name": "dummymp (library)", "cmd": [self.b("first_task"), str(z["reps"]), modes],
             "show": "first_task %d %s" % (z["reps"], modes), "kind": "ours"},
            {"name": ORIGINAL,
             "cmd": [self.py, self.pyfile("original_bench.py"), "first-task", str(z["reps"]), modes],
             "show": "python3 bench/python/original_bench.py first-task %d %s" % (z["reps"], modes),
             "kind": "original", "skip": self.original_skip},
        ]

        def measure(c):
            out, _ = self.json(c["cmd"])
            return out["modes"]

        per_round, errors, skipped = self.rounds("s3", contenders, z["rounds"], measure)
        self.results["s3"] = {
            "sizes": z, "unit": "ms", "modes": MODES, "contenders": strip(contenders),
            "rounds": per_round, "errors": errors, "skipped": skipped,
        }

    # ---- scenario 4

    def s4(self):
        self.results["s4"] = self.efficiency(2, self.sizes["s4"])

    def efficiency(self, w, z):
        """CPU-bound tasks, ``w`` at a time: wall time against the ideal."""
        n = z.get("tasks") or z["tasks_per_cpu"] * w
        s = z["seconds"]
        # Library contenders are left to their own scheduler when the
        # machine has no more than w CPUs; on a larger one they are capped
        # at w like the others.
        lib_cap = 0 if self.cpus <= w else w
        cap = str(lib_cap)
        cpus = min(self.cpus, w)
        xargs = "xargs -P%d -n1" % w

        def lib(mode, workers):
            return {"name": "dummymp (library), %s%s" % (mode, ", reused workers" if workers == "reuse" else ""),
                    "cmd": [self.b("cpu_bound"), mode, str(n), str(s), cap, workers],
                    "show": "cpu_bound %s %d %s %s %s" % (mode, n, s, cap, workers), "kind": "ours"}

        contenders = [
            lib("normal", "fresh"), lib("nuclear", "fresh"), lib("normal", "reuse"), lib("nuclear", "reuse"),
            {"name": "dummymp CLI, normal", "shell": "seq %d | dummymp -j%d burn %s" % (n, w, s),
             "kind": "ours", "skip": self.cli_skip},
            {"name": "dummymp CLI, nuclear", "shell": "seq %d | dummymp -j%d --priority nuclear burn %s" % (n, w, s),
             "kind": "ours", "skip": self.cli_skip},
            {"name": xargs, "shell": "seq %d | xargs -P%d -n1 burn %s" % (n, w, s), "kind": "peer"},
            {"name": "GNU parallel -j%d" % w, "shell": "seq %d | parallel --will-cite -j%d burn %s" % (n, w, s),
             "kind": "peer", "skip": self.parallel_skip},
            {"name": "multiprocessing.Pool(%d)" % w,
             "cmd": [self.py, self.pyfile("mp_bench.py"), "pool-cpu", str(n), str(s), str(w)],
             "show": "python3 bench/python/mp_bench.py pool-cpu %d %s %d" % (n, s, w), "kind": "peer"},
        ]
        if w == 2:
            for mode in ("normal", "nuclear"):
                contenders.append(
                    {"name": ORIGINAL + ", " + mode,
                     "cmd": [self.py, self.pyfile("original_bench.py"), "cpu", mode, str(n), str(s), cap],
                     "show": "python3 bench/python/original_bench.py cpu %s %d %s %s" % (mode, n, s, cap),
                     "kind": "original", "skip": self.original_skip})
        for c in contenders:
            c.setdefault("show", c.get("shell"))

        def measure(c):
            if "shell" in c:
                wall = time_shell(self._with_path(c["shell"]))
            else:
                out, _ = self.json(c["cmd"])
                if out.get("returned") != n:
                    raise Failure("only %s of %d tasks returned" % (out.get("returned"), n))
                wall = out["wall_s"]
            return wall

        per_round, errors, skipped = self.rounds("s4 (%d at once)" % w, contenders, z["rounds"], measure)
        return {
            "sizes": z, "tasks": n, "at_once": w, "unit": "s", "ideal_s": n * s / cpus, "cpus": cpus,
            "lib_cap": lib_cap, "baseline": xargs,
            "contenders": strip(contenders), "rounds": per_round, "errors": errors, "skipped": skipped,
        }

    # ---- scenario 5

    def s5(self):
        z = self.sizes["s5"]
        s, n = z["seconds"], z["tasks"]
        fd, queued_file = tempfile.mkstemp(prefix="dummymp-bench-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("%s\n%s\n" % (s, s) + "0\n" * (n - 2))
        fd, sleep_file = tempfile.mkstemp(prefix="dummymp-bench-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("%s\n%s\n" % (s, s))
        try:
            cases = {}
            for case in ("sleep", "queued"):
                if case == "sleep":
                    lines = "::: %s %s" % (s, s)
                    shown = lines
                    stdin_file = sleep_file
                else:
                    lines = ":::: %s" % queued_file
                    shown = ":::: FILE"
                    stdin_file = queued_file
                contenders = [
                    {"name": "dummymp (library)", "cmd": [self.b("parent_cpu"), case, str(s), str(n), "normal"],
                     "show": "parent_cpu %s %s %d normal" % (case, s, n), "kind": "ours", "internal": True},
                    {"name": ORIGINAL,
                     "cmd": [self.py, self.pyfile("original_bench.py"), "parent-cpu", case, str(s), str(n)],
                     "show": "python3 bench/python/original_bench.py parent-cpu %s %s %d" % (case, s, n),
                     "kind": "original", "skip": self.original_skip, "internal": True},
                    {"name": "dummymp CLI", "cmd": [self.cli or "dummymp", "-j2", "sleep"] + lines.split(),
                     "show": "dummymp -j2 sleep %s" % shown, "kind": "ours", "skip": self.cli_skip},
                    {"name": "xargs -P2 -n1", "cmd": ["xargs", "-P2", "-n1", "sleep"], "stdin": stdin_file,
                     "show": "xargs -P2 -n1 sleep < %s" % ("FILE (%s, %s)" % (s, s) if case == "sleep" else "FILE"),
                     "kind": "peer"},
                    {"name": "GNU parallel -j2", "cmd": ["parallel", "--will-cite", "-j2", "sleep"] + lines.split(),
                     "show": "parallel --will-cite -j2 sleep %s" % shown, "kind": "peer", "skip": self.parallel_skip},
                ]
                cases[case] = contenders
            all_rounds = {"sleep": [], "queued": []}
            errors = {"sleep": {}, "queued": {}}
            for r in range(z["rounds"]):
                for case in ("sleep", "queued"):
                    values = {}
                    for c in rotated([c for c in cases[case] if not c.get("skip")], r):
                        log("s5 round %d/%d, %s: %s" % (r + 1, z["rounds"], case, c["name"]))
                        try:
                            values[c["name"]] = self._parent_cpu(c, s)
                        except Failure as e:
                            values[c["name"]] = None
                            errors[case].setdefault(c["name"], str(e))
                            log("  failed: %s" % e)
                    all_rounds[case].append(values)
            self.results["s5"] = {
                "sizes": z, "unit": "% of one core",
                "window": list(window(s)),
                "cases": {case: {"contenders": strip(cases[case]), "rounds": all_rounds[case],
                                 "errors": errors[case],
                                 "skipped": {c["name"]: c["skip"] for c in cases[case] if c.get("skip")}}
                          for case in cases},
            }
        finally:
            os.unlink(queued_file)
            os.unlink(sleep_file)

    def _parent_cpu(self, c, seconds):
        """Samples the parent's CPU time from /proc over a window while the
        two sleeping tasks run; for the libraries, also their own report."""
        start, end = window(seconds)
        t0 = time.perf_counter()
        stdin = open(c["stdin"]) if c.get("stdin") else subprocess.DEVNULL
        p = subprocess.Popen(c["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=stdin, env=self.env, cwd=ROOT, start_new_session=True)
        if c.get("stdin"):
            stdin.close()
        try:
            time.sleep(max(0.0, t0 + start - time.perf_counter()))
            c0, w0 = cpu_seconds(p.pid), time.perf_counter()
            time.sleep(max(0.0, t0 + end - time.perf_counter()))
            c1, w1 = cpu_seconds(p.pid), time.perf_counter()
            if c0 is None or c1 is None or p.poll() is not None:
                raise Failure("it ended before the end of the window")
            share = (c1 - c0) / (w1 - w0) * 100.0
            internal = None
            if c.get("internal"):
                out, err = p.communicate(timeout=seconds + 120)
                lines = [x for x in out.decode(errors="replace").splitlines() if x.startswith("{")]
                if p.returncode != 0 or not lines:
                    raise Failure("exit %s: %s" % (p.returncode, err.decode(errors="replace")[-300:]))
                internal = json.loads(lines[-1])["cpu_percent"]
            return {"window": share, "internal": internal}
        finally:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            else:
                p.wait()

    # ---- scenario 6

    def s6(self):
        self.results["s6"] = self.politeness(2, self.sizes["s6"], (0, 1, 2))

    def politeness(self, w, z, loop_counts):
        """Tasks that burn CPU next to foreign busy loops started before
        them, for each count of loops; ``w``: the CPUs the contenders are
        meant to use."""
        n = z.get("tasks") or z["tasks_per_cpu"] * w
        s, deadline = z["seconds"], z["deadline"]
        inputs = [str(i) for i in range(1, n + 1)]
        # Left to their own scheduler unless the machine has more CPUs than w.
        cap = 0 if self.cpus <= w else w
        jobs = ["-j%d" % cap] if cap else []

        def lib(mode):
            return {"name": "dummymp (library), %s" % mode,
                    "cmd": [self.b("cpu_bound"), mode, str(n), str(s), str(cap)],
                    "show": "cpu_bound %s %d %s %d" % (mode, n, s, cap), "kind": "ours", "json": True,
                    "leaders": True}

        contenders = [
            lib("normal"), lib("generous"), lib("nuclear"),
            {"name": "dummymp CLI, normal", "cmd": [self.cli or "dummymp"] + jobs + ["burn", str(s), ":::"] + inputs,
             "show": "dummymp %sburn %s ::: %s" % ("".join(j + " " for j in jobs), s, " ".join(inputs)),
             "kind": "ours", "skip": self.cli_skip, "task_comm": "burn"},
            {"name": "GNU parallel --load 100%% -j%d" % w,
             "cmd": ["parallel", "--will-cite", "--load", "100%", "-j%d" % w, "burn", str(s), ":::"] + inputs,
             "show": "parallel --will-cite --load 100%% -j%d burn %s ::: %s" % (w, s, " ".join(inputs)),
             "kind": "peer", "skip": self.parallel_skip, "task_comm": "burn"},
        ]
        if w == 2:
            for mode in ("normal", "generous"):
                contenders.append(
                    {"name": ORIGINAL + ", " + mode,
                     "cmd": [self.py, self.pyfile("original_bench.py"), "cpu", mode, str(n), str(s), str(cap)],
                     "show": "python3 bench/python/original_bench.py cpu %s %d %s %d" % (mode, n, s, cap),
                     "kind": "original", "skip": self.original_skip, "json": True})
        active = [c for c in contenders if not c.get("skip")]
        cases = []
        for r in range(z["rounds"]):
            for k, loops in enumerate(loop_counts):
                for c in rotated(active, r + k):
                    log("s6 (%d at once) round %d/%d, %d loop(s): %s" % (w, r + 1, z["rounds"], loops, c["name"]))
                    try:
                        result = self._polite(c, loops, n, deadline)
                    except Failure as e:
                        result = {"error": str(e)}
                        log("  failed: %s" % e)
                    result.update({"round": r, "loops": loops, "name": c["name"]})
                    cases.append(result)
        return {
            "sizes": z, "tasks": n, "at_once": w, "loop_counts": list(loop_counts), "lib_cap": cap,
            "contenders": strip(contenders), "cases": cases,
            "skipped": {c["name"]: c["skip"] for c in contenders if c.get("skip")},
        }

    def _polite(self, c, n_loops, n_tasks, deadline):
        loops = BusyLoops(n_loops, self.foreign)
        p = None
        try:
            time.sleep(0.5 if not self.quick else 0.3)
            l0 = loops.cpu()
            t0 = time.perf_counter()
            p = subprocess.Popen(c["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, env=self.env, cwd=ROOT, start_new_session=True)
            # Tasks are the burn processes; for dummymp's library the
            # descendants that lead a process group (its workers, not a
            # helper such as a fork server); for the original every
            # descendant (a worker, whose tasks start nothing).
            names = {c["task_comm"]} if c.get("task_comm") else None
            samples, samples_loaded = [], []
            released_at = None
            loop_share = None
            while p.poll() is None:
                now = time.perf_counter() - t0
                if released_at is None and now >= deadline and n_loops:
                    loop_share = shares(l0, loops.cpu(), now)
                    loops.stop()
                    released_at = now
                if now > deadline + 25:
                    os.killpg(p.pid, signal.SIGKILL)
                    break
                k = count_tasks(p.pid, names, c.get("leaders", False))
                samples.append(k)
                if released_at is None:
                    samples_loaded.append(k)
                time.sleep(0.1)
            out, err = p.communicate()
            wall = time.perf_counter() - t0
            if released_at is None and n_loops:
                loop_share = shares(l0, loops.cpu(), wall)
            result = {
                "wall_s": wall,
                "exit": p.returncode,
                "released_at": released_at,
                "max_running": max(samples_loaded or samples or [0]),
                "mean_running": statistics.mean(samples_loaded) if samples_loaded else None,
                "loop_share": loop_share,
            }
            if c.get("json"):
                lines = [x for x in out.decode(errors="replace").splitlines() if x.startswith("{")]
                if lines:
                    info = json.loads(lines[-1])
                    result["returned"] = info.get("returned")
                    result["max_running_reported"] = info.get("max_running")
            elif p.returncode == 0:
                result["returned"] = n_tasks
            if p.returncode not in (0, None):
                result["stderr"] = err.decode(errors="replace")[-300:]
            return result
        finally:
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            loops.stop()

    # ---- scenario 7

    def s7(self):
        z = self.sizes["s7"]
        contenders = [
            {"name": "dummymp (library)", "cmd": [self.b("load_cost"), str(z["reps"])],
             "show": "load_cost %d" % z["reps"], "kind": "ours"},
            {"name": ORIGINAL,
             "cmd": [self.py, self.pyfile("original_bench.py"), "scan", str(z["reps"])],
             "show": "python3 bench/python/original_bench.py scan %d" % z["reps"], "kind": "original",
             "skip": self.original_skip},
        ]
        by_count = {}
        for target in z["counts"]:
            sleepers = []
            try:
                missing = target - len(all_pids())
                log("s7: %d processes wanted, starting %d sleeping ones" % (target, max(0, missing)))
                for _ in range(max(0, missing)):
                    sleepers.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL,
                                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                time.sleep(0.5)

                def measure(c):
                    out, _ = self.json(c["cmd"])
                    kept = {"median_us": out["median_us"], "processes": out["processes"],
                            "per_process_us": out["per_process_us"]}
                    # dummymp's measurement as the scheduler makes it (the
                    # machine's totals first), against the full one, in CPU time.
                    for key in ("full_cpu_us", "when_loaded_cpu_us", "aggregate_only", "reps"):
                        if key in out:
                            kept[key] = out[key]
                    return kept

                per_round, errors, skipped = self.rounds("s7 (%d)" % target, contenders, z["rounds"], measure)
                by_count[str(target)] = {"rounds": per_round, "errors": errors, "skipped": skipped}
            finally:
                for sp in sleepers:
                    sp.kill()
                for sp in sleepers:
                    sp.wait()
        self.results["s7"] = {"sizes": z, "unit": "µs per measurement", "contenders": strip(contenders),
                              "counts": by_count}

    # ---- scenarios 6a, 6b, 6c (bench/politeness.py)

    def s6a(self):
        self.results["s6a"] = politeness.yield_while_running(self, self.cpus, self.sizes["s6a"])

    def s6b(self):
        self.results["s6b"] = politeness.start_after_load(self, self.cpus, self.sizes["s6b"])

    def s6c(self):
        self.results["s6c"] = politeness.memory_admission(self, self.cpus, self.sizes["s6c"])

    # ---- scenario 8

    def s8(self):
        """Scenarios 1, 2, 4 and 6 with N at once, N the usable CPUs, on a
        machine with at least 16 (or N given with --wide)."""
        if not self.wide:
            self.results["s8"] = {"skipped": "this machine has %d usable CPUs, fewer than %d" % (
                self.cpus, WIDE_MIN_CPUS), "cpus": self.cpus}
            return
        w, z = self.wide, self.sizes["s8"]
        parts = {}
        wanted = self.args.wide_parts.split(",") if self.args.wide_parts else WIDE_PARTS
        for part in WIDE_PARTS:
            if part not in wanted:
                continue
            log("s8: scenario %s with %d at once" % (part[1:], w))
            if part == "s1":
                parts[part] = self.per_task(w, z["s1"])
            elif part == "s2":
                parts[part] = self.per_job(w, z["s2"])
            elif part == "s4":
                parts[part] = self.efficiency(w, z["s4"])
            else:
                parts[part] = self.politeness(w, z["s6"], (0, w // 2, w))
        self.results["s8"] = {"at_once": w, "cpus": self.cpus, "forced": bool(self.args.wide), "parts": parts}

    # ---- scenario 9

    def s9(self):
        """The dummymp Python package against the original release, same
        script, same run, each in its own virtual environment (both are
        ``import dummymp``); the Rust library as a reference."""
        z = self.sizes["s9"]
        n, reps = z["tasks"], z["reps"]
        modes = ",".join(MODES)
        script = self.pyfile("original_bench.py")
        pythons = [
            (ORIGINAL, self.py, None, "original", self.original_skip),
            (PY_PACKAGE, self.py_package, "in the package's own virtual environment", "ours", self.py_package_skip),
        ]
        overhead = [{"name": name, "cmd": [py, script, "overhead", str(n), "2"],
                     "show": "python3 bench/python/original_bench.py overhead %d 2" % n,
                     "kind": kind, "skip": skip, "note": note} for name, py, note, kind, skip in pythons]
        overhead.append({"name": "dummymp (library)", "cmd": [self.b("overhead"), str(n), "2"],
                         "show": "overhead %d 2" % n, "kind": "ours"})
        first = [{"name": name, "cmd": [py, script, "first-task", str(reps), modes],
                  "show": "python3 bench/python/original_bench.py first-task %d %s" % (reps, modes),
                  "kind": kind, "skip": skip, "note": note} for name, py, note, kind, skip in pythons]
        first.append({"name": "dummymp (library)", "cmd": [self.b("first_task"), str(reps), modes],
                      "show": "first_task %d %s" % (reps, modes), "kind": "ours"})
        versions = {}

        def measure_overhead(c):
            out, _ = self.json(c["cmd"])
            if out.get("returned") != out["tasks"]:
                raise Failure("only %s of %s tasks returned" % (out.get("returned"), out["tasks"]))
            if "version" in out:
                versions[c["name"]] = out["version"]
            return out["per_task_ms"]

        def measure_first(c):
            out, _ = self.json(c["cmd"])
            return out["modes"]

        o_rounds, o_errors, skipped = self.rounds("s9 per task", overhead, z["rounds"], measure_overhead)
        f_rounds, f_errors, _ = self.rounds("s9 first task", first, z["rounds"], measure_first)
        self.results["s9"] = {
            "sizes": z, "modes": MODES, "skipped": skipped, "versions": versions,
            "wheel": os.path.basename(self.args.py_package_wheel) if self.args.py_package_wheel else None,
            "overhead": {"unit": "ms per task", "contenders": strip(overhead), "rounds": o_rounds,
                         "errors": o_errors, "skipped": skipped},
            "first_task": {"unit": "ms", "contenders": strip(first), "rounds": f_rounds,
                           "errors": f_errors, "skipped": skipped},
        }


    # ---- scenario 10

    def s10(self):
        """The dummymp Python package against multiprocessing,
        concurrent.futures and joblib, all run by the package's virtual
        environment's interpreter, side by side in the same rounds: per
        trivial task (a fresh process per task; reused workers) and a cold
        start (a new interpreter, the import, the first result)."""
        z = self.sizes["s10"]
        script = self.pyfile("stdlib_bench.py")
        py, skip = self.py_package, self.py_package_skip
        joblib_skip = skip or self.args.joblib_skip

        def contender(named, argv, show, kind, skip_):
            name, bench_name = named
            return {"name": name, "cmd": [py, script] + argv(bench_name),
                    "show": "python3 bench/python/stdlib_bench.py " + " ".join(argv(bench_name)),
                    "kind": kind, "skip": skip_, "note": show}

        def per_task(named, tasks, kind="peer", skip_=skip):
            return contender(named, lambda c: ["per-task", c, str(tasks), "2"], None, kind, skip_)

        def cold(named, kind="peer", skip_=skip):
            return contender(named, lambda c: ["cold", c], "%d start(s) per round" % z["cold_reps"], kind, skip_)

        fresh = [per_task(PY_FRESH, z["tasks"], "ours"), per_task(POOL_FRESH, z["tasks"])]
        reused = [per_task(PY_REUSE, z["reuse_tasks"], "ours"), per_task(POOL, z["reuse_tasks"]),
                  per_task(EXECUTOR, z["reuse_tasks"]), per_task(JOBLIB, z["reuse_tasks"], skip_=joblib_skip)]
        starts = [cold(PY_FRESH, "ours"), cold(POOL), cold(EXECUTOR), cold(JOBLIB, skip_=joblib_skip)]

        def measure_per_task(c):
            out, _ = self.json(c["cmd"])
            if out.get("returned") != out["tasks"]:
                raise Failure("only %s of %s tasks returned" % (out.get("returned"), out["tasks"]))
            return out["per_task_ms"]

        def measure_cold(c):
            times = []
            for _ in range(z["cold_reps"]):
                t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                out, _ = self.json(c["cmd"])
                if not out.get("returned"):
                    raise Failure("the first task did not return")
                times.append((out["first_result_ns"] - t0) / 1e6)
            return sorted(times)[len(times) // 2]

        results = {"sizes": z}
        for part, contenders, measure in (("fresh", fresh, measure_per_task), ("reused", reused, measure_per_task),
                                          ("cold", starts, measure_cold)):
            rounds, errors, skipped = self.rounds("s10 " + part, contenders, z["rounds"], measure)
            results[part] = {"contenders": strip(contenders), "rounds": rounds, "errors": errors,
                             "skipped": skipped}
        self.results["s10"] = results


def window(seconds):
    """When, after a contender started, its CPU time is sampled in
    scenario 5: after its start-up, before its sleeping tasks end."""
    return min(1.0, 0.25 * seconds), seconds - 0.5


def shares(before, after, seconds):
    """Share of one core each loop used between two CPU readings."""
    out = []
    for b, a in zip(before, after):
        out.append(None if a is None or b is None else (a - b) / seconds)
    return out


def hyperfine_version():
    try:
        return subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.split()[-1]
    except (OSError, IndexError):
        return ""


def command_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "not available"


def cpu_accounts():
    """(wall clock, CPU seconds the whole machine was busy, CPU seconds of
    this script and of every descendant it has waited for)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        u = resource.getrusage(who)
        own += u.ru_utime + u.ru_stime
    return time.perf_counter(), busy, own


def foreign_cores(before, after):
    """Average number of cores other processes kept busy between two
    readings of cpu_accounts()."""
    wall = after[0] - before[0]
    if wall <= 0:
        return None
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall)


def busy_foreign_processes():
    """Processes above 20 % of a core over one second, before the run."""
    before = {pid: proc_stat(pid) for pid in all_pids()}
    time.sleep(1.0)
    busy = []
    for pid in all_pids():
        a, b = proc_stat(pid), before.get(pid)
        if a is None or b is None or pid == os.getpid():
            continue
        share = (a[3] - b[3]) / CLK_TCK
        if share > 0.2:
            busy.append({"pid": pid, "comm": a[0], "share": share})
    return busy


def wait_until_idle(limit):
    """Waits up to ``limit`` seconds for the machine to be idle (other
    processes using under 10 % of a core over a second), so that the
    numbers are not another program's; goes on regardless after that (the
    report gives the foreign load of each scenario). Returns the seconds
    waited."""
    t0 = time.perf_counter()
    while True:
        before = cpu_accounts()
        busy = busy_foreign_processes()
        load = foreign_cores(before, cpu_accounts())
        if load is not None and load < 0.1:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 >= limit:
            log("the machine is still busy after %.0f s; going on" % limit)
            return time.perf_counter() - t0
        log("waiting for the machine to be idle (BENCH_IDLE_WAIT=%.0f s): others use %.0f%% of a core%s" % (
            limit, (load or 0) * 100, "".join(", %s (pid %d) %.0f%%" % (b["comm"], b["pid"], b["share"] * 100)
                                              for b in busy)))
        time.sleep(2.0)


def loadavg():
    """The load averages over 1, 5 and 15 minutes, as `uptime` shows them."""
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def original_facts(args):
    """What the report says of the original: the conversion record, or why
    it was skipped."""
    if args.original_skip:
        return {"skip": args.original_skip}
    record = {}
    if args.original_conversion:
        with open(args.original_conversion) as f:
            record = json.load(f)
    return {"conversion": record}


def machine_facts(args):
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": utc_now(),
        "nproc": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "cpu_model": model,
        "kernel": platform.release(),
        "rustc": command_version(["rustc", "--version"]),
        "python": command_version([args.python, "--version"]),
        "psutil": command_version([args.python, "-c", "import psutil; print('psutil', psutil.__version__)"]),
        "parallel": command_version(["parallel", "--version"]),
        "hyperfine": command_version(["hyperfine", "--version"]),
        "xargs": command_version(["xargs", "--version"]),
        "loadavg": loadavg(),
        "busy_at_start": busy_foreign_processes(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer rounds, fewer and shorter tasks (--sizes quick)")
    ap.add_argument("--sizes", choices=sorted(SIZES), default="full",
                    help="full (default), quick, or device (full, with one round of 6a and 6b: bench/device.sh)")
    ap.add_argument("--bin", required=True, help="the release build's folder (target/release)")
    ap.add_argument("--python", required=True,
                    help="python of the environment with the original release (converted) and psutil")
    ap.add_argument("--original-skip", help="why the original's contenders are skipped")
    ap.add_argument("--original-conversion", help="the JSON record convert_original.py printed")
    ap.add_argument("--py-package-python", help="python of the environment with the dummymp Python package")
    ap.add_argument("--py-package-wheel", help="the wheel installed there, for the record")
    ap.add_argument("--py-package-skip", help="why the Python package's contenders are skipped")
    ap.add_argument("--joblib-skip", help="why joblib is left out of scenario 10")
    ap.add_argument("--cli", help="the dummymp CLI binary")
    ap.add_argument("--cli-skip", help="why the CLI scenarios are skipped")
    ap.add_argument("--parallel-skip", help="why GNU parallel is skipped")
    ap.add_argument("--loops-file", required=True, help="where the busy loops' pids are kept")
    ap.add_argument("--out", required=True, help="the results file (JSON)")
    ap.add_argument("--only", help="comma-separated scenarios to run (%s); the default is all" % ", ".join(SCENARIOS))
    ap.add_argument("--wide", type=int,
                    help="run scenario 8 with this many at once even on a machine with fewer than %d usable CPUs "
                         "(to try it out; its figures say so)" % WIDE_MIN_CPUS)
    ap.add_argument("--wide-parts", help="which variants scenario 8 runs (default: %s)" % ",".join(WIDE_PARTS))
    ap.add_argument("--command", default="bash bench/run.sh", help="the command line, for the report")
    args = ap.parse_args()
    if args.quick:
        args.sizes = "quick"
    args.quick = args.sizes == "quick"
    if not args.cli and not args.cli_skip:
        args.cli_skip = "the dummymp CLI was not given"
    # In the order given, each once.
    wanted = list(dict.fromkeys(args.only.split(","))) if args.only else SCENARIOS
    unknown = [w for w in wanted if w not in SCENARIOS]
    if unknown:
        ap.error("unknown scenario(s) %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)))
    runner = Runner(args)
    started = time.perf_counter()
    idle_wait = float(os.environ.get("BENCH_IDLE_WAIT", "120"))
    wait_until_idle(idle_wait)
    log("machine facts")
    facts = machine_facts(args)
    if facts["busy_at_start"]:
        log("WARNING: busy processes before the run: %s" % facts["busy_at_start"])
    facts.update({
        "foreign_cpu": {}, "idle_waits": {}, "scenario_seconds": {}, "scenario_started": {},
        "scenario_loadavg": {}, "quick": args.quick, "sizes": args.sizes,
        "command": args.command, "cli_skip": args.cli_skip, "parallel_skip": runner.parallel_skip,
        "hyperfine_used": bool(runner.hyperfine), "scenarios": wanted, "partial": bool(args.only),
        "original": original_facts(args), "py_package_skip": runner.py_package_skip,
    })
    for name in wanted:
        t = time.perf_counter()
        facts["idle_waits"][name] = wait_until_idle(idle_wait / 2)
        log("scenario %s (load average %s)" % (name, loadavg()[0]))
        facts["scenario_started"][name] = utc_now()
        load_before = loadavg()
        before = cpu_accounts()
        getattr(runner, name)()
        facts["scenario_seconds"][name] = time.perf_counter() - t
        facts["scenario_loadavg"][name] = {"start": load_before, "end": loadavg()}
        facts["loadavg_end"] = loadavg()
        share = facts["foreign_cpu"][name] = foreign_cores(before, cpu_accounts())
        if share is not None and share > 0.05:
            log("WARNING: other processes used %.0f%% of a core during %s" % (share * 100, name))
        # Written after every scenario, so that a run cut short keeps what
        # it measured.
        facts["runner_seconds"] = time.perf_counter() - started
        facts["done"] = list(facts["scenario_seconds"])
        with open(args.out, "w") as f:
            json.dump({"facts": facts, "results": runner.results}, f, indent=1)
    log("results written to %s" % args.out)


if __name__ == "__main__":
    main()
