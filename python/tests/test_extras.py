"""The typed extras for new code: outcome(), map(), DummyMP as a context
manager, per-task options, kill(), worker reuse."""

import os
import pickle

import pytest

import dummymp
import tasks


def test_outcome_says_how_each_task_ended(mp):
    mp.run(tasks.square, 3)
    mp.run(tasks.raises, "no")
    mp.run(tasks.exits, 5)
    mp.run(tasks.unpicklable_return)
    assert mp.outcome(0) is None, "not run yet"
    mp.process_until_done()
    returned, raised, exited, failed = (mp.outcome(i) for i in range(4))
    assert (returned.kind, returned.value, returned.ok, returned.result()) == ("returned", 9, True, 9)
    assert returned.pid is not None and returned.attempts == 1
    assert (raised.kind, raised.exception, raised.message, raised.ok) == ("raised", "ValueError", "no", False)
    assert str(raised) == "task 1 raised ValueError: no"
    assert (exited.kind, exited.code) == ("exited", 5)
    assert failed.kind == "failed"
    assert failed.reason.startswith("cannot pickle the return value of unpicklable_return")
    assert set(mp.outcomes()) == {0, 1, 2, 3}


def test_outcomes_and_task_errors_pickle(mp):
    mp.run(tasks.raises, "again")
    mp.process_until_done()
    outcome = mp.outcome(0)
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    with pytest.raises(AttributeError):
        outcome.kind = "returned"
    error = pickle.loads(pickle.dumps(dummymp.TaskError(outcome)))
    assert (error.outcome, str(error)) == (outcome, str(dummymp.TaskError(outcome)))


def test_the_module_level_outcome(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    dmp.run(tasks.raises, "oops")
    dmp.process_until_done()
    assert dummymp.outcome(0).exception == "ValueError"
    assert dummymp.outcome(1) is None


def test_map_returns_values_in_item_order(mp):
    mp.set_max_processes(2)
    assert mp.map(tasks.square, [3, 1, 2]) == [9, 1, 4]
    assert mp.map(tasks.add, [1, 2], [10, 20]) == [11, 22]
    assert mp.map(tasks.square, []) == []


def test_map_raises_task_error_naming_the_failed_items(mp):
    with pytest.raises(dummymp.TaskError) as error:
        mp.map(tasks.raises, ["first", "second"])
    assert [o.message for o in error.value.failed] == ["first", "second"]
    assert error.value.outcome.index == 0
    assert "The task's traceback:" in str(error.value)
    assert "(and 1 more tasks failed)" in str(error.value)


def test_module_level_map(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    assert dummymp.map(tasks.square, range(3)) == [0, 1, 4]


def test_leaving_a_with_block_ends_its_tasks(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with dummymp.DummyMP() as mp:
        mp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
        mp.set_reuse_workers(True)
        mp.set_max_processes(2)
        # Two workers, started together; one stays idle below.
        workers = mp.map(tasks.pid_of, ["a", "b"])
        mp.set_max_processes(1)
        mp.run(tasks.wait_for_fifo, fifo)
        mp.run(tasks.square, 2)
        mp.process_process()
        [pid] = mp.running_pids()
    assert [mp.outcome(i).kind for i in (2, 3)] == ["killed", "killed"]
    assert len(set(workers)) == 2 and pid in workers
    for gone in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(gone, 0)


def test_a_with_block_ends_its_tasks_on_an_exception(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with pytest.raises(RuntimeError):
        with dummymp.DummyMP() as mp:
            mp.set_priority_mode(dummymp.DUMMYMP_NUCLEAR)
            mp.run(tasks.wait_for_fifo, fifo)
            mp.process_process()
            raise RuntimeError("leaving")
    assert mp.outcome(0).kind == "killed"


def test_timeout_and_retries(mp):
    mp.run_with(tasks.sleep, (60,), timeout=0.3)
    mp.run_with(tasks.exits, (9,), retries=1)
    mp.process_until_done()
    assert mp.outcome(0).kind == "timed_out"
    assert (mp.outcome(1).kind, mp.outcome(1).attempts) == ("exited", 2)


def test_kill_one_task(mp):
    mp.run(tasks.sleep, 60)
    mp.run(tasks.square, 7)
    assert mp.kill(0) is True
    mp.process_until_done()
    assert mp.outcome(0).kind == "killed"
    assert mp.get_returns() == {1: 49}
    assert mp.kill(0) is False, "it has ended"


def test_each_task_is_a_fresh_copy_by_default(mp):
    assert mp.get_reuse_workers() is False
    mp.set_max_processes(1)
    mp.run(tasks.set_global_and_read, "first")
    mp.run(tasks.set_global_and_read, "second")
    mp.run(tasks.pid)
    mp.run(tasks.pid)
    mp.process_until_done()
    returns = mp.get_returns()
    assert (returns[0], returns[1]) == (None, None), "each starts from this process's state"
    assert returns[2] != returns[3]


def test_reused_workers_run_task_after_task(mp):
    mp.set_reuse_workers(True)
    mp.set_max_processes(1)
    for _ in range(3):
        mp.run(tasks.pid)
    mp.run(tasks.set_global_and_read, "first")
    mp.run(tasks.set_global_and_read, "second")
    mp.process_until_done()
    returns = mp.get_returns()
    assert returns[0] == returns[1] == returns[2], "one worker ran them all"
    assert (returns[3], returns[4]) == (None, "first"), "tasks of one worker share its module state"
    mp.reset()
    assert mp.get_reuse_workers() is False, "reset restores the default"


def test_a_reused_worker_follows_the_working_directory(mp, tmp_path):
    mp.set_reuse_workers(True)
    mp.set_max_processes(1)
    mp.run(tasks.chdir_and_getcwd, str(tmp_path))
    mp.run(tasks.getcwd)
    mp.run(tasks.pid)
    mp.run(tasks.pid)
    mp.process_until_done()
    returns = mp.get_returns()
    assert returns[2] == returns[3], "one worker"
    assert returns[0] == str(tmp_path)
    assert returns[1] == os.getcwd(), "the next task starts in the parent's directory"


def test_capacity_runs_more_tasks_than_cpus(mp):
    mp.set_capacity(mp.getTotalCPUs() + 2)
    assert mp.getCPUAvail() == mp.getTotalCPUs() + 2
    most = []
    mp.set_start_callback(lambda completed, running, total: most.append(running))
    for _ in range(mp.getTotalCPUs() + 2):
        mp.run(tasks.sleep, 0)
    mp.process_process()
    assert max(most) == mp.getTotalCPUs() + 2
    mp.process_until_done()


def test_settings_round_trip(mp):
    mp.set_output_mode("untagged")
    assert mp.get_output_mode() == "untagged"
    with pytest.raises(ValueError):
        mp.set_output_mode("loud")
    mp.set_kill_grace(0.25)
    assert mp.get_kill_grace() == 0.25
    assert mp.get_machine_cpus() >= mp.getTotalCPUs()
    assert "NUCLEAR" in repr(mp)
