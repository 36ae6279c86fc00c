"""Whole programs in their own interpreter: the seed's example, functions
of the main script, ``python -m``; and, for tasks that start in a fresh
interpreter (the ``spawn`` start method, Slurm) or a reused worker, how the
main script's functions are found (by running it again in the worker as
``__mp_main__``, as multiprocessing's spawn does) and the limits:
interactive code and lambdas travel only with cloudpickle. What a task
forked at its start sees is tested in test_fork.py."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")

try:
    import cloudpickle  # noqa: F401

    HAVE_CLOUDPICKLE = True
except ImportError:
    HAVE_CLOUDPICKLE = False


def python(*args, cwd=None, stdin=None):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=cwd, input=stdin
    )


def write(folder, name, code):
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return str(path)


def test_the_seed_example_prints_what_the_original_printed():
    done = python(os.path.join(EXAMPLES, "seed_example.py"))
    assert done.returncode == 0, done.stderr
    # What the original DummyMP 0.5b2 printed (bench/python/convert_original.py
    # makes it run under Python 3): `test` takes no argument but is queued
    # as run(test, []), so every call raises and no return comes back.
    assert done.stdout == "{}\nResetting...\nResetting once more...\n"
    # The original's children printed their tracebacks; ours are logged
    # too, each line tagged with the task's process.
    raised = re.findall(r"^\[PID (\d+)\] task (\d) \(test\) raised TypeError: (.*)$", done.stderr, re.M)
    assert len(raised) == 7, done.stderr
    assert {message for _, _, message in raised} == {"test() takes 0 positional arguments but 1 was given"}
    assert sorted(int(task) for _, task, _ in raised) == [0, 0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_functions_and_classes_of_the_main_script(tmp_path, method):
    script = write(tmp_path, "main_script.py", """\
        import argparse
        import dummymp

        # Under spawn, module-level code runs again in each worker, with this argv.
        options = argparse.ArgumentParser().parse_args([])

        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

        def norm(p):
            return Point(abs(p.x), abs(p.y))

        if __name__ == "__main__":
            import sys
            dummymp.set_start_method(sys.argv[1])
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.run(norm, Point(-3, 4))
            dummymp.process_until_done()
            value = dummymp.get_returns()[0]
            print(type(value).__name__, value.x, value.y)
    """)
    done = python(script, method)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Point 3 4\n"


def test_the_worker_runs_the_main_script_only_for_calls_that_need_it(tmp_path):
    marker = tmp_path / "runs"
    script = write(tmp_path, "counted.py", """\
        import os, sys
        import dummymp

        with open(sys.argv[1], "a") as runs:
            runs.write("%s " % __name__)

        def here(x):
            return "here %s" % x

        if __name__ == "__main__":
            dummymp.set_start_method("spawn")
            dummymp.set_reuse_workers(True)
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.set_max_processes(1)
            print(dummymp.map(os.path.basename, ["/a/b"]), dummymp.map(str.upper, ["a"]))
            print(open(sys.argv[1]).read())
            print(dummymp.map(here, [1, 2]))
            print(open(sys.argv[1]).read())
    """)
    done = python(script, str(marker))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "['b'] ['A']",
        "__main__ ",
        "['here 1', 'here 2']",
        "__main__ __mp_main__ ",
    ]


def test_under_spawn_a_main_script_without_the_guard_fails_its_tasks_clearly(tmp_path):
    script = write(tmp_path, "unguarded.py", """\
        import dummymp

        def one():
            return 1

        dummymp.set_start_method("spawn")
        dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        dummymp.run(one)
        dummymp.process_until_done()
        print(dummymp.get_returns(), dummymp.outcome(0).kind)
    """)
    done = python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{} failed\n"
    assert 'put the code that queues tasks under `if __name__ == "__main__":`' in done.stderr


def test_python_dash_m(tmp_path):
    write(tmp_path, "as_module.py", """\
        import dummymp

        def double(x):
            return 2 * x

        if __name__ == "__main__":
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            print(dummymp.map(double, [1, 2, 3]))
    """)
    done = python("-m", "as_module", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[2, 4, 6]\n"


def test_interactive_functions_and_lambdas_run_as_forked_tasks():
    code = textwrap.dedent("""\
        import dummymp
        def here(x):
            return x + 1
        dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        print(dummymp.map(here, [1]), dummymp.map(lambda x: x * 10, [2]))
    """)
    done = python("-", stdin=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[2] [20]\n"


@pytest.mark.skipif(HAVE_CLOUDPICKLE, reason="cloudpickle is installed")
@pytest.mark.parametrize("setting", ["set_start_method('spawn')", "set_reuse_workers(True)"])
def test_without_fork_interactive_functions_and_lambdas_need_cloudpickle(setting):
    code = textwrap.dedent("""\
        import dummymp
        dummymp.%s
        def here(x):
            return x
        for f in (here, lambda x: x):
            try:
                dummymp.run(f, 1)
            except TypeError as e:
                print("refused:", "install cloudpickle" in str(e), "the function" in str(e))
    """ % setting)
    done = python("-", stdin=code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    if setting.startswith("set_reuse"):
        # A reused worker is a copy of this process: it finds `here`.
        assert lines == ["refused: True True"]
    else:
        assert lines == ["refused: True True", "refused: True True"]


@pytest.mark.skipif(not HAVE_CLOUDPICKLE, reason="cloudpickle is not installed")
def test_interactive_functions_and_lambdas_travel_with_cloudpickle():
    code = textwrap.dedent("""\
        import dummymp
        dummymp.set_start_method("spawn")
        def here(x):
            return x + 1
        dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        print(dummymp.map(here, [1]), dummymp.map(lambda x: x * 10, [2]))
    """)
    done = python("-", stdin=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[2] [20]\n"
