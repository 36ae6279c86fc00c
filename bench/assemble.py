#!/usr/bin/env python3
"""Turns the raw lines bench/device.sh writes on a lent machine without
Python 3 (device-raw.jsonl) into a results file like bench/runner.py's, for
bench/report.py (``--device`` or ``--fragment``).

    assemble.py device-raw.jsonl device-results.json

Standard library only; runs on any machine.
"""

import json
import sys


NO_PYTHON = "no Python 3 on the lent machine"


def grouped(lines, scenario, at_once):
    """(contenders in order of appearance, per-round dicts of outputs,
    errors) of one scenario at one width."""
    contenders, rounds, errors = [], [], {}
    for x in lines:
        if x["scenario"] != scenario or x["at_once"] != at_once:
            continue
        if x["name"] not in [c["name"] for c in contenders]:
            contenders.append({"name": x["name"], "show": x["show"], "kind": x["kind"], "note": x.get("note") or None})
        while len(rounds) <= x["round"]:
            rounds.append({})
        if "error" in x:
            rounds[x["round"]][x["name"]] = None
            errors.setdefault(x["name"], x["error"])
        else:
            rounds[x["round"]][x["name"]] = x["out"]
    return contenders, rounds, errors


def values(rounds, value):
    return [{k: (None if v is None else value(v)) for k, v in r.items()} for r in rounds]


def per_task(lines, w, tasks, reuse_tasks):
    contenders, rounds, errors = grouped(lines, "s1", w)
    if not contenders:
        return None
    pool = "multiprocessing.Pool(%d), chunksize 1" % w
    contenders += [{"name": "multiprocessing.Process per task", "show": "python3 bench/python/mp_bench.py process",
                    "kind": "peer", "note": None},
                   {"name": pool, "show": "python3 bench/python/mp_bench.py pool", "kind": "peer", "note": None}]
    floor = "floor: Rust spawns /bin/true"
    return {
        "sizes": {"rounds": len(rounds), "tasks": tasks, "reuse_tasks": reuse_tasks}, "at_once": w,
        "unit": "ms per task", "contenders": contenders, "rounds": values(rounds, lambda o: o["per_task_ms"]),
        "errors": errors, "skipped": {"multiprocessing.Process per task": NO_PYTHON, pool: NO_PYTHON},
        "baseline": floor, "baselines": [floor, "floor: Rust spawns an empty Rust program"],
        "fresh": "dummymp (library), fresh workers", "reused": "dummymp (library), reused workers", "pool": pool,
    }


def per_job(lines, w, jobs):
    contenders, rounds, errors = grouped(lines, "s2", w)
    if not contenders:
        return None
    return {
        "sizes": {"rounds": len(rounds), "jobs": jobs}, "at_once": w, "unit": "ms per job",
        "contenders": contenders, "rounds": values(rounds, lambda o: o["wall_ns"] / 1e6 / jobs),
        "errors": errors, "skipped": {}, "baseline": "xargs -P%d -n1" % w,
        "timer": "bash's clock (`date +%s%N`) around `bash -c` (no hyperfine on the lent machine)",
    }


def efficiency(lines, w, cpus, tasks, seconds):
    contenders, rounds, errors = grouped(lines, "s4", w)
    if not contenders:
        return None
    used = min(cpus, w)
    return {
        "sizes": {"rounds": len(rounds), "seconds": seconds}, "tasks": tasks, "at_once": w, "unit": "s",
        "ideal_s": tasks * seconds / used, "cpus": used, "lib_cap": 0 if cpus <= w else w,
        "baseline": "xargs -P%d -n1" % w, "contenders": contenders,
        "rounds": values(rounds, lambda o: o["wall_s"] if "wall_s" in o else o["wall_ns"] / 1e9),
        "errors": errors, "skipped": {},
    }


def start_after_load(lines, cpus):
    cases = []
    for x in lines:
        if x["scenario"] != "s6b":
            continue
        case = {"round": x["round"], "rep": x["rep"], "name": x["name"]}
        if "error" in x:
            case["error"] = x["error"]
        else:
            starts = sorted(t for t in x["out"]["starts_ns"] if t is not None)
            case.update({"first_start_s": (starts[0] - x["stopped_ns"]) / 1e9,
                         "all_started_s": (starts[-1] - x["stopped_ns"]) / 1e9,
                         "started_before": sum(1 for t in starts if t < x["stopped_ns"]), "running_before": None})
        cases.append(case)
    if not cases:
        return None
    return {"sizes": {"rounds": 1, "reps": len(cases), "wait": 2.0, "seconds": 0.2}, "cpus": cpus, "loops": cpus,
            "contenders": [{"name": "dummymp (library), generous", "show": "start_times generous %d 0.2" % cpus,
                            "kind": "ours", "note": None}],
            "cases": cases, "skipped": {}}


def assemble(lines):
    f = next(x for x in lines if x["scenario"] == "facts")
    cpus = f["usable_cpus"]
    wide = max((x["at_once"] for x in lines if x["scenario"] == "s1"), default=2)
    tasks1, reuse1, tasks2, reuse2 = f["tasks"]
    facts = {
        "date": f["date"], "nproc": f["nproc"], "usable_cpus": cpus, "cpu_model": f["cpu_model"],
        "kernel": f["kernel"], "rustc": "(built elsewhere)", "python": "not installed", "psutil": "-",
        "parallel": "not installed", "hyperfine": "not installed", "xargs": f["xargs"],
        "loadavg": f["loadavg"].split(), "busy_at_start": [], "foreign_cpu": {}, "runner_seconds": 0,
        "quick": bool(f["quick"]), "command": "bash bench/device.sh (without Python; assembled by bench/assemble.py)",
        "partial": True,
    }
    results = {}
    s1 = per_task(lines, 2, tasks2, reuse2)
    if s1:
        results["s1"] = s1
    parts = {}
    if wide > 2:
        for key, part in (("s1", per_task(lines, wide, tasks1, reuse1)), ("s2", per_job(lines, wide, f["jobs"])),
                          ("s4", efficiency(lines, wide, cpus, wide * f["tasks_per_cpu"], f["seconds"]))):
            if part:
                parts[key] = part
        results["s8"] = {"at_once": wide, "cpus": cpus, "forced": bool(f["forced"]), "parts": parts}
    else:
        results["s8"] = {"skipped": "the lent machine has %d usable CPUs, fewer than 16" % cpus, "cpus": cpus}
    s6b = start_after_load(lines, cpus)
    if s6b:
        results["s6b"] = s6b
    facts["scenarios"] = list(results)
    return {"facts": facts, "results": results}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: assemble.py device-raw.jsonl device-results.json")
    with open(sys.argv[1]) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    with open(sys.argv[2], "w") as f:
        json.dump(assemble(lines), f, indent=1)


if __name__ == "__main__":
    main()
