"""What the command-line tool and the library can set, the Python package
sets too, under the library's names: niceness of tasks, delay between
starts, memory a task needs, output mode, default timeouts and retries,
kill grace period, launcher, reuse of workers, start method."""

import os

import pytest

import dummymp
import tasks


def test_niceness_of_tasks(mp):
    assert mp.get_nice() is None
    mp.set_nice(5)
    assert mp.get_nice() == 5
    mp.run(tasks.niceness)
    mp.process_until_done()
    mp.set_nice(100)
    assert mp.get_nice() == 19, "clamped as nice(1) does"
    mp.run(tasks.niceness)
    mp.process_until_done()
    own = os.nice(0)
    assert mp.get_returns() == {0: min(own + 5, 19), 1: 19}


def test_delay_between_starts(mp):
    assert mp.get_start_delay() is None
    mp.set_start_delay(0.3)
    assert mp.get_start_delay() == 0.3
    for _ in range(3):
        mp.run(tasks.square, 1)
    mp.process_until_done()
    starts = sorted(mp.outcome(i).started_at for i in range(3))
    assert all(b - a >= 0.3 for a, b in zip(starts, starts[1:])), starts
    mp.set_start_delay(None)
    assert mp.get_start_delay() is None
    with pytest.raises(ValueError):
        mp.set_start_delay(-1)


def test_memory_a_task_needs(mp):
    assert mp.get_memory_per_task() is None
    mp.set_memory_per_task(1 << 60)
    assert mp.get_memory_per_task() == 1 << 60
    mp.run(tasks.square, 2)
    mp.run_with(tasks.square, (3,), memory=1 << 20)
    mp.process_until_done()
    assert mp.outcome(0).kind == "failed_to_start"
    assert "of memory" in mp.outcome(0).reason
    assert mp.get_returns() == {1: 9}, "a task's own need wins"
    with pytest.raises(ValueError):
        mp.set_memory_per_task(-1)


def test_default_timeout_and_retries(mp):
    assert mp.get_task_options() == {"timeout": None, "retries": 0, "cpus": 1, "memory": None}
    mp.set_task_options(timeout=0.3, retries=1)
    assert mp.get_task_options() == {"timeout": 0.3, "retries": 1, "cpus": 1, "memory": None}
    mp.run(tasks.sleep, 60)
    mp.run(tasks.exits, 4)
    mp.run_with(tasks.exits, (5,), retries=0)
    mp.process_until_done()
    assert (mp.outcome(0).kind, mp.outcome(0).attempts) == ("timed_out", 2)
    assert (mp.outcome(1).kind, mp.outcome(1).attempts) == ("exited", 2)
    assert (mp.outcome(2).kind, mp.outcome(2).attempts) == ("exited", 1), "its own options win"
    with pytest.raises(ValueError):
        mp.set_task_options(cpus=0)


def test_kill_grace_and_output_mode(mp):
    mp.set_kill_grace(0.25)
    assert mp.get_kill_grace() == 0.25
    with pytest.raises(ValueError):
        mp.set_kill_grace(-1)
    assert mp.get_output_mode() == "untagged"
    for mode in ("tagged", "captured", "untagged"):
        mp.set_output_mode(mode)
        assert mp.get_output_mode() == mode


def test_launcher(mp, monkeypatch):
    assert mp.get_launcher() == "local"
    mp.set_launcher("local")
    with pytest.raises(ValueError, match="no launcher"):
        mp.set_launcher("cloud")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ValueError, match="srun is not on PATH"):
        mp.set_launcher("slurm")
    assert mp.get_launcher() == "local", "the launcher set before stays"


def test_start_method(mp):
    assert mp.get_start_method() == "fork"
    mp.set_start_method("spawn")
    mp.run(tasks.pid)
    mp.process_until_done()
    assert mp.outcome(0).ok
    with pytest.raises(ValueError):
        mp.set_start_method("forkserver")


def test_every_setting_at_module_level(dmp):
    dmp.set_nice(3)
    dmp.set_start_delay(0.01)
    dmp.set_memory_per_task(1 << 30)
    dmp.set_task_options(timeout=9, retries=2)
    dmp.set_kill_grace(0.5)
    dmp.set_output_mode("tagged")
    dmp.set_reuse_workers(True)
    dmp.set_start_method("spawn")
    dmp.set_launcher("local")
    assert (dmp.get_nice(), dmp.get_start_delay(), dmp.get_memory_per_task()) == (3, 0.01, 1 << 30)
    assert dmp.get_task_options() == {"timeout": 9.0, "retries": 2, "cpus": 1, "memory": None}
    assert (dmp.get_kill_grace(), dmp.get_output_mode()) == (0.5, "tagged")
    assert (dmp.get_reuse_workers(), dmp.get_start_method(), dmp.get_launcher()) == (True, "spawn", "local")
    dmp.reset()
    assert (dmp.get_nice(), dmp.get_start_delay(), dmp.get_memory_per_task()) == (None, None, None)
    assert dmp.get_task_options()["timeout"] is None
    assert (dmp.get_output_mode(), dmp.get_reuse_workers(), dmp.get_start_method()) == ("untagged", False, "fork")
