"""The original's defects (SPEC section 3), each as a test that ours does
not have it."""

import logging
import os
import select
import subprocess
import sys
import textwrap

import pytest

import dummymp
import tasks


def test_a_task_logging_ten_thousand_records_keeps_its_return(mp, caplog):
    caplog.set_level(logging.INFO, logger="tasks.many")
    mp.run(tasks.logs_many, 10_000, "kept")
    mp.process_until_done()
    assert mp.get_returns() == {0: "kept"}
    messages = [r.getMessage() for r in caplog.records if r.name == "tasks.many"]
    assert len(messages) == 10_000
    assert messages[-1].endswith("] record 9999")


def test_twenty_tasks_logging_ninety_records_keep_every_return(mp, caplog):
    # The original lost 20 of 20 returns at 90 records per task.
    caplog.set_level(logging.INFO, logger="tasks.many")
    mp.set_reuse_workers(True)
    mp.set_max_processes(2)
    for i in range(20):
        mp.run(tasks.logs_many, 90, i)
    mp.process_until_done()
    assert mp.get_returns() == {i: i for i in range(20)}
    assert sum(r.name == "tasks.many" for r in caplog.records) == 20 * 90


def test_a_task_that_raises_gives_its_exception_and_traceback(mp, caplog):
    caplog.set_level(logging.WARNING)
    mp.set_output_mode("captured")
    mp.run(tasks.raises, "bad value")
    mp.run(tasks.raises_custom)
    mp.process_until_done()
    assert mp.get_returns() == {}
    first, second = mp.outcome(0), mp.outcome(1)
    assert (first.kind, first.exception, first.message) == ("raised", "ValueError", "bad value")
    assert first.traceback.startswith("Traceback (most recent call last):")
    assert 'in raises\n    raise ValueError(message)' in first.traceback
    assert first.stderr.decode() == first.traceback, "printed in the worker, as multiprocessing did"
    assert second.exception == "tasks.CustomError"
    warnings = sorted(r.getMessage() for r in caplog.records if r.name == "dummymp")
    assert warnings == sorted([
        "[PID %d] task 0 (raises) raised ValueError: bad value" % first.pid,
        "[PID %d] task 1 (raises_custom) raised tasks.CustomError: custom" % second.pid,
    ])
    with pytest.raises(dummymp.TaskError, match="raised ValueError: bad value") as error:
        first.result()
    assert error.value.outcome is first


def test_a_task_that_dies_leaves_a_trace(mp):
    mp.run(tasks.exits, 3)
    mp.run(tasks.calls_sys_exit, 4)
    mp.process_until_done()
    assert (mp.outcome(0).kind, mp.outcome(0).code) == ("exited", 3)
    assert (mp.outcome(1).kind, mp.outcome(1).exception) == ("raised", "SystemExit")
    assert mp.outcome(1).message == "4"


# In GENEROUS with every CPU busy, the original's process_until_done
# returned with nothing run: test_priority.py,
# test_generous_waits_while_every_cpu_is_busy_then_runs.


def test_cpu_counts_honour_cpu_affinity():
    code = "import os, dummymp; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); print(dummymp.getTotalCPUs())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"


def test_killall_leaves_no_process_behind(mp):
    mp.set_max_processes(2)
    mp.run(tasks.sleep, 60)
    mp.run(tasks.sleep, 60)
    mp.process_process()
    pids = mp.running_pids()
    assert len(pids) == 2
    mp.killall()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert [mp.outcome(i).kind for i in (0, 1)] == ["killed", "killed"]


def test_tasks_end_when_the_parent_dies(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""\
        import os, sys, time
        import dummymp
        if __name__ == "__main__":
            dummymp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            dummymp.run(time.sleep, 600)
            dummymp.process_process()
            print(dummymp.getSpawnProcPIDs()[0], flush=True)
            os.kill(os.getpid(), 9)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    worker = int(done.stdout.split()[0])
    try:
        pidfd = os.pidfd_open(worker)
    except ProcessLookupError:
        return  # already gone
    try:
        # Readable once the worker has exited; it would sleep 600 s otherwise.
        readable, _, _ = select.select([pidfd], [], [], 60)
        assert readable, "the worker outlived its parent"
    finally:
        os.close(pidfd)


def test_two_queues_are_independent():
    with dummymp.DummyMP() as a, dummymp.DummyMP() as b:
        a.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        b.set_max_processes(1)
        b.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        a.run(tasks.square, 2)
        b.run(tasks.square, 3)
        b.run(tasks.square, 4)
        a.process_until_done()
        assert a.get_returns() == {0: 4}
        b.process_until_done()
        assert b.get_returns() == {0: 9, 1: 16}
        assert (a.get_max_processes(), b.get_max_processes()) == (0, 1)
