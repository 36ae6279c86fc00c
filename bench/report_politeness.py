"""The report's sections for the politeness scenarios that watch the
library react while it runs (6a, 6b, 6c; see bench/politeness.py). Each
function writes through the report object (``w``, ``commands``,
``summary``). Standard library only.
"""

from report_format import fmt, med, pct, span, yes

GIB = float(1 << 30)


def _gib(value):
    return "n/a" if value is None else "%.2f" % (value / GIB)


def _per_round(values, show):
    return ", ".join("n/a" if v is None else show(v) for v in values) or "n/a"


def yield_while_running(rep, s, level, number="6a"):
    """6a: foreign load appears while our tasks run."""
    if not s:
        return
    z = s["sizes"]
    rep.w("%s %s. Foreign load appearing while our tasks run, %d CPUs" % (level, number, s["cpus"]))
    rep.w()
    rep.w("%d tasks that each burn CPU (far longer than the observation) start on the machine's %d usable CPUs; "
          "once all of them run, and %s s later, %d foreign busy loops start (as above). For %s s the runner "
          "reads, every 100 ms, the loops' CPU time and our tasks' state and niceness from `/proc`; the "
          "*reaction* is the first reading with one of our tasks paused (state `T`: `SIGSTOP`) or reniced "
          "(niceness above 0). A loop's share of a core is the loops' CPU time over a window, divided by the "
          "window's length and the number of loops: *before* runs from the loops' start to the reaction (the "
          "whole observation when there is none), *after* from %s s after the reaction to the end, *last %s s* "
          "is the end of the observation for every contender alike. Then the loops stop, the time until paused "
          "tasks are all continued is taken, and the contender is killed. While tasks run, the modes measure "
          "again at their re-measure interval (Generous 5 s, Normal 10 s), so the reaction comes within that "
          "interval plus one sampling interval; Nuclear never yields and is the contrast. %d round(s)."
          % (s["cpus"], s["cpus"], fmt(z["settle"]), s["loops"], fmt(z["observe"]), fmt(z["after_settle"]),
             fmt(z["tail"]), z["rounds"]))
    rep.w()
    rep.w("| contender | reaction: s after the loops started, per round | most paused / reniced | loops' share "
          "before, median | after, median | last %s s, median | paused tasks all continued after the loops "
          "ended, s |" % fmt(z["tail"]))
    rep.w("|---|---:|---:|---:|---:|---:|---:|")
    after = {}
    for c in s["contenders"]:
        name = c["name"]
        rows = [x for x in s["cases"] if x["name"] == name]
        good = [x for x in rows if "error" not in x]
        if not good:
            rep.w("| %s | failed: %s | | | | | |" % (name, rows[0]["error"] if rows else "no data"))
            continue
        after[name] = med([x["share_after"] for x in good])
        rep.w("| %s | %s | %s / %s | %s | %s | %s | %s |" % (
            name, _per_round([x["reaction_s"] for x in good], fmt) if any(
                x["reaction_s"] is not None for x in good) else "none",
            max(x["max_stopped"] for x in good), max(x["max_reniced"] for x in good),
            pct(med([x["share_before"] for x in good])), pct(after[name]) if after[name] is not None else "-",
            pct(med([x["share_tail"] for x in good])),
            ", ".join("not within 10 s" if x["continued_after_s"] is None else fmt(x["continued_after_s"])
                      for x in good if x["stopped_at_end"]) or "-"))
    rep.w()
    failed = [x for x in s["cases"] if "error" in x]
    if failed:
        rep.w("Failed runs: %s." % "; ".join("%s: %s" % (x["name"], x["error"]) for x in failed))
        rep.w()
    rep.commands(s["contenders"])
    considerate = [after.get("dummymp (library), %s" % m) for m in ("normal", "generous")]
    ok = all(v is not None and v >= 0.9 for v in considerate)
    nuclear = [x["share_tail"] for x in s["cases"] if x["name"] == "dummymp (library), nuclear" and "error" not in x]
    result = "Normal %s, Generous %s after; Nuclear %s" % (
        pct(considerate[0]), pct(considerate[1]), pct(med(nuclear)))
    rep.w("**Target (ours):** once Normal and Generous react, the loops get at least 90%% of a core each: %s — %s."
          % (result, yes(ok)))
    normal_after = considerate[0]
    if number == "6a" and normal_after is not None and normal_after < 0.9 and _autogroup_on():
        rep.w()
        rep.w("*Why Normal misses here:* Normal yields by lowering its running tasks' priority (niceness 19). "
              "This machine's kernel schedules by autogroup (`/proc/sys/kernel/sched_autogroup_enabled` is 1, "
              "and the tasks run in the root CPU cgroup): the CPU is shared between sessions first, and "
              "niceness only weighs processes of the same session. The loops, each in a session of its own, "
              "and our run's session then share the CPUs three ways whatever our niceness (two thirds of a "
              "core each, before and after). Generous, which stops tasks, is not affected; neither is a machine "
              "without autogroup (scenario 8.6a).")
    rep.summary.append(("%s. load appears while ours run (%d CPUs)" % (number, s["cpus"]),
                        "loops >= 90% of a core after Normal/Generous react", result, ok))
    rep.w()
    rep.w("*Anchor from the issue (16 cores, 8 loops started before the tasks):* Normal left the loops 100 % of "
          "their cores, Nuclear 91 %.")
    rep.w()


def _autogroup_on():
    """Whether this machine's kernel groups scheduling by session."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def start_after_load(rep, s, level, number="6b"):
    """6b: how soon Generous starts once the foreign load goes away."""
    if not s:
        return
    z = s["sizes"]
    rep.w("%s %s. Generous after the foreign load goes away, %d CPUs" % (level, number, s["cpus"]))
    rep.w()
    rep.w("Every one of the %d usable CPUs runs a foreign busy loop; 0.5 s later the contender starts in Generous "
          "with %d tasks of %s s CPU. After %s s plus a random 0-0.5 s (so that the moment falls anywhere in the "
          "library's 0.5 s sampling interval) the loops are killed, and the time from just before the kill to "
          "the first task's first instruction is taken (the task reads `CLOCK_MONOTONIC`, the runner the same "
          "clock). A measurement in flight when the loops end saw them for part of its interval, so up to two "
          "sampling intervals (1.0 s) can pass. %d round(s) of %d repetition(s)."
          % (s["cpus"], s["cpus"], fmt(z["seconds"]), fmt(z["wait"]), z["rounds"], z["reps"]))
    rep.w()
    rep.w("| contender | first task started after the loops ended: median (s) | min-max | all started, median (s) "
          "| runs | tasks started while the loops ran |")
    rep.w("|---|---:|---:|---:|---:|---:|")
    firsts_lib = []
    early_total = 0
    for c in s["contenders"]:
        name = c["name"]
        if name in s.get("skipped", {}):
            rep.w("| %s | skipped | | | | |" % name)
            continue
        rows = [x for x in s["cases"] if x["name"] == name]
        good = [x for x in rows if "error" not in x]
        if not good:
            rep.w("| %s | failed: %s | | | | |" % (name, rows[0]["error"] if rows else "no data"))
            continue
        firsts = [x["first_start_s"] for x in good]
        early = sum(x["started_before"] for x in good)
        if name == "dummymp (library), generous":
            firsts_lib, early_total = firsts, early
        rep.w("| %s | %s | %s | %s | %d | %d |" % (name, fmt(med(firsts)), span(firsts),
                                                 fmt(med([x["all_started_s"] for x in good])), len(good), early))
    rep.w()
    failed = [x for x in s["cases"] if "error" in x]
    if failed:
        rep.w("Failed runs: %s." % "; ".join("%s: %s" % (x["name"], x["error"]) for x in failed))
        rep.w()
    rep.commands(s["contenders"], s.get("skipped"))
    m = med(firsts_lib)
    ok = m is not None and m <= 1.0 and early_total == 0
    rep.w("**Target:** the first task starts about one sampling interval (0.5 s) after the load goes away, at "
          "most two (1.0 s), and none while it lasts (dummymp library): median %s s, worst %s s, %d started "
          "while the loops ran — %s." % (fmt(m), fmt(max(firsts_lib, default=None)), early_total, yes(ok)))
    rep.summary.append(("%s. Generous after the load goes (%d CPUs)" % (number, s["cpus"]),
                        "first start <= 1.0 s after (about 0.5 s)",
                        "median %s s, worst %s s" % (fmt(m), fmt(max(firsts_lib, default=None))), ok))
    rep.w()
    rep.w("*Anchor from the issue (16 cores):* Generous started only at its next 5-second re-measure.")
    rep.w()


def memory_admission(rep, s, level, number="6c"):
    """6c: tasks with a stated memory need next to a memory hog."""
    if not s:
        return
    rep.w("%s %s. Memory admission next to a memory hog" % (level, number))
    rep.w()
    if s.get("skipped"):
        rep.w("Skipped: %s." % s["skipped"])
        rep.w()
        return
    z = s["sizes"]
    rep.w("%d tasks in Generous, which keeps %d%% of the machine's memory (%s GiB of %s GiB) available to "
          "others, each state that they need %s GiB (`TaskOptions::memory`), take it (every page written) and "
          "sleep %s s. A foreign `memory_hog` (`bench/src/bin/memory_hog.rs`, in a session of its own) takes "
          "and writes memory until `MemAvailable` leaves room for the wanted number of tasks above the reserve, "
          "plus half a task (up to two more hogs take what other programs free meanwhile; each asks the kernel "
          "to kill it first should memory run out). *Room* is (`MemAvailable` with the hog less the reserve) / "
          "the per-task need, read just before the contender starts; *most at once* comes from the tasks' own "
          "start and end times. In the last case the hog is killed after %s s plus a random 0-0.5 s, and the "
          "time from just before the kill to the first task's start is taken. %d round(s)."
          % (s["tasks"], s["reserve_percent"], _gib(s["reserve"]), _gib(s["total"]), _gib(s["per_task"]),
             fmt(z["hold"]), fmt(z["wait"]), z["rounds"]))
    rep.w()
    rep.w("| case | `MemAvailable` with the hog (GiB), per round | room (tasks), per round | most at once, per round "
          "| tasks done | total time (s), median | first start after the hog ended (s), median | started before "
          "it ended |")
    rep.w("|---|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    checked = False
    for name in s["case_names"]:
        rows = [x for x in s["cases"] if x["case"] == name]
        good = [x for x in rows if "error" not in x]
        if not good:
            rep.w("| %s | failed: %s | | | | | | |" % (name, rows[0]["error"] if rows else "no data"))
            continue
        firsts = [x["first_start_s"] for x in good if "first_start_s" in x]
        early = [x["started_before"] for x in good if "started_before" in x]
        rep.w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, _per_round([x["available"] for x in good], _gib), _per_round([x["room"] for x in good], str),
            _per_round([x["most_at_once"] for x in good], str),
            ", ".join("%d of %d" % (x["returned"], s["tasks"]) for x in good),
            fmt(med([x["wall_s"] for x in good])), fmt(med(firsts)) if firsts else "-",
            str(sum(early)) if early else "-"))
        if name != "no hog":
            checked = True
            ok = ok and all(x["returned"] == s["tasks"] for x in good)
            if firsts:
                # Released: nothing may start before, everything after.
                ok = ok and sum(early) == 0
            else:
                ok = ok and all(x["most_at_once"] <= max(x["room"], 1) for x in good)
    rep.w()
    rep.commands([{"name": "dummymp (library), generous", "show": s["show"]},
                  {"name": "memory hog", "show": "memory_hog BYTES"}])
    ok = ok and checked
    rep.w("**Target:** with the hog, no more tasks at once than the room allows (one when the room is one), none "
          "before the hog ends when there is no room, and every task done — %s." % yes(ok))
    rep.summary.append(("%s. memory admission with a hog" % number, "at once <= room; none before the hog ends",
                        "most at once with room for 1: %s" % _per_round(
                            [x["most_at_once"] for x in s["cases"]
                             if x["case"] == "hog leaves room for 1 task" and "error" not in x], str), ok))
    rep.w()
