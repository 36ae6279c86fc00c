"""The original's API (SPEC section 1), one behaviour per test, on the
module-level functions."""

import logging
import os
import time

import pytest

import dummymp
import tasks
from conftest import PATIENCE


def test_run_queues_and_process_until_done_runs(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    assert dmp.run(tasks.square, 3) == 0
    assert dmp.run(tasks.square, 4) == 1
    assert dmp.get_returns() == {}, "nothing runs before the queue is processed"
    dmp.process_until_done()
    assert dmp.get_returns() == {0: 9, 1: 16}


def test_returns_are_keyed_by_call_order_and_none_is_kept(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.identity, "a")
    dmp.run(tasks.nothing)
    dmp.run(tasks.add, 1, 2, c=3)
    dmp.run(tasks.add, a=5)
    dmp.process_until_done()
    assert dmp.get_returns() == {0: "a", 1: None, 2: 6, 3: 5}


def test_arguments_are_copied_at_queue_time(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    items = [1]
    dmp.run(tasks.append_and_return, items, 2)
    items.append("changed after run")
    dmp.process_until_done()
    assert dmp.get_returns()[0] == [1, 2]
    assert items == [1, "changed after run"], "the task works on its own copy"


def test_deepcopy_settings_are_accepted(dmp):
    dmp.set_args_deepcopy(False)
    dmp.set_kwargs_deepcopy(False)
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.add, 1, b=2)
    dmp.process_until_done()
    assert dmp.get_returns() == {0: 3}


def test_process_process_is_true_only_when_nothing_is_queued_or_running(dmp):
    assert dmp.process_process() is True, "an empty queue is done"
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.square, 5)
    assert dmp.process_process() is False
    deadline = time.monotonic() + PATIENCE
    while not dmp.process_process():
        # False: the task is still queued or running.
        completed, running, total = dummymp.default().progress()
        assert (completed, total) == (0, 1), (completed, running, total)
        assert time.monotonic() < deadline, "the task never ended"
        dmp.process_queue()
        dummymp.default().wait(0.05)
    # True: nothing queued or running any more.
    assert dummymp.default().progress() == (1, 0, 1)
    assert dmp.get_returns() == {0: 25}


def test_get_returns_is_the_live_dictionary_until_reset(dmp):
    returns = dmp.get_returns()
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.square, 2)
    dmp.process_until_done()
    assert returns == {0: 4}, "the dictionary fills as tasks end"
    dmp.reset()
    assert dmp.get_returns() == {}
    assert returns == {0: 4}, "reset starts a new dictionary"


def test_max_processes_caps_running_tasks(dmp):
    assert dmp.get_max_processes() == 0
    dmp.set_max_processes(1)
    assert dmp.get_max_processes() == 1
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    running = []
    dmp.set_start_callback(lambda completed, now_running, total: running.append(now_running))
    for x in range(3):
        dmp.run(tasks.square, x)
    dmp.process_until_done()
    assert running == [1, 1, 1]
    assert dmp.get_returns() == {0: 0, 1: 1, 2: 4}


def test_priority_modes_have_the_original_numbers(dmp):
    assert (dmp.DUMMYMP_GENEROUS, dmp.DUMMYMP_NORMAL, dmp.DUMMYMP_AGGRESSIVE,
            dmp.DUMMYMP_EXTREME, dmp.DUMMYMP_NUCLEAR) == (15, 0, -5, -10, -20)
    assert dmp.get_priority_mode() == dmp.DUMMYMP_NORMAL
    for mode in (15, 0, -5, -10, -20):
        dmp.set_priority_mode(mode)
        assert dmp.get_priority_mode() == mode
    dmp.set_priority_mode("aggressive")
    assert dmp.get_priority_mode() is dummymp.Priority.AGGRESSIVE
    with pytest.raises(ValueError):
        dmp.set_priority_mode(7)
    assert dmp.get_priority_mode() is dummymp.Priority.AGGRESSIVE


def test_cpu_counts(dmp):
    usable = len(os.sched_getaffinity(0))
    assert 1 <= dmp.getTotalCPUs() <= usable
    assert dmp.getTotalCPUs() <= os.cpu_count()
    assert 0 <= dmp.getCPUAvail() <= dmp.getTotalCPUs()
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    assert dmp.getCPUAvail() == dmp.getTotalCPUs(), "NUCLEAR uses every usable CPU"


def test_callbacks_get_completed_running_and_total(dmp):
    starts, ends = [], []
    dmp.set_start_callback(lambda *counts: starts.append(counts))
    dmp.set_end_callback(lambda *counts: ends.append(counts))
    dmp.set_max_processes(1)
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.square, 1)
    dmp.run(tasks.raises, "an end all the same")
    dmp.process_until_done()
    assert starts == [(0, 1, 2), (1, 1, 2)]
    assert ends == [(1, 0, 2), (2, 0, 2)]


def test_killall_ends_running_tasks_and_keeps_returns(dmp, tmp_path):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_max_processes(2)
    ends = []
    dmp.set_end_callback(lambda *counts: ends.append(counts))
    dmp.run(tasks.square, 6)
    dmp.process_until_done()
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    dmp.run(tasks.wait_for_fifo, fifo)
    dmp.process_process()
    [pid] = dummymp.default().running_pids()
    dmp.killall()
    assert dmp.get_returns() == {0: 36}, "returns already received are kept"
    assert dmp.outcome(1).kind == "killed"
    assert ends[-1] == (2, 0, 2), "the killed task counts as completed"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killall waited: nothing is left, not even a zombie


def test_killall_leaves_queued_tasks_queued(dmp, tmp_path):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_max_processes(1)
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    dmp.run(tasks.wait_for_fifo, fifo)
    dmp.run(tasks.square, 3)
    dmp.process_process()
    dmp.killall()
    dmp.process_until_done()
    assert dmp.get_returns() == {1: 9}
    assert dmp.outcome(0).kind == "killed"


def test_reset_restores_defaults_and_drops_state(dmp):
    dmp.set_max_processes(3)
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_start_callback(lambda *counts: pytest.fail("callbacks are dropped by reset"))
    dmp.set_start_callback(None)
    dmp.run(tasks.square, 2)
    dmp.process_until_done()
    called = []
    dmp.set_end_callback(lambda *counts: called.append(counts))
    dmp.reset()
    assert dmp.get_max_processes() == 0
    assert dmp.get_priority_mode() == dmp.DUMMYMP_NORMAL
    assert dmp.get_returns() == {}
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    assert dmp.run(tasks.square, 3) == 0, "call indices start again from 0"
    dmp.process_until_done()
    assert dmp.get_returns() == {0: 9}
    assert called == [], "the end callback was dropped"


def test_get_version():
    assert dummymp.get_version() == dummymp.__version__
    assert dummymp.get_version().count(".") == 2


def test_the_version_sorts_after_the_originals():
    # So that `pip install` replaces an installed original (0.5b2).
    version = pytest.importorskip("pip._vendor.packaging.version")
    assert version.Version(dummymp.__version__) > version.Version("0.5b2")


def test_star_import_gives_the_original_names():
    names = {}
    exec("from dummymp import *", names)
    for name in ("run", "process_process", "process_queue", "process_until_done", "get_returns",
                 "set_max_processes", "get_max_processes", "set_priority_mode", "get_priority_mode",
                 "getCPUAvail", "getTotalCPUs", "set_start_callback", "set_end_callback", "killall",
                 "reset", "set_args_deepcopy", "set_kwargs_deepcopy", "get_version",
                 "DUMMYMP_GENEROUS", "DUMMYMP_NORMAL", "DUMMYMP_AGGRESSIVE", "DUMMYMP_EXTREME",
                 "DUMMYMP_NUCLEAR"):
        assert name in names, name
    assert "map" not in names, "the built-in map is not shadowed"


def test_task_log_records_reach_the_parents_logging(dmp, caplog):
    caplog.set_level(logging.DEBUG)
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_output_mode("captured")
    dmp.run(tasks.chatty, 7)
    dmp.process_until_done()
    pid = dmp.outcome(0).pid
    seen = [(r.name, r.levelname, r.getMessage(), r.process, r.funcName)
            for r in caplog.records if not r.name.startswith("dummymp")]
    assert seen == [
        ("tasks.chatty", "WARNING", "[PID %d] warned 7" % pid, pid, "chatty"),
        ("root", "INFO", "[PID %d] info 7" % pid, pid, "chatty"),
        ("root", "DEBUG", "[PID %d] debug 7" % pid, pid, "chatty"),
        ("root", "CRITICAL", "[PID %d] critical 7" % pid, pid, "chatty"),
    ]
    assert all(r.pathname.endswith("tasks.py") for r in caplog.records if not r.name.startswith("dummymp"))


def test_records_below_the_parents_level_are_filtered(dmp, caplog):
    caplog.set_level(logging.WARNING)
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_output_mode("captured")
    dmp.run(tasks.chatty, 1)
    dmp.process_until_done()
    levels = [r.levelname for r in caplog.records if not r.name.startswith("dummymp")]
    assert levels == ["WARNING", "CRITICAL"]


def test_logged_exceptions_keep_their_traceback(dmp, caplog):
    caplog.set_level(logging.INFO)
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.logs_exception)
    dmp.process_until_done()
    [record] = [r for r in caplog.records if r.name == "root"]
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith("[PID ")
    assert "caught\nTraceback (most recent call last):" in record.getMessage()
    assert "KeyError: 'inner'" in record.getMessage()
    assert dmp.get_returns() == {0: "ok"}


def test_printed_lines_reach_stdout_untouched(dmp, capfd):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    assert dmp.get_output_mode() == "untagged", "as the original's tasks printed"
    dmp.run(tasks.chatty, 3)
    dmp.process_until_done()
    out, err = capfd.readouterr()
    assert out.splitlines() == ["printed 3"]
    assert err.splitlines() == ["to stderr 3"]


def test_tagging_stays_available(dmp, capfd):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_output_mode("tagged")
    dmp.run(tasks.chatty, 3)
    dmp.process_until_done()
    pid = dmp.outcome(0).pid
    out, err = capfd.readouterr()
    assert out == "[PID %d] printed 3\n" % pid
    assert err == "[PID %d] to stderr 3\n" % pid


def test_output_can_be_captured(dmp, capfd):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.set_output_mode("captured")
    dmp.run(tasks.chatty, 4)
    dmp.process_until_done()
    assert dmp.outcome(0).stdout == b"printed 4\n"
    assert dmp.outcome(0).stderr == b"to stderr 4\n"
    assert "printed 4" not in capfd.readouterr().out
