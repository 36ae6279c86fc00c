"""The priority modes (SPEC section 2) through the package. How each mode
counts foreign load is the Rust library's, and tested there; here, every
mode reaches the engine, the process cap holds in each, and the scenarios
of the original's documentation play out on one CPU that two foreign busy
loops keep busy (the scenario runs on that CPU alone)."""

import dummymp
import tasks
from conftest import read_report, run_on_cpu


def test_each_mode_reaches_the_scheduler(mp):
    for mode in dummymp.Priority:
        mp.set_priority_mode(mode)
        mp.run(tasks.identity, mode.name)
        mp.process_until_done()
        assert mp.get_priority_mode() is mode
    assert sorted(mp.get_returns().values()) == sorted(m.name for m in dummymp.Priority)


def test_the_process_cap_holds_in_every_mode(mp):
    most = {}
    for mode in dummymp.Priority:
        mp.reset()
        mp.set_priority_mode(mode)
        mp.set_max_processes(1)
        seen = []
        mp.set_start_callback(lambda completed, running, total: seen.append(running))
        for x in range(2):
            mp.run(tasks.square, x)
        mp.process_until_done()
        most[mode.name] = max(seen)
    assert most == {m.name: 1 for m in dummymp.Priority}


def test_nuclear_ignores_foreign_load(foreign_load):
    scenario = run_on_cpu(foreign_load.cpu, """
        import dummymp, tasks
        dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        print("available", dummymp.getCPUAvail())
        dummymp.run(tasks.square, 2)
        dummymp.process_process()
        print("running", dummymp.default().progress()[1])
        dummymp.process_until_done()
        print("returns", dummymp.get_returns())
    """)
    out, err = scenario.communicate(timeout=120)
    report = read_report(out.splitlines())
    assert report == {"available": 1, "running": 1, "returns": {0: 4}}, err


def test_normal_forces_one_task_at_a_time_when_no_cpu_is_free(foreign_load):
    scenario = run_on_cpu(foreign_load.cpu, """
        import dummymp, tasks
        most = []
        dummymp.set_start_callback(lambda completed, running, total: most.append(running))
        print("available", dummymp.getCPUAvail())
        for x in range(3):
            dummymp.run(tasks.square, x)
        dummymp.process_process()
        print("limit", dummymp.default().last_limit())
        dummymp.process_until_done()
        print("returns", dummymp.get_returns())
        print("most", max(most))
    """)
    out, err = scenario.communicate(timeout=120)
    report = read_report(out.splitlines())
    assert report == {"available": 0, "limit": "forced_one", "returns": {0: 0, 1: 1, 2: 4}, "most": 1}, err


def test_generous_waits_while_every_cpu_is_busy_then_runs(foreign_load):
    scenario = run_on_cpu(foreign_load.cpu, """
        import sys
        import dummymp, tasks
        mp = dummymp.default()
        dummymp.set_priority_mode(dummymp.DUMMYMP_GENEROUS)
        print("available", dummymp.getCPUAvail())
        dummymp.run(tasks.square, 6)
        done = dummymp.process_process()
        print("done", done)
        print("limit", mp.last_limit())
        print("progress", mp.progress())
        print("stop-the-load", flush=True)
        sys.stdin.readline()
        dummymp.process_until_done()
        print("returns", dummymp.get_returns())
    """)
    lines = iter(scenario.stdout.readline, "")
    report = read_report(lines, "stop-the-load")
    # The original's process_process said True here (nothing *running*),
    # so its process_until_done returned with the task never run.
    assert report == {"available": 0, "done": False, "limit": "cpus", "progress": (0, 0, 1)}
    foreign_load.stop()
    # Generous runs it at its next measurement (every 5 s) that finds the
    # CPU free.
    out, err = scenario.communicate("go on\n", timeout=300)
    assert read_report(out.splitlines()) == {"returns": {0: 36}}, err
    assert scenario.returncode == 0
