#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the results file of bench/runner.py.

    report.py RESULTS.json BENCHMARKS.md

Standard library only. Medians and min-max are over the rounds; a ratio to
a baseline is computed within each round (both measured in it), and the
median of those ratios is reported.
"""

import argparse
import json
import os
import time

import report_politeness
import report_slurm
from report_format import flat, fmt, fmt_ratio, med, pct, pct_span, ratio_median, ratios_of, span, values_of, yes

# The contender names runner.py gives the original and the Python package.
ORIGINAL = "original DummyMP 0.5b2"
PY_PACKAGE = "dummymp Python package"

# Scenario 10's contenders (as bench/runner.py names them).
PY_FRESH = "dummymp, a fresh copy per task (default)"
POOL_FRESH = "multiprocessing.Pool(2, maxtasksperchild=1)"
PY_REUSE = "dummymp, reused workers"
POOL = "multiprocessing.Pool(2).apply_async"


# A 1-minute load average at or above this (on the run's machine) marks a
# scenario's figures as taken on a busy machine.
BUSY_LOAD = 2.5


def when_measured(facts, name):
    """When scenario `name` ran and the load average (1 minute) at its start
    and end, as a phrase; None for results that do not say."""
    started = facts.get("scenario_started", {}).get(name)
    load = facts.get("scenario_loadavg", {}).get(name)
    if not started or not load:
        return None
    return "%s, load average %s at the start and %s at the end (`/proc/loadavg`, 1 minute)" % (
        started, load["start"][0], load["end"][0])


def busy_load(facts, name):
    """The highest 1-minute load average seen around scenario `name` when it
    is at or above BUSY_LOAD, else None."""
    load = facts.get("scenario_loadavg", {}).get(name)
    if not load:
        return None
    worst = max(float(load["start"][0]), float(load["end"][0]))
    return "%.2f" % worst if worst >= BUSY_LOAD else None


def run_figures(data):
    """This run's entry for bench/history.jsonl: when it ran, at what load,
    and the ratios that moved most from run to run (reused workers against
    their Pool, in scenarios 1 and 10)."""
    facts, results = data["facts"], data["results"]
    entry = {"date": facts.get("date"), "command": facts.get("command")}
    s1 = results.get("s1")
    if s1 and s1.get("reused") and s1.get("pool") not in s1.get("skipped", {}):
        spread = ratios_of(s1["rounds"], s1["reused"], s1["pool"])
        entry["s1_reused_to_pool"] = ratio_median(s1["rounds"], s1["reused"], s1["pool"])
        entry["s1_rounds"] = [min(spread, default=None), max(spread, default=None)]
        entry["s1_load"] = scenario_load(facts, "s1")
    s10 = results.get("s10")
    if s10 and "reused" in s10 and not s10["reused"].get("skipped", {}).get(PY_REUSE):
        part = s10["reused"]
        spread = ratios_of(part["rounds"], PY_REUSE, POOL)
        entry["s10_reused_to_pool"] = ratio_median(part["rounds"], PY_REUSE, POOL)
        entry["s10_rounds"] = [min(spread, default=None), max(spread, default=None)]
        entry["s10_load"] = scenario_load(facts, "s10")
    return entry


def scenario_load(facts, name):
    """The highest 1-minute load average seen around scenario `name`."""
    load = facts.get("scenario_loadavg", {}).get(name)
    if not load:
        return None
    return max(float(load["start"][0]), float(load["end"][0]))


def read_history(path):
    """The entries of bench/history.jsonl, oldest first."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Summary(list):
    """The summary's rows, each with when (and at what load) the scenario
    that gave it was measured."""

    def __init__(self, report):
        super().__init__()
        self.report = report

    def append(self, row):
        super().append(tuple(row) + (self.report.when_short(),))


class Report:
    def __init__(self, data):
        self.facts = data["facts"]
        self.r = data["results"]
        # Earlier full runs (bench/history.jsonl), this one last.
        self.history = []
        self.lines = []
        self.summary = Summary(self)
        # The scenario being written, and the facts of the machine it ran on.
        self.current = None
        self.current_facts = self.facts
        # A lent machine's results (report.py --device) and where they are.
        self.device = None
        self.device_path = None

    def w(self, text=""):
        self.lines.append(text)

    def commands(self, contenders, skipped=None, errors=None):
        self.w("Commands (run from the repository root, `target/release` first on `PATH`):")
        self.w()
        for c in contenders:
            line = "- %s: `%s`" % (c["name"], c["show"])
            if c.get("note"):
                line += " (%s)" % c["note"]
            if skipped and c["name"] in skipped:
                line += " — **skipped**: %s" % skipped[c["name"]]
            if errors and c["name"] in errors:
                line += " — **failed** in some round: %s" % errors[c["name"]]
            self.w(line)
        self.w()

    def rounds_table(self, s, unit, baselines, digits=3):
        rounds = s["rounds"]
        head = "| contender | median (%s) | min-max | rounds |" % unit
        sep = "|---|---:|---:|---:|"
        for b in baselines:
            head += " median ratio to %s |" % b
            sep += "---:|"
        self.w(head)
        self.w(sep)
        for c in s["contenders"]:
            name = c["name"]
            if name in s.get("skipped", {}):
                self.w("| %s | skipped | | |%s" % (name, " |" * len(baselines)))
                continue
            vals = values_of(rounds, name)
            got = [v for v in vals if v is not None]
            row = "| %s | %s | %s | %d |" % (name, fmt(med(vals), digits), span(vals, digits), len(got))
            for b in baselines:
                row += " %s |" % ("1 (baseline)" if b == name else fmt_ratio(ratio_median(rounds, name, b)))
            self.w(row)
        self.w()

    # ------------------------------------------------------------ sections

    def header(self):
        f = self.facts
        self.w("# dummymp benchmarks")
        self.w()
        started = os.environ.get("BENCH_STARTED_NS")
        total = ""
        if started:
            total = ", %.0f s for the whole script up to this report (build and set-up included)" % (
                (time.time_ns() - int(started)) / 1e9)
        self.w("Generated by `%s` on %s: %.0f s of measurements%s." % (
            f["command"], f["date"], f["runner_seconds"], total))
        if f.get("partial", f.get("scenarios") and len(f["scenarios"]) < 9):
            self.w()
            self.w("**This is a partial run** (`--only`): scenarios %s only." % ", ".join(f["scenarios"]))
        if f.get("quick"):
            self.w()
            self.w("**This is a `--quick` run**: fewer rounds, fewer and shorter tasks. "
                   "Use the full run for the numbers of record.")
        self.w()
        self.machine_table(f)
        self.w("## Method")
        self.w()
        self.w("- Every scenario runs its contenders once per round, for several rounds; the order of the "
               "contenders rotates from round to round. Tables give the median over the rounds and the "
               "min-max; a ratio to a baseline is taken **within each round** (both measured in it) and the "
               "median of those ratios is reported.")
        self.w("- The contenders are measured again in this run; the anchors quoted from the issue are for "
               "reference only.")
        self.original_method()
        self.w("- Library programs (`bench/src/bin/*`, `bench/python/*.py`) time themselves and print one "
               "JSON line; command-line tools are timed from outside.")
        self.w("- Raw results: `target/bench/results.json` after a run (`results-partial.json` after `--only`).")
        self.w()

    def machine_table(self, f):
        """The facts of the machine a results file was measured on."""
        self.w("| machine | |")
        self.w("|---|---|")
        self.w("| cores (`nproc`) | %s |" % f["nproc"])
        if "usable_cpus" in f:
            self.w("| usable CPUs (affinity, cgroup quota) | %s |" % f["usable_cpus"])
        self.w("| CPU | %s |" % f["cpu_model"])
        self.w("| kernel (`uname -r`) | %s |" % f["kernel"])
        self.w("| rustc | %s |" % f["rustc"])
        self.w("| Python | %s (%s) |" % (f["python"], f["psutil"]))
        self.w("| GNU parallel | %s |" % f["parallel"])
        self.w("| hyperfine | %s |" % f["hyperfine"])
        self.w("| xargs | %s |" % f["xargs"])
        self.w("| load average at start | %s |" % " ".join(f["loadavg"]))
        if f.get("loadavg_end"):
            self.w("| load average at the end | %s |" % " ".join(f["loadavg_end"]))
        busy = f.get("busy_at_start") or []
        self.w("| busy processes at start | %s |" % (
            ", ".join("%s (pid %d, %.0f%%)" % (b["comm"], b["pid"], b["share"] * 100) for b in busy)
            if busy else "none above 20% of a core"))
        self.w()
        if busy:
            self.w("**Warning:** other processes were busy when the run started; every number below may be "
                   "affected by them.")
            self.w()

    def original_method(self):
        """How the original was obtained and converted, from this run's record."""
        o = self.facts.get("original", {})
        if o.get("skip"):
            self.w("- **The original DummyMP is not in this run's comparison**: %s. Its rows are marked skipped."
                   % o["skip"])
            return
        self.w("- \"%s\" is the original library's release on PyPI, `dummymp==0.5b2` (source "
               "distribution, pinned by its SHA-256 with `pip --require-hashes`), installed by run.sh into "
               "the throwaway virtual environment at run time; this repository carries none of its code. The "
               "release (2015) targets Python 2 and the Python 3 of its day; from Python 3.12 on it no longer "
               "imports (it imports the removed module `imp` under Python 3). run.sh converts the installed "
               "copy mechanically, in place, before the run (`bench/python/convert_original.py`), whatever the "
               "Python version:" % ORIGINAL)
        c = o.get("conversion") or {}
        self.w("  1. 2to3 with its default fixers, run as `python -m %s --write --nobackups` on the installed "
               "package: %s." % (c.get("tool", "lib2to3").split()[0], c.get("tool", "lib2to3")))
        for i, rule in enumerate(c.get("rules", []), start=2):
            self.w("  %d. Rule `%s`: lines matching `%s` become `%s` (%s); %d line(s) matched in this run."
                   % (i, rule["name"], rule["pattern"], rule["replacement"], rule["why"], rule["matched"]))
        changes = c.get("changes")
        if changes:
            self.w("  What the conversion changed in this run, line by line (nothing else differs from the "
                   "release):")
            for ch in changes:
                self.w("  - `%s`: removed %s; added %s." % (
                    ch["file"], ", ".join("`%s`" % x for x in ch["removed"]) or "nothing",
                    ", ".join("`%s`" % x for x in ch["added"]) or "nothing"))
        elif changes is not None:
            self.w("  It changed nothing in this run.")
        self.w("  Its scheduling is the release's own, defects included: two psutil polls of the mode's "
               "interval before starting anything, a 10 s re-measure interval in every mode, truncation to an "
               "int, a forced single task except in Generous, one message per child per `process_queue` (a "
               "finished child's queue is drained once more before it is closed), a 0.1 s sleep in the child "
               "after it sends its return, `process_until_done` polling with a 1 ms sleep.")
        self.w("- The harness `bench/python/original_bench.py` (ours, not the original) sets "
               "`multiprocessing`'s start method to `fork` when it runs the original: what the original always "
               "got on Linux, under Python 2 and every Python 3 before 3.14, which made `forkserver` the "
               "default. The same script runs the dummymp Python package in scenario 9, in a virtual "
               "environment of its own (both are `import dummymp`).")

    def s1(self):
        s = self.r.get("s1")
        if not s:
            return
        self.w("## 1. Per-task overhead, library")
        self.w()
        self.per_task(s, "1. per-task overhead, library")
        self.w("*Anchors from the issue (same machine, 2 cores):* floor about 0.37 ms/task, "
               "`multiprocessing.Process` about 1.4 ms, `Pool(2)` about 0.028-0.055 ms, the original about 54 ms.")
        self.w()

    def per_task(self, s, label):
        """Scenario 1's table, targets and summary lines, for any number at
        once."""
        z, w = s["sizes"], s.get("at_once", 2)
        fresh = s.get("fresh", "dummymp (library)")
        reused, pool = s.get("reused"), s.get("pool")
        text = ("%d tasks that return at once, %d at a time (dummymp: `Nuclear`, `set_max_processes(%d)`); time "
                "from queueing to the last return, per task. The issue's floor is the first row, *a minimal Rust "
                "program that spawns and waits `/bin/true` %d at a time*; since a dummymp worker is a "
                "re-executed Rust program, the second floor spawns an empty Rust program instead."
                % (z["tasks"], w, w, w))
        if reused:
            text += (" Reused workers (`set_reuse_workers(true)`) and `%s` run %d tasks each (the same count, "
                     "so that starting the workers weighs the same), and are compared with each other."
                     % (pool, z["reuse_tasks"]))
        if "original_tasks" in z:
            text += " The original runs %d tasks only (each costs about 54 ms) and is reported per task." % (
                z["original_tasks"])
        self.w(text)
        self.w()
        baselines = list(s["baselines"]) + ([pool] if reused and pool not in s.get("skipped", {}) else [])
        self.rounds_table(s, "ms/task", baselines)
        self.commands(s["contenders"], s.get("skipped"), s.get("errors"))
        ratio = ratio_median(s["rounds"], fresh, s["baseline"])
        ok = ratio is not None and ratio <= 1.5
        self.w("**Target, fresh workers:** within 1.5x of the fresh-process floor (`/bin/true`): median ratio %s — "
               "%s." % (fmt_ratio(ratio), yes(ok)))
        if not ok:
            self.w()
            self.w("Where the time goes, and what would close the gap: [bench/PROFILE.md](bench/PROFILE.md).")
        self.summary.append((label + ", fresh workers", "<= 1.5x the /bin/true floor",
                             fmt_ratio(ratio) + " the floor (%s ms/task)" % fmt(med(values_of(s["rounds"], fresh))),
                             ok))
        if reused:
            self.w()
            if pool in s.get("skipped", {}):
                self.w("**Target, reused workers:** at most half of `%s` — not measured: %s."
                       % (pool, s["skipped"][pool]))
                self.summary.append((label + ", reused workers", "<= 0.5x %s" % pool, "skipped", None))
            else:
                r = ratio_median(s["rounds"], reused, pool)
                ok = r is not None and r <= 0.5
                spread = ratios_of(s["rounds"], reused, pool)
                self.w("**Target, reused workers:** at most half the time of `%s` per task, measured in the same "
                       "round: median ratio %s — %s. The ratio moved between %s and %s over the %d rounds (each "
                       "a separate run of both programs)."
                       % (pool, fmt_ratio(r), yes(ok), fmt_ratio(min(spread, default=None)),
                          fmt_ratio(max(spread, default=None)), len(spread)))
                self.summary.append((label + ", reused workers", "<= 0.5x %s" % pool,
                                     fmt_ratio(r) + " the Pool (%s ms/task)"
                                     % fmt(med(values_of(s["rounds"], reused))), ok))
                if label.startswith("1."):
                    self.between_runs("s1", "reused workers against `%s`" % pool)
        self.w()

    def between_runs(self, key, what):
        """How the median ratio of `key` moved from one full run to the
        next (bench/history.jsonl, which run.sh adds each full run to)."""
        runs = [h for h in self.history if h.get(key + "_reused_to_pool") is not None]
        if len(runs) < 2:
            return
        self.w()
        self.w("**Between full runs** (`bench/history.jsonl`; each full run of run.sh adds a line): %s, "
               "the median ratio of each run and the range over its rounds:" % what)
        self.w()
        self.w("| run (UTC) | load | median ratio | rounds' range | note |")
        self.w("|---|---:|---:|---:|---|")
        for h in runs:
            lo, hi = (h.get(key + "_rounds") or [None, None])[:2]
            load = h.get(key + "_load")
            self.w("| %s | %s | %s | %s | %s |" % (
                h.get("date", "?"), "%.2f" % load if load is not None else "?",
                fmt_ratio(h[key + "_reused_to_pool"]),
                "%s-%s" % (fmt_ratio(lo), fmt_ratio(hi)) if lo is not None else "?",
                h.get("note", "")))
        ratios = [h[key + "_reused_to_pool"] for h in runs]
        self.w()
        self.w("From run to run the median moved between %s and %s." % (
            fmt_ratio(min(ratios)), fmt_ratio(max(ratios))))

    def s2(self):
        s = self.r.get("s2")
        if not s:
            return
        self.w("## 2. Per-job overhead, CLI")
        self.w()
        self.per_job(s, "2. per-job overhead, CLI")
        self.w("*Anchors from the issue:* xargs about 0.53 ms/job, GNU parallel about 2.1-2.8 ms/job.")
        self.w()

    def per_job(self, s, label):
        w = s.get("at_once", 2)
        self.w("%d jobs of `true`, %d at a time, whole command timed by %s; per job."
               % (s["sizes"]["jobs"], w, s["timer"]))
        self.w()
        self.rounds_table(s, "ms/job", [s["baseline"]])
        self.commands(s["contenders"], s.get("skipped"), s.get("errors"))
        name = "dummymp CLI, nuclear"
        if name in s.get("skipped", {}):
            self.w("**Target:** no slower than xargs — not measured: %s." % s["skipped"][name])
            self.summary.append((label, "<= xargs", "skipped", None))
        else:
            ratio = ratio_median(s["rounds"], name, s["baseline"])
            ok = ratio is not None and ratio <= 1.0
            self.w("**Target:** no slower than xargs (`%s`): median ratio %s — %s." % (name, fmt_ratio(ratio), yes(ok)))
            self.summary.append((label, "<= 1.0x xargs", fmt_ratio(ratio) + " xargs", ok))
        self.w()

    def s3(self):
        s = self.r.get("s3")
        if not s:
            return
        self.w("## 3. Time to first task after `process_process()`")
        self.w()
        self.w("The task returns `CLOCK_MONOTONIC` as it starts; the parent reads the same clock just before "
               "`process_process()`. A fresh queue (`DummyMp::new()`, or `reset()` for the original) for each of "
               "%d repetitions per mode per round, %d rounds, no foreign load."
               % (s["sizes"]["reps"], s["sizes"]["rounds"]))
        self.w()
        ours, orig = "dummymp (library)", ORIGINAL
        self.w("| mode | dummymp median (ms) | min-max | original median (ms) | min-max | median ratio original / dummymp |")
        self.w("|---|---:|---:|---:|---:|---:|")
        all_ok = True
        for mode in s["modes"]:
            a = flat(s["rounds"], ours, mode)
            b = flat(s["rounds"], orig, mode)
            ratios = []
            for r in s["rounds"]:
                x, y = r.get(ours), r.get(orig)
                if x and y:
                    mx, my = med(x.get(mode, [])), med(y.get(mode, []))
                    if mx and my is not None:
                        ratios.append(my / mx)
            self.w("| %s | %s | %s | %s | %s | %s |" % (mode, fmt(med(a)), span(a), fmt(med(b)), span(b),
                                                       fmt_ratio(med(ratios))))
            if mode != "generous":
                all_ok = all_ok and bool(a) and max(a) < 5.0
        self.w()
        self.commands(s["contenders"], s.get("skipped"), s.get("errors"))
        worst = max((x for m in s["modes"] if m != "generous" for x in flat(s["rounds"], ours, m)), default=None)
        self.w("**Target:** under 5 ms in every mode but Generous (every sample, not just the median): worst "
               "sample %s ms — %s. Generous waits for its first sampled measurement (0.5 s) by design."
               % (fmt(worst), yes(all_ok)))
        self.summary.append(("3. time to first task", "< 5 ms except Generous", "worst %s ms" % fmt(worst), all_ok))
        self.w()
        self.w("*Anchors from the issue (the original):* Nuclear 3 ms, Extreme 215 ms, Aggressive 415 ms, "
               "Normal 718 ms, Generous 1,015 ms.")
        self.w()

    def s4(self):
        s = self.r.get("s4")
        if not s:
            return
        self.w("## 4. CPU-bound efficiency")
        self.w()
        self.efficiency(s, "4. CPU-bound efficiency")
        self.w("*Anchors from the issue:* the original 79% (Nuclear) and 63% (Normal); xargs 99%, GNU parallel "
               "93%, Pool 97%.")
        self.w()

    def efficiency(self, s, label):
        z = s["sizes"]
        ideal = s["ideal_s"]
        baseline = s.get("baseline", "xargs -P2 -n1")
        self.w("%d tasks that each burn %s s of CPU time (measured with `CLOCK_PROCESS_CPUTIME_ID`, so the work "
               "is the same however the CPU is shared), %d at a time on %d CPUs: ideal %s s. Efficiency = ideal / "
               "wall time. Libraries time queueing to the last return (the Pool and reused workers include "
               "creating their workers); command-line tools are timed as whole commands. Library contenders run "
               "with process cap %s (0: their scheduler decides). No foreign load."
               % (s.get("tasks", z.get("tasks")), z["seconds"], s.get("at_once", 2), s["cpus"], fmt(ideal),
                  s["lib_cap"]))
        self.w()
        self.w("| contender | median wall (s) | min-max | efficiency (median) | efficiency min-max | median ratio "
               "to %s |" % baseline)
        self.w("|---|---:|---:|---:|---:|---:|")
        eff = {}
        for c in s["contenders"]:
            name = c["name"]
            if name in s.get("skipped", {}):
                self.w("| %s | skipped | | | | |" % name)
                continue
            vals = values_of(s["rounds"], name)
            e = [None if v is None else ideal / v for v in vals]
            eff[name] = med(e)
            self.w("| %s | %s | %s | %s | %s | %s |" % (
                name, fmt(med(vals)), span(vals), pct(med(e)), pct_span(e),
                fmt_ratio(ratio_median(s["rounds"], name, baseline))))
        self.w()
        self.commands(s["contenders"], s.get("skipped"), s.get("errors"))
        n, k = eff.get("dummymp (library), normal"), eff.get("dummymp (library), nuclear")
        ok = n is not None and k is not None and n >= 0.98 and k >= 0.98
        self.w("**Target:** 98%% or better in Normal and Nuclear with no foreign load: Normal %s, Nuclear %s — %s."
               % (pct(n), pct(k), yes(ok)))
        reuse = [(m, eff.get("dummymp (library), %s, reused workers" % m)) for m in ("normal", "nuclear")]
        result = "Normal %s, Nuclear %s" % (pct(n), pct(k))
        if any(e is not None for _, e in reuse):
            self.w()
            self.w("With reused workers: %s." % ", ".join("%s %s" % (m.capitalize(), pct(e)) for m, e in reuse))
            result += "; reused workers %s" % ", ".join("%s %s" % (m.capitalize(), pct(e)) for m, e in reuse)
        self.summary.append((label, ">= 98% Normal and Nuclear", result, ok))
        self.w()

    def s5(self):
        s = self.r.get("s5")
        if not s:
            return
        z = s["sizes"]
        win = s["window"]
        self.w("## 5. Parent CPU while waiting")
        self.w()
        self.w("The parent's CPU time (all threads, from `/proc/PID/stat`) over a window from %s s to %s s after "
               "it started, while its 2 running tasks sleep %s s, divided by the window's length. `sleep`: 2 "
               "tasks. `queued`: %d tasks behind a cap of 2, the first 2 sleep, the rest return at once (FILE "
               "holds their durations, one a line). The "
               "libraries use Normal mode (so the cost of measuring foreign load is included) and also report "
               "their own figure, CPU time of the process over wall time from the first `process_process()` "
               "until all tasks ended (`sleep`) or the first one ended (`queued`). `/proc` counts in clock ticks "
               "(10 ms), so the window figure has a resolution of about %s%%."
               % (fmt(win[0]), fmt(win[1]), fmt(z["seconds"]), z["tasks"], fmt(1.0 / (win[1] - win[0]))))
        self.w()
        results = []
        for case in ("sleep", "queued"):
            c = s["cases"][case]
            self.w("### %s" % case)
            self.w()
            self.w("| contender | window: median % of a core | min-max | own figure: median % | min-max | median ratio to the original (window) |")
            self.w("|---|---:|---:|---:|---:|---:|")
            for k in c["contenders"]:
                name = k["name"]
                if name in c.get("skipped", {}):
                    self.w("| %s | skipped | | | | |" % name)
                    continue
                wv = values_of(c["rounds"], name, lambda v: v["window"])
                iv = values_of(c["rounds"], name, lambda v: v["internal"])
                self.w("| %s | %s | %s | %s | %s | %s |" % (
                    name, fmt(med(wv)), span(wv), fmt(med(iv)) if any(x is not None for x in iv) else "",
                    span(iv) if any(x is not None for x in iv) else "",
                    fmt_ratio(ratio_median(c["rounds"], name, ORIGINAL, lambda v: v["window"]))))
                if name == "dummymp (library)":
                    results.append((case, med(wv), med(iv)))
            self.w()
            self.commands(c["contenders"], c.get("skipped"), c.get("errors"))
        ok = bool(results) and all(w is not None and w < 1.0 and (i is None or i < 1.0) for _, w, i in results)
        self.w("**Target:** under 1%% of a core (dummymp library, both figures, both cases): %s — %s."
               % ("; ".join("%s: window %s%%, own %s%%" % (c, fmt(w), fmt(i)) for c, w, i in results), yes(ok)))
        self.summary.append(("5. parent CPU while waiting", "< 1% of a core",
                             "; ".join("%s %s%%" % (c, fmt(max(x for x in (w, i) if x is not None)))
                                       for c, w, i in results if w is not None), ok))
        self.w()
        self.w("*Anchor from the issue:* the original used 14-41% of a core (1 ms polling).")
        self.w()

    def s6(self):
        s = self.r.get("s6")
        if not any(self.r.get(k) for k in ("s6", "s6a", "s6b", "s6c")):
            return
        self.w("## 6. Politeness")
        self.w()
        if s:
            self.politeness(s, "6. politeness", "###")
            self.w("*Anchors from the issue (the original):* Normal with one loop ran 1 task at a time and the loop "
                   "kept 98% of its core; with two loops it forced one task; Generous with two loops returned "
                   "after 1 s with none of the 8 tasks run; GNU parallel with two loops never started a job.")
            self.w()
            self.foreign_note(self.facts, "s6")
        for key, part in (("s6a", report_politeness.yield_while_running),
                          ("s6b", report_politeness.start_after_load),
                          ("s6c", report_politeness.memory_admission)):
            if self.r.get(key):
                self.current = key
                part(self, self.r[key], "###", key[1:])
                self.foreign_note(self.facts, key)

    def foreign_note(self, facts, name):
        share = facts.get("foreign_cpu", {}).get(name)
        when = when_measured(facts, name)
        if when:
            note = "*Measured %s." % when
            if share is not None:
                note += (" Other processes on the machine used %.1f%% of a core on average during this "
                         "scenario (machine busy time from `/proc/stat` less this run's own processes)." % (share * 100))
            self.w(note + "*")
            self.w()
            busy = busy_load(facts, name)
            if busy:
                self.w("**The machine was busy** (load average %s, at or above %.1f): these figures may be "
                       "off; a quieter run would be better." % (busy, BUSY_LOAD))
                self.w()
        elif share is not None:
            self.w("*Other processes on the machine used %.1f%% of a core on average during this scenario "
                   "(machine busy time from `/proc/stat` less this run's own processes).*" % (share * 100))
            self.w()

    def politeness(self, s, label, level):
        z = s["sizes"]
        counts = s.get("loop_counts", [0, 1, 2])
        tasks = s.get("tasks", z.get("tasks"))
        self.w("%s foreign busy loops (`sh -c 'while :; do :; done'`, each in a session of its own, not a "
               "descendant of the contender) are started 0.5 s before the contender, which runs %d tasks that "
               "each burn %s s of CPU. Every 100 ms the runner counts the contender's running tasks (its "
               "`burn` processes, or for the libraries the worker processes). Each loop's share of a core is its "
               "CPU time over the time the contender ran. If the contender is still running %s s after it "
               "started, the loops are stopped (\"released\") so that a contender that waits can finish; "
               "\"running at once\" and the loops' share are measured until then. Medians over %d round(s)."
               % (", ".join(str(c) for c in counts[:-1]) + " or %d" % counts[-1], tasks, z["seconds"],
                  fmt(z["deadline"]), z["rounds"]))
        self.w()
        cases = s["cases"]
        for loops in counts:
            self.w("%s %d foreign loop%s" % (level, loops, "" if loops == 1 else "s"))
            self.w()
            self.w("| contender | total time (s), median | min-max | tasks done, per round | running at once: max "
                   "per round / mean | loops' share of a core, median (min-max) | loops released at %s s |"
                   % fmt(z["deadline"]))
            self.w("|---|---:|---:|---:|---:|---:|---:|")
            for c in s["contenders"]:
                name = c["name"]
                if name in s.get("skipped", {}):
                    self.w("| %s | skipped | | | | | |" % name)
                    continue
                rows = [x for x in cases if x["name"] == name and x["loops"] == loops]
                ok_rows = [x for x in rows if "error" not in x]
                if not ok_rows:
                    self.w("| %s | failed: %s | | | | | |" % (name, rows[0]["error"] if rows else "no data"))
                    continue
                walls = [x["wall_s"] for x in ok_rows]
                done = [x.get("returned") for x in ok_rows]
                maxr = [x["max_running"] for x in ok_rows]
                meanr = [x["mean_running"] for x in ok_rows if x["mean_running"] is not None]
                share = [v for x in ok_rows for v in (x.get("loop_share") or []) if v is not None]
                released = sum(1 for x in ok_rows if x.get("released_at") is not None)
                self.w("| %s | %s | %s | %s | %s / %s | %s | %s |" % (
                    name, fmt(med(walls)), span(walls),
                    ", ".join("?" if d is None else str(d) for d in done),
                    ", ".join(str(m) for m in maxr), fmt(med(meanr)),
                    pct(med(share)) + (" (%s)" % pct_span(share) if len(share) > 1 else "") if share else "-",
                    "%d of %d" % (released, len(ok_rows)) if loops else "-"))
            self.w()
        self.commands(s["contenders"], s.get("skipped"))
        full = counts[-1]
        gen = [x for x in cases if x["name"] == "dummymp (library), generous" and x["loops"] == full
               and "error" not in x]
        gen_ok = bool(gen) and all(x.get("returned") == tasks and x["max_running"] == 0 for x in gen)
        self.w("**Target:** Generous waits while no CPU is free and runs every task once CPUs free up (the "
               "original's Generous returns with nothing run). dummymp Generous with %d loops: %s — %s."
               % (full, "; ".join("%s of %d tasks done, %d running while the loops ran, %.1f s" % (
                   x.get("returned"), tasks, x["max_running"], x["wall_s"]) for x in gen) or "no data", yes(gen_ok)))
        self.summary.append((label, "Generous waits, then runs everything",
                             "with %d loops: at most %s ran while they ran; %s of %d done per round after" % (
                                 full, max((x["max_running"] for x in gen), default="?"),
                                 ", ".join(str(x.get("returned")) for x in gen), tasks), gen_ok))
        self.w()

    def s7(self):
        s = self.r.get("s7")
        if not s:
            return
        self.w("## 7. Cost of measuring load")
        self.w()
        self.w("One foreign-load measurement without its sampling sleep: dummymp's "
               "`measure_foreign_load_over(Normal, &OwnProcesses::new(), Duration::ZERO)` (two scans of the "
               "process table and the bookkeeping), and the original's two `poll_procs(0)` calls (psutil: user "
               "name, CPU percentage and status of every process). The runner starts sleeping processes "
               "(`sleep 3600`) until the machine has the wanted count; with more already there, the machine "
               "is measured as it is. %d repetitions per program per round, %d rounds."
               % (s["sizes"]["reps"], s["sizes"]["rounds"]))
        self.w()
        self.w("| processes wanted | contender | processes seen | median µs per measurement | min-max of round medians | µs per process | median ratio original / dummymp |")
        self.w("|---:|---|---:|---:|---:|---:|---:|")
        for count, d in s["counts"].items():
            for c in s["contenders"]:
                name = c["name"]
                if name in d.get("skipped", {}):
                    self.w("| %s | %s | skipped | | | | |" % (count, name))
                    continue
                vals = values_of(d["rounds"], name, lambda v: v["median_us"])
                procs = values_of(d["rounds"], name, lambda v: v["processes"])
                per = values_of(d["rounds"], name, lambda v: v["per_process_us"])
                ratio = ratio_median(d["rounds"], ORIGINAL, "dummymp (library)",
                                     lambda v: v["median_us"]) if name.startswith("original") else None
                self.w("| %s | %s | %s | %s | %s | %s | %s |" % (
                    count, name, "%d" % med(procs) if med(procs) is not None else "n/a", fmt(med(vals)), span(vals),
                    fmt(med(per)),
                    fmt_ratio(ratio) if ratio is not None else ""))
        self.w()
        ours = "dummymp (library)"
        rows = []
        for count, d in s["counts"].items():
            full = values_of(d["rounds"], ours, lambda v: v.get("full_cpu_us"))
            loaded = values_of(d["rounds"], ours, lambda v: v.get("when_loaded_cpu_us"))
            procs = values_of(d["rounds"], ours, lambda v: v["processes"])
            no_scan = values_of(d["rounds"], ours, lambda v: v.get("aggregate_only"))
            reps = values_of(d["rounds"], ours, lambda v: v.get("reps"))
            if med(full) is not None and med(loaded) is not None:
                rows.append((count, med(procs), med(full), med(loaded),
                             sum(x for x in no_scan if x is not None), sum(x for x in reps if x is not None)))
        if rows:
            self.w("As the scheduler measures (`ProcessScan::WhenLoaded`): the machine's total CPU time and our "
                   "own processes' first, and the process table only when those leave room for foreign load "
                   "above the mode's threshold. It sleeps the sampling interval, so its cost is this process's "
                   "CPU time per measurement, compared with the full measurement's CPU time in the same run:")
            self.w()
            self.w("| processes wanted | processes seen | full: CPU µs per measurement | totals first: CPU µs per measurement | totals first: µs per process | measurements that needed no scan |")
            self.w("|---:|---:|---:|---:|---:|---:|")
            for count, procs, full, loaded, no_scan, reps in rows:
                self.w("| %s | %d | %s | %s | %s | %d of %d |" % (
                    count, procs, fmt(full), fmt(loaded), fmt(loaded / procs if procs else None), no_scan, reps))
            self.w()
            worst = max(loaded / procs for _, procs, _, loaded, _, _ in rows if procs)
            # "Does not grow": with at least ten times the processes, a
            # measurement costs at most 1.5 times what it costs with the fewest.
            by_procs = sorted((procs, loaded) for _, procs, _, loaded, _, _ in rows if procs)
            (few, few_cost), (many, many_cost) = by_procs[0], by_procs[-1]
            flat = many >= 10 * few and many_cost <= 1.5 * few_cost
            ok = worst <= 10 or flat
            growth = ("%s µs per measurement with %d processes, %s with %d: %s" % (
                fmt(few_cost), few, fmt(many_cost), many,
                "it does not grow" if flat else "it grows")) if many > few else ""
            self.w("**Target:** at most 10 µs per process, or a cost that does not grow with the number of "
                   "processes in the common case: totals first, at most %s µs per process%s — %s."
                   % (fmt(worst), "; " + growth if growth else "", yes(ok)))
            self.w()
            self.summary.append(("7. cost of measuring load", "<= 10 µs per process, or not growing",
                                 "%s µs per process as the scheduler measures (full scan: %s)%s" % (
                                     fmt(worst), fmt(max(full / procs for _, procs, full, _, _, _ in rows if procs)),
                                     "; " + growth if growth else ""),
                                 ok))
        if s.get("rerun"):
            self.w("*Measured in a run of its own: %s.*" % s["rerun"])
            self.w()
        first = next(iter(s["counts"].values()), {})
        self.commands(s["contenders"], first.get("skipped"))
        self.w("*Anchor from the issue:* the original's scan costs about 50 µs per process.")
        self.w()

    def s8(self):
        own = self.r.get("s8")
        if own and not own.get("skipped"):
            self.wide(own, self.facts, None, "this run's machine")
        elif self.device:
            self.wide(self.device["results"].get("s8"), self.device["facts"], self.device["results"],
                      "a machine lent for it (`bench/device.sh`; results in `%s`)" % self.device_path)
            if own and own.get("skipped"):
                self.w("*This run's machine has fewer than 16 usable CPUs, and no machine with 16 or more was "
                       "available to it: scenario 8 is shown as last measured on the lent machine (%s), with the "
                       "code of that day, not remeasured.*" % self.device["facts"].get("date", "date unknown"))
                self.w()
        elif own:
            self.w("## 8. N at once, on a machine with 16 CPUs or more")
            self.w()
            self.w("Skipped: %s. Scenarios 1, 2, 4 and 6 run again with N at once (N = the usable CPUs) when the "
                   "machine has at least 16 usable CPUs; `bench/device.sh` runs them on a lent machine, and "
                   "`report.py --device` adds its results here." % own["skipped"])
            self.summary.append(("8. N at once (>= 16 CPUs)", "(as 1, 2, 4, 6)", "skipped: fewer than 16 CPUs", None))
            self.w()

    def wide(self, s, facts, extra, where):
        """Scenario 8 (scenarios 1, 2, 4 and 6 with N at once) from the
        results of the machine ``facts`` describes; ``extra``: the other
        results of a lent machine's run (its scenario 1, 6a and 6b)."""
        s = s or {"parts": {}}
        self.current, self.current_facts = "s8", facts
        n = s.get("at_once") or facts.get("usable_cpus")
        machine = "%s: %s, %s usable CPUs (`nproc` %s), kernel %s, on %s, by `%s`%s" % (
            where, facts["cpu_model"], facts.get("usable_cpus", "?"), facts["nproc"], facts["kernel"],
            facts["date"], facts["command"], ", a `--quick` run" if facts.get("quick") else "")
        if s.get("skipped"):
            self.w("## 8. N at once, on a machine with 16 CPUs or more")
            self.w()
            self.w("Not measured on %s (%s); what else ran there follows." % (machine, s["skipped"]))
        else:
            self.w("## 8. %s at once, on a machine with %s CPUs" % (n, facts.get("usable_cpus", facts["nproc"])))
            self.w()
            self.w("Scenarios 1, 2, 4 and 6 again with %s at once, measured on %s." % (n, machine))
        if s.get("forced"):
            self.w()
            self.w("**Forced with `--wide %s` on a machine with %s usable CPUs**: this tries the scenario out; "
                   "its figures say nothing about a wide machine." % (n, s.get("cpus")))
        self.w()
        if extra is not None:
            self.machine_table(facts)
        parts = s.get("parts", {})
        if extra and extra.get("s1"):
            self.w("### 8.0 Scenario 1 on that machine, 2 at a time")
            self.w()
            self.current = "s1"
            self.per_task(extra["s1"], "8.0 per task on the %s-CPU machine, 2 at a time" % facts["nproc"])
            self.foreign_note(facts, "s1")
            self.current = "s8"
        titles = {"s1": ("8.1", "Per-task overhead, library", self.per_task),
                  "s2": ("8.2", "Per-job overhead, CLI", self.per_job),
                  "s4": ("8.4", "CPU-bound efficiency", self.efficiency)}
        for key in ("s1", "s2", "s4"):
            if key in parts:
                number, title, render = titles[key]
                self.w("### %s %s, %s at once" % (number, title, n))
                self.w()
                render(parts[key], "%s %s, %s at once" % (number, title, n))
        if "s6" in parts:
            self.w("### 8.6 Politeness, %s CPUs" % n)
            self.w()
            self.politeness(parts["s6"], "8.6 politeness, %s CPUs" % n, "####")
            self.w("*Anchor from the issue (16 cores):* with 8 loops Normal ran 8 tasks at once and the loops kept "
                   "100 % of their cores; Nuclear took 16 and the loops fell to 91 %.")
            self.w()
        if extra:
            for key, part in (("s6a", report_politeness.yield_while_running),
                              ("s6b", report_politeness.start_after_load)):
                if extra.get(key):
                    self.current = key
                    part(self, extra[key], "###", "8." + key[1:])
                    self.foreign_note(facts, key)
        self.current = "s8"
        self.foreign_note(facts, "s8")

    def s9(self):
        s = self.r.get("s9")
        if not s:
            return
        z = s["sizes"]
        self.w("## 9. Python package against the original")
        self.w()
        self.w("The dummymp Python package (the original's API on the Rust engine) and the original release, "
               "run by the same script (`bench/python/original_bench.py`) in the same rounds, each in its own "
               "virtual environment; the Rust library as a reference. Per task: %d tasks that return at once, "
               "2 at a time, Nuclear, queueing to the last return. Time to first task: as in scenario 3, %d "
               "repetition(s) per mode per round. %d rounds." % (z["tasks"], z["reps"], z["rounds"]))
        if s.get("wheel"):
            self.w()
            self.w("Package installed from `%s`." % s["wheel"])
        versions = s.get("versions") or {}
        if versions:
            self.w()
            self.w("Versions the packages reported: %s." % ", ".join(
                "%s `%s`" % (name, v) for name, v in sorted(versions.items())))
        skipped = s.get("skipped", {})
        if PY_PACKAGE in skipped:
            self.w()
            self.w("**The Python package was not measured in this run**: %s." % skipped[PY_PACKAGE])
        self.w()
        self.w("### Per task")
        self.w()
        o = s["overhead"]
        self.rounds_table(o, "ms/task", [ORIGINAL] if ORIGINAL not in skipped else [])
        self.commands(o["contenders"], skipped, o.get("errors"))
        self.w("### Time to first task")
        self.w()
        f = s["first_task"]
        self.w("| mode | contender | median (ms) | min-max | median ratio to the original |")
        self.w("|---|---|---:|---:|---:|")
        for mode in s["modes"]:
            for c in f["contenders"]:
                name = c["name"]
                if name in skipped:
                    self.w("| %s | %s | skipped | | |" % (mode, name))
                    continue
                vals = flat(f["rounds"], name, mode)
                ratios = []
                for r in f["rounds"]:
                    x, y = r.get(name), r.get(ORIGINAL)
                    if x and y:
                        mx, my = med(x.get(mode, [])), med(y.get(mode, []))
                        if mx is not None and my:
                            ratios.append(mx / my)
                self.w("| %s | %s | %s | %s | %s |" % (
                    mode, name, fmt(med(vals)), span(vals),
                    "1 (baseline)" if name == ORIGINAL else fmt_ratio(med(ratios))))
        self.w()
        self.commands(f["contenders"], skipped, f.get("errors"))

    def s10(self):
        s = self.r.get("s10")
        if not s:
            return
        z = s["sizes"]
        self.w("## 10. Python package against the standard library")
        self.w()
        self.w("The dummymp Python package and what Python programmers use instead, run by one interpreter (the "
               "package's virtual environment's, joblib installed there by run.sh) in the same rounds, the order "
               "rotating from round to round, 2 at a time on this machine's %s CPUs (dummymp: `Nuclear`, "
               "`set_max_processes(2)`; the pools have 2 workers, forked). Trivial tasks that return their "
               "argument; time from queueing to the last return, workers' start included, per task. A fresh "
               "process per task: %d tasks (dummymp's default, a copy of the program made by `fork` when each "
               "task starts, against a Pool whose workers each run one task). Reused workers: %d tasks. Cold "
               "start: from starting the interpreter to the first result in the program (the import and the "
               "pool's start included), the median of %d start(s) per round. %d rounds. No machine with 16 CPUs "
               "was available for this scenario: it runs 2 at a time only."
               % (self.facts.get("usable_cpus"), z["tasks"], z["reuse_tasks"], z["cold_reps"], z["rounds"]))
        self.w()
        parts = (
            ("fresh", "### A fresh process per task", "ms/task", PY_FRESH, POOL_FRESH,
             "10. Python, a fresh process per task", "<= 1.0x %s" % POOL_FRESH),
            ("reused", "### Reused workers", "ms/task", PY_REUSE, POOL,
             "10. Python, reused workers", "<= 1.0x %s" % POOL),
            ("cold", "### Cold start", "ms", PY_FRESH, POOL,
             "10. Python, cold start", "<= 1.0x the Pool's"),
        )
        for key, title, unit, ours, baseline, label, target in parts:
            part = s[key]
            self.w(title)
            self.w()
            skipped = part.get("skipped", {})
            baselines = [baseline] if baseline not in skipped else []
            self.rounds_table(part, unit, baselines)
            self.commands(part["contenders"], skipped, part.get("errors"))
            if ours in skipped or baseline in skipped:
                why = skipped.get(ours) or skipped.get(baseline)
                self.w("**Target:** %s per the same round — not measured: %s." % (target, why))
                self.summary.append((label, target, "skipped", None))
            else:
                r = ratio_median(part["rounds"], ours, baseline)
                ok = r is not None and r <= 1.0
                self.w("**Target:** `%s` at or below `%s`, measured in the same round: median ratio %s — %s."
                       % (ours, baseline, fmt_ratio(r), yes(ok)))
                self.summary.append((label, target, fmt_ratio(r) + " (%s %s)" % (
                    fmt(med(values_of(part["rounds"], ours))), unit), ok))
                if key == "reused":
                    self.between_runs("s10", "`%s` against `%s`" % (ours, baseline))
            self.w()

    def when_short(self):
        """Date and load of the scenario being written, for the summary."""
        f, name = self.current_facts, self.current
        started = f.get("scenario_started", {}).get(name)
        load = f.get("scenario_loadavg", {}).get(name)
        if started and load:
            worst = max(float(load["start"][0]), float(load["end"][0]))
            return "%s, load %s%s" % (started, "%.2f" % worst, " (**busy**)" if worst >= BUSY_LOAD else "")
        return "%s (run start), load %s" % (f.get("date", "?"), (f.get("loadavg") or ["?"])[0])

    def summary_table(self):
        out = ["## Summary", "",
               "Every row says when its scenario ran and the highest 1-minute load average seen at its start or "
               "end (`/proc/loadavg`; **busy** from %.1f on, on this %s-CPU machine)." % (
                   BUSY_LOAD, self.facts.get("usable_cpus", self.facts.get("nproc"))),
               "",
               "| scenario | target | result | target met | measured (UTC), load |", "|---|---|---|---|---|"]
        for name, target, result, ok, when in self.summary:
            out.append("| %s | %s | %s | %s | %s |" % (name, target, result,
                                                       "n/a" if ok is None else ("yes" if ok else "**no**"), when))
        out.append("")
        return out

    def rerun(self):
        self.w("## How to rerun")
        self.w()
        self.w("```sh")
        self.w("bash bench/run.sh                   # full run, about 16 minutes on 2 cores; rewrites BENCHMARKS.md")
        self.w("bash bench/run.sh --quick           # fewer rounds and shorter tasks; rewrites BENCHMARKS.md")
        self.w("bash bench/run.sh --only original   # some scenarios; writes target/bench/BENCHMARKS-partial.md")
        self.w("bash bench/run.sh --only politeness # scenario 6 and its parts 6a, 6b, 6c")
        self.w("BENCH_PY_WHEEL=path/to/dummymp-*.whl bash bench/run.sh   # with the Python package (scenarios 9, 10)")
        self.w("BENCH_PY_WHEEL=path/to/dummymp-*.whl bash bench/run.sh --only python   # scenarios 9 and 10 only")
        self.w("bash bench/device.sh --prepare      # then bench/device.sh on a lent machine with 16 CPUs or more")
        self.w("bash bench/slurm.sh                 # scenario 11, on the Slurm test cluster of .ci/slurm (by hand)")
        self.w("```")
        self.w()
        self.w("run.sh builds the workspace in release mode, installs GNU parallel and hyperfine with apt-get "
               "when they are missing, creates a throwaway virtual environment under `$TMPDIR` with psutil and "
               "the original release `dummymp==0.5b2` (converted to Python 3 there, see Method), and one more "
               "with the wheel `BENCH_PY_WHEEL` names, if any; then it runs `bench/runner.py` and "
               "`bench/report.py`. `--only` takes scenario numbers (`s1`..`s10`, `s6a`, `s6b`, `s6c`) and the "
               "groups `original` (every scenario with the original in it), `python` (9 and 10) and `politeness`. Scenario 8 runs by "
               "itself on a machine with 16 usable CPUs or more; `bench/device.sh` runs it on a lent machine "
               "(see `bench/README.md`), and run.sh shows those results as scenario 8 when they are in "
               "`bench/device-results.json`. Leave the machine idle while it runs: the report lists processes "
               "that were busy at the start. Scenario 11 is measured by hand on the Slurm test cluster "
               "(`bench/slurm.sh`, which writes `bench/slurm-results.txt`; run.sh shows what is there). The "
               "benchmarks never run in `cargo test` or `.ci/run`.")
        self.w()

    def s11(self):
        """Tiny tasks on the Slurm test cluster: measured by hand
        (bench/slurm.sh), shown when its results file is there."""
        made = report_slurm.section()
        if made is None:
            return
        lines, row = made
        self.lines.extend(lines)
        # Measured by hand, at its own time and load (as its file says).
        facts = report_slurm.read(report_slurm.RESULTS)[0]
        load = (facts.get("machine", "").split("load average before:") + [""])[1].split()
        when = "%s, load %s (by hand)" % (facts.get("date", "?"), load[0] if load else "?")
        list.append(self.summary, tuple(row) + (when,))

    def render(self):
        self.header()
        body_start = len(self.lines)
        for name in ("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10"):
            self.current, self.current_facts = name, self.facts
            getattr(self, name)()
            if name not in ("s6", "s8") and self.r.get(name) and not self.r[name].get("skipped"):
                self.foreign_note(self.facts, name)
        self.s11()
        self.rerun()
        self.lines[body_start:body_start] = self.summary_table()
        return "\n".join(self.lines) + "\n"

    def render_fragment(self):
        """The section a lent machine's run (bench/device.sh) adds: scenario
        8 and what else it ran, under one heading, for pasting or for
        ``--device``."""
        self.wide(self.r.get("s8"), self.facts, self.r, "a lent machine (`bench/device.sh`)")
        body = self.lines
        self.lines = []
        return "\n".join(self.summary_table() + body) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Writes BENCHMARKS.md from the results of bench/runner.py.")
    ap.add_argument("results", help="the results file (JSON) runner.py wrote")
    ap.add_argument("out", help="the markdown file to write")
    ap.add_argument("--device", help="the results file of a run of bench/device.sh on a machine with 16 CPUs or "
                                     "more: its figures make scenario 8 when this run has none of its own")
    ap.add_argument("--history", help="bench/history.jsonl: a full run (not --only, not --quick) adds its "
                                      "line to it, and the report shows how the ratios moved between runs")
    ap.add_argument("--fragment", action="store_true",
                    help="write only scenario 8 and what else the run measured (what device.sh writes)")
    args = ap.parse_args()
    with open(args.results) as f:
        data = json.load(f)
    report = Report(data)
    if args.history and not args.fragment:
        history = read_history(args.history)
        facts = data["facts"]
        full = not facts.get("quick") and not facts.get("partial", facts.get("scenarios") and len(facts["scenarios"]) < 9)
        entry = run_figures(data)
        if full and all(h.get("date") != entry["date"] for h in history):
            history.append(entry)
            with open(args.history, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
        report.history = history
    if args.device:
        with open(args.device) as f:
            report.device = json.load(f)
        report.device_path = os.path.relpath(args.device)
    text = report.render_fragment() if args.fragment else report.render()
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
