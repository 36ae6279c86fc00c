"""Scenario 11 of BENCHMARKS.md: tiny tasks on the three-node Slurm test
cluster, from what `bench/slurm.sh` (run by hand, never by run.sh) wrote
to `bench/slurm-results.txt`: a few `key: value` lines about the run, one
JSON line per round and way, and a summary JSON line.

    python3 bench/report_slurm.py [bench/slurm-results.txt]

prints the section alone; report.py adds it to BENCHMARKS.md when the file
is there.
"""

import json
import sys

RESULTS = "bench/slurm-results.txt"

# The target of issue 19: a tiny task through a reused step-worker costs at
# most this share of a bare srun.
TARGET = 1 / 20

WAYS = [
    ("reused", "reused step-workers (one long-lived step per worker)"),
    ("fresh", "a fresh step per task (the Slurm launcher, no reuse)"),
    ("srun", "bare `srun --exact --nodes=1 -n1 -c1 --mem=0 -u -Q true`"),
]


def read(path):
    """The run's facts, its rounds and its summary, from `path`."""
    facts, rounds, summary = {}, [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("{"):
                record = json.loads(line)
                if "way" in record:
                    rounds.append(record)
                else:
                    summary = record
            elif ": " in line:
                key, value = line.split(": ", 1)
                facts[key] = value
    return facts, rounds, summary


def ratio_median(rounds, way):
    """The median over the rounds of `way`'s time per task divided by bare
    srun's in the same round."""
    by_round = {}
    for r in rounds:
        by_round.setdefault(r["round"], {})[r["way"]] = r["per_task_ms"]
    ratios = sorted(r[way] / r["srun"] for r in by_round.values() if way in r and "srun" in r)
    n = len(ratios)
    return ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2


def section(path=RESULTS):
    """The section's lines and its row of the summary table (name, target,
    result, met), or None when the file is missing or holds no summary."""
    try:
        facts, rounds, summary = read(path)
    except FileNotFoundError:
        return None
    if not summary:
        return None
    ratio = ratio_median(rounds, "reused")
    lines = [
        "## 11. Tiny tasks on a three-node Slurm cluster",
        "",
        "Measured by hand with `bash bench/slurm.sh` (not by run.sh) on the Slurm test cluster of "
        "`.ci/slurm` (three `slurmd` in namespaces of their own on one machine, sharing its CPUs), in one "
        "allocation of %d CPUs over its nodes (`%s`): trivial function tasks through reused workers, each a "
        "job step that lives as long as the worker (%s tasks, the workers' start counted), the same with a "
        "fresh job step per task, and bare `srun ... true`, each way with %d in flight, round after round; "
        "the wall time per task. The nodes share the machine's CPUs (and it had other work), so the "
        "figures are read as ratios to bare `srun` in the same run."
        % (summary["at_once"], summary["nodes"],
           next((r["tasks"] for r in rounds if r["way"] == "reused"), "?"), summary["at_once"]),
        "",
        "| run | |",
        "|---|---|",
    ]
    for key in ("date", "machine", "cluster", "command", "load average after"):
        if key in facts:
            lines.append("| %s | %s |" % (key, facts[key].strip()))
    lines += [
        "",
        "| way | tasks per round | median (ms/task) | min-max | rounds | median ratio to bare `srun` |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    medians = {"reused": summary["reused_ms"], "fresh": summary["fresh_ms"], "srun": summary["srun_ms"]}
    for way, name in WAYS:
        got = [r["per_task_ms"] for r in rounds if r["way"] == way]
        tasks = next((r["tasks"] for r in rounds if r["way"] == way), 0)
        if way == "srun":
            shown = "1 (baseline)"
        else:
            # Within each round, then the median of those.
            ratio_of = ratio_median(rounds, way)
            shown = "%.3gx" % ratio_of
            if ratio_of < 0.5:
                shown += " (1/%.0f)" % (1 / ratio_of)
        lines.append("| %s | %d | %.3g | %.3g-%.3g | %d | %s |" % (
            name, tasks, medians[way], min(got), max(got), len(got), shown))
    lines += [
        "",
        "Target (issue 19): a tiny task through a reused step-worker costs at most 1/20 of a bare `srun`; "
        "measured 1/%.0f." % (1 / ratio),
        "",
    ]
    row = ("11. tiny tasks on a three-node Slurm cluster", "reused step-worker <= 1/20 of a bare srun",
           "1/%.0f (%.3g ms against %.3g ms)" % (1 / ratio, summary["reused_ms"], summary["srun_ms"]),
           ratio <= TARGET)
    return lines, row


if __name__ == "__main__":
    made = section(sys.argv[1] if len(sys.argv) > 1 else RESULTS)
    if made is None:
        sys.exit("no results")
    print("\n".join(made[0]))
