"""The Slurm launcher from Python: tasks run as job steps, each in a fresh
interpreter on its node (a node has no copy of this process to fork), and
come back, spread and end as they do on one machine.

Needs a Slurm cluster this machine can submit to, and
``DUMMYMP_SLURM_TESTS`` set: the tests are skipped without it. Start the
three-node test cluster with ``bash .ci/slurm/start.sh`` (as root) and point
the clients at it with ``. /var/lib/dummymp-slurm/env``. With
``DUMMYMP_SLURM_TESTS=required`` (as in CI) a cluster that does not answer
fails the tests instead of skipping them."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

# How long Slurm may take to show or forget a step: generous, so that a
# slow machine never fails a test, while a step that stays fails it.
PATIENCE = 60

_available = None


def _cluster_answers():
    """None when a Slurm cluster answers, else why not."""
    global _available
    if _available is None:
        try:
            # sinfo retries for a minute when it has no configuration file.
            done = subprocess.run(
                ["timeout", "20", "sinfo", "--noheader", "--responding", "--format=%T"],
                capture_output=True, text=True,
            )
        except OSError as error:
            _available = "sinfo cannot run: %s" % error
        else:
            if done.returncode != 0 or not done.stdout.strip():
                _available = "sinfo found no responding node: %s" % done.stderr.strip()
            else:
                _available = ""
    return _available or None


@pytest.fixture
def cluster():
    mode = os.environ.get("DUMMYMP_SLURM_TESTS")
    if not mode:
        pytest.skip("DUMMYMP_SLURM_TESTS is not set (see this file's documentation)")
    why = _cluster_answers()
    if why is not None:
        if mode == "required":
            pytest.fail("DUMMYMP_SLURM_TESTS=required but no Slurm cluster answers (%s)" % why)
        pytest.skip(why)


def run_script(folder, code, *wrapper):
    """Runs ``code`` as a script (through ``wrapper``, such as salloc);
    returns the CompletedProcess."""
    script = folder / "program.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [*wrapper, sys.executable, str(script), str(folder)],
        capture_output=True, text=True, timeout=300, cwd=str(folder),
    )


def unique_name(test):
    return "dummymp-py-%d-%s" % (os.getpid(), test)


def steps_named(name):
    done = subprocess.run(
        ["squeue", "--noheader", "--steps", "--format=%i %j"], capture_output=True, text=True, check=True
    )
    return [line.split()[0] for line in done.stdout.splitlines() if line.split()[1:] == [name]]


def test_returns_exceptions_output_and_log_records_come_back_from_job_steps(cluster, tmp_path):
    done = run_script(tmp_path, """\
        import logging, os, socket
        import dummymp

        def where(x):
            logging.warning("working on %d", x)
            print("printed for %d" % x)
            return x * 2, os.environ.get("SLURM_STEP_ID") is not None, socket.gethostname()

        def fails():
            raise KeyError("not on this node")

        if __name__ == "__main__":
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.set_launcher("slurm", job_name="JOB_NAME")
            dummymp.set_output_mode("captured")
            dummymp.run(where, 21)
            dummymp.run(fails)
            try:
                dummymp.run(lambda: 1)
            except TypeError as refused:
                print("refused:", "the function" in str(refused))
            dummymp.process_until_done()
            value, in_a_step, node = dummymp.get_returns()[0]
            print("value", value, in_a_step, node.startswith("node"))
            print("output", dummymp.outcome(0).stdout)
            failed = dummymp.outcome(1)
            print("raised", failed.exception, failed.message, "in fails" in failed.traceback)
    """.replace("JOB_NAME", unique_name("returns")))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "value 42 True True" in lines
    assert "output b'printed for 21\\n'" in lines
    assert "raised KeyError 'not on this node' True" in lines
    try:
        import cloudpickle  # noqa: F401
    except ImportError:
        assert "refused: True" in lines, "a lambda cannot reach a fresh interpreter"
    assert any(l.startswith("WARNING [PID ") and l.endswith("] working on 21") for l in done.stderr.splitlines())


def test_tasks_spread_over_the_nodes_of_an_allocation(cluster, tmp_path):
    # Four tasks that wait for each other need four CPUs at once: two nodes
    # of two CPUs.
    done = run_script(tmp_path, """\
        import os, socket, sys, time
        import dummymp

        def meet(folder):
            with open(os.path.join(folder, "arrived"), "a") as arrived:
                arrived.write(socket.gethostname() + "\\n")
            deadline = time.monotonic() + 120
            # No event reaches across nodes: look at the file every 50 ms.
            while sum(1 for _ in open(os.path.join(folder, "arrived"))) < 4:
                if time.monotonic() > deadline:
                    raise TimeoutError("the four tasks never ran at once")
                time.sleep(0.05)
            return socket.gethostname()

        if __name__ == "__main__":
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.set_launcher("slurm", job_name="JOB_NAME")
            print(sorted(set(dummymp.map(meet, [sys.argv[1]] * 4))))
    """.replace("JOB_NAME", unique_name("spread")), "salloc", "--nodes=2", "--ntasks=4", "--immediate=%d" % PATIENCE, "--quiet")
    assert done.returncode == 0, done.stderr
    nodes = eval(done.stdout.splitlines()[-1])
    assert len(nodes) == 2 and all(n.startswith("node") for n in nodes), nodes


def test_killall_cancels_the_running_steps(cluster, tmp_path):
    name = unique_name("killall")
    done = run_script(tmp_path, """\
        import sys, time
        import dummymp

        if __name__ == "__main__":
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.set_launcher("slurm", job_name="JOB_NAME")
            dummymp.run(time.sleep, 600)
            deadline = time.monotonic() + 120
            while not dummymp.getSpawnProcPIDs():
                assert time.monotonic() < deadline, "the step never started"
                dummymp.process_process()
                dummymp.default().wait(0.1)
            print("started", flush=True)
            dummymp.killall()
            print(dummymp.outcome(0).kind)
    """.replace("JOB_NAME", name))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["started", "killed"]
    deadline = time.monotonic() + PATIENCE
    while steps_named(name):
        assert time.monotonic() < deadline, "the step is still in squeue"
        time.sleep(0.05)
