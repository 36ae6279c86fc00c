"""Tasks forked from the program when they start (the default on Linux),
as the original DummyMP's tasks were: each sees the program's state as it
is at its start and nothing of the tasks before it, any function runs
(lambdas, closures, functions of the main block), arguments are as they
were at ``run()``, nothing at module level runs again; and the fork is
safe although the engine runs threads of its own."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

import dummymp
import tasks


def python(*args, cwd=None, stdout=subprocess.PIPE):
    return subprocess.run(
        [sys.executable, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, cwd=cwd
    )


def write(folder, name, code):
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return str(path)


def test_a_task_sees_the_globals_as_they_are_when_it_starts(mp):
    mp.set_max_processes(1)
    tasks.SETTING = 50
    try:
        first = mp.run(tasks.read_setting)
        second = mp.run(tasks.read_setting)
        mp.process_process()
        # The first runs; the second starts later, after this change.
        tasks.SETTING = 60
        mp.process_until_done()
    finally:
        tasks.SETTING = 5
    assert (mp.get_returns()[first], mp.get_returns()[second]) == (50, 60)


def test_each_task_starts_from_the_program_not_from_the_task_before(mp):
    mp.set_max_processes(1)
    for _ in range(4):
        mp.run(tasks.bump_state_and_environment)
    mp.process_until_done()
    assert list(mp.get_returns().values()) == [(5, None)] * 4
    assert tasks.SETTING == 5 and "DUMMYMP_TEST_COUNTER" not in os.environ


def test_lambdas_closures_and_arguments_that_cannot_be_pickled(mp):
    factor = 7
    lock = threading.Lock()
    mp.run(lambda x: x * factor, 6)
    mp.run(tasks.uses_the_lock, lock)
    mp.run(tasks.first_of, iter(["from a generator"]))
    mp.process_until_done()
    assert mp.get_returns() == {0: 42, 1: "locked and released", 2: "from a generator"}


def test_arguments_are_copied_at_run_unless_told_otherwise(mp):
    items = [1]
    mp.run(tasks.append_and_return, items, 2)
    mp.set_args_deepcopy(False)
    mp.run(tasks.append_and_return, items, 3)
    items.append("after run")
    mp.process_until_done()
    assert mp.get_returns()[0] == [1, 2], "a copy made at run()"
    assert mp.get_returns()[1] == [1, "after run", 3], "the list as it was at the task's start"
    assert items == [1, "after run"], "the task changed its own copy"


def test_a_task_may_use_dummymp_itself_but_not_its_parents_queue(mp):
    mp.run(tasks.queue_of_its_own, [2, 3])
    mp.run(tasks.uses_the_parents_queue, mp)
    mp.process_until_done()
    assert mp.get_returns() == {0: [4, 9]}
    refused = mp.outcome(1)
    assert refused.kind == "raised"
    assert refused.exception == "dummymp.Error"
    assert "a task cannot use its parent's queue" in refused.message


def test_the_forks_hooks_run_in_the_task(mp):
    seen = []
    os.register_at_fork(after_in_child=lambda: seen.append("in the copy"))
    mp.run(lambda: list(seen))
    mp.process_until_done()
    assert mp.get_returns()[0][-1:] == ["in the copy"]
    assert "in the copy" not in seen, "the parent's list is its own"


def test_forking_while_threads_run_warns_once(tmp_path):
    script = write(tmp_path, "threads.py", """\
        import threading, warnings
        import dummymp

        def double(x):
            return 2 * x

        if __name__ == "__main__":
            stop = threading.Event()
            helper = threading.Thread(target=stop.wait, name="helper")
            helper.start()
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                print(dummymp.map(double, [1, 2, 3]))
                print(dummymp.map(double, [4]))
            stop.set()
            helper.join()
            for warning in caught:
                print(warning.category.__name__, "helper" in str(warning.message))
    """)
    done = python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[2, 4, 6]", "[8]", "RuntimeWarning True"]


def test_tasks_keep_forking_while_the_engine_measures_load(mp):
    # Normal mode measures other processes' load in a thread of its own:
    # no task may inherit anything of it.
    mp.set_priority_mode(dummymp.DUMMYMP_NORMAL)
    mp.set_max_processes(2)
    values = mp.map(tasks.square, range(60))
    assert values == [x * x for x in range(60)]


def test_the_memory_learned_leaves_out_what_a_task_shares_with_the_program(mp):
    held = bytearray(os.urandom(1 << 20)) * 300  # 300 MiB, written: resident
    mp.run(tasks.identity, 1)
    mp.process_until_done()
    outcome = mp.outcome(0)
    assert outcome.peak_memory is not None
    assert outcome.peak_memory < 100 << 20, "charged %d MiB" % (outcome.peak_memory >> 20)
    assert len(held) == 300 << 20


def test_a_script_as_the_original_ran_it(tmp_path):
    counter = tmp_path / "module-level-runs"
    script = write(tmp_path, "program.py", """\
        import argparse, os, sys
        import dummymp

        with open(os.environ["COUNTER"], "a") as runs:
            runs.write("module code ran\\n")

        factor = 5

        def scaled(x):
            return factor * x

        if __name__ == "__main__":
            factor = argparse.ArgumentParser().parse_args(["--x"] if False else []) and 10
            def nested(x):
                return -x
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.run(scaled, 5)
            dummymp.run(nested, 1)
            dummymp.process_until_done()
            print(sorted(dummymp.get_returns().items()))
    """)
    env = dict(os.environ, COUNTER=str(counter))
    done = subprocess.run(
        [sys.executable, script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[(0, 50), (1, -1)]\n", "a global set in main is seen; a function of main runs"
    assert counter.read_text() == "module code ran\n", "nothing at module level runs again"


def test_a_script_without_the_main_guard_works(tmp_path):
    script = write(tmp_path, "unguarded.py", """\
        import dummymp

        def one():
            return 1

        dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        dummymp.run(one)
        dummymp.process_until_done()
        print(dummymp.get_returns(), dummymp.outcome(0).kind)
    """)
    done = python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{0: 1} returned\n"


def test_printed_lines_reach_a_redirected_stdout_whole_and_once(tmp_path):
    script = write(tmp_path, "csv.py", """\
        import dummymp

        def row(i):
            for part in range(3):
                print("%d,%d" % (i, part))
            return i

        if __name__ == "__main__":
            # Buffered (stdout is a file) when the first task is forked:
            # flushed first, never printed again by a task.
            print("task,part")
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.set_max_processes(2)
            for i in range(20):
                dummymp.run(row, i)
            dummymp.process_until_done()
            print("done")
    """)
    out = tmp_path / "out.csv"
    with open(out, "w") as target:
        done = python(script, stdout=target)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "task,part" and lines[-1] == "done"
    assert sorted(lines[1:-1]) == sorted("%d,%d" % (i, p) for i in range(20) for p in range(3))
