"""The priority modes (SPEC section 2) through the package. How each mode
counts foreign load is the Rust library's, and tested there; here, every
mode reaches the engine, the process cap holds in each, and the scenarios
of the original's documentation play out. Each scenario runs in a process
of its own, with its foreign load fed to it (``fed_load``), so that what
else the machine runs can neither fail nor hang it; one scenario runs on a
CPU that busy loops of the test's own keep busy."""

import dummymp
from conftest import Lines, finish, read_report, run_on_cpu, run_scenario


def test_each_mode_reaches_the_scheduler(fed_load):
    scenario = run_scenario("""
        import dummymp, tasks
        with dummymp.DummyMP() as mp:
            for mode in dummymp.Priority:
                mp.set_priority_mode(mode)
                mp.run(tasks.identity, mode.name)
                mp.process_until_done()
                print("mode", repr(mp.get_priority_mode().name))
            print("returns", sorted(mp.get_returns().values()))
    """, env=fed_load.env())
    out, err = finish(scenario)
    names = [m.name for m in dummymp.Priority]
    assert out.splitlines()[:-1] == ["mode %r" % name for name in names], err
    assert read_report(out.splitlines()[-1:]) == {"returns": sorted(names)}, err


def test_the_process_cap_holds_in_every_mode(fed_load):
    # On a quiet machine every mode would run both tasks at once.
    scenario = run_scenario("""
        import dummymp, tasks
        with dummymp.DummyMP() as mp:
            for mode in dummymp.Priority:
                mp.reset()
                mp.set_priority_mode(mode)
                mp.set_max_processes(1)
                seen = []
                mp.set_start_callback(lambda completed, running, total: seen.append(running))
                for x in range(2):
                    mp.run(tasks.square, x)
                mp.process_until_done()
                print(mode.name, max(seen))
    """, env=fed_load.env())
    out, err = finish(scenario)
    assert read_report(out.splitlines()) == {m.name: 1 for m in dummymp.Priority}, err


def test_nuclear_ignores_foreign_load(fed_load):
    fed_load.set_busy(dummymp.getTotalCPUs())
    scenario = run_scenario("""
        import dummymp, tasks
        dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        print("usable", dummymp.getTotalCPUs())
        print("available", dummymp.getCPUAvail())
        dummymp.run(tasks.square, 2)
        dummymp.process_process()
        print("running", dummymp.default().progress()[1])
        dummymp.process_until_done()
        print("returns", dummymp.get_returns())
    """, env=fed_load.env())
    out, err = finish(scenario)
    report = read_report(out.splitlines())
    usable = report.pop("usable")
    assert report == {"available": usable, "running": 1, "returns": {0: 4}}, err


def test_normal_forces_one_task_at_a_time_when_no_cpu_is_free(fed_load):
    fed_load.set_busy(dummymp.getTotalCPUs())
    scenario = run_scenario("""
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
    """, env=fed_load.env())
    out, err = finish(scenario)
    report = read_report(out.splitlines())
    assert report == {"available": 0, "limit": "forced_one", "returns": {0: 0, 1: 1, 2: 4}, "most": 1}, err


GENEROUS_WAITS = """
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
    if sys.stdin.readline():
        dummymp.process_until_done()
        print("returns", dummymp.get_returns())
"""


def test_generous_waits_while_every_cpu_is_busy_then_runs(fed_load):
    fed_load.set_busy(dummymp.getTotalCPUs())
    scenario = run_scenario(GENEROUS_WAITS, env=fed_load.env())
    lines = Lines(scenario.stdout)
    report = read_report(lines, "stop-the-load")
    # The original's process_process said True here (nothing *running*),
    # so its process_until_done returned with the task never run.
    assert report == {"available": 0, "done": False, "limit": "cpus", "progress": (0, 0, 1)}
    fed_load.set_busy(0)
    # Generous runs it at the first measurement that finds a CPU free.
    scenario.stdin.write("go on\n")
    scenario.stdin.close()
    assert read_report(lines) == {"returns": {0: 36}}
    assert scenario.wait(timeout=60) == 0


def test_generous_waits_on_a_cpu_our_loops_keep_busy(foreign_load):
    # Real load: the test's own busy loops keep the scenario's only CPU
    # busy. Other load on the machine only adds to them, and the scenario
    # never waits for the load to go.
    scenario = run_on_cpu(foreign_load.cpu, GENEROUS_WAITS)
    out, err = finish(scenario, "")
    report = read_report(out.splitlines(), "stop-the-load")
    assert report == {"available": 0, "done": False, "limit": "cpus", "progress": (0, 0, 1)}, err
    assert scenario.returncode == 0, err
