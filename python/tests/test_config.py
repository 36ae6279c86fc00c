"""``dummymp.config``, the original's configuration module: its tables,
custom priority modes made as the original's guide shows, and the state
its users read or set."""

import pytest

import dummymp
import tasks
from dummymp import config


def engine_mode():
    return dummymp.default()._native.priority_mode()


def test_the_tables_hold_the_original_modes(dmp):
    assert config.DUMMYMP_THRESHOLD == {15: 20, 0: 30, -5: 50, -10: 80, -20: float("inf")}
    assert config.DUMMYMP_MINTERVAL == {15: 0.5, 0: 0.35, -5: 0.2, -10: 0.1, -20: 0.1}
    assert config.DUMMYMP_MREFRESH == {15: 5, 0: 10, -5: 20, -10: 30, -20: False}
    assert config.DUMMYMP_STRING == {
        15: "Generous", 0: "Normal", -5: "Aggressive", -10: "Extreme", -20: "Nuclear"
    }
    assert (config.DUMMYMP_GENEROUS, config.DUMMYMP_NUCLEAR) == (15, -20)


def test_a_custom_mode_made_as_the_guide_shows(dmp):
    DUMMYMP_CUSTOM = -3
    dmp.config.DUMMYMP_THRESHOLD[DUMMYMP_CUSTOM] = 75
    dmp.config.DUMMYMP_MINTERVAL[DUMMYMP_CUSTOM] = 0.3
    dmp.config.DUMMYMP_MREFRESH[DUMMYMP_CUSTOM] = 12
    dmp.config.DUMMYMP_STRING[DUMMYMP_CUSTOM] = "Custom"
    dmp.set_priority_mode(DUMMYMP_CUSTOM)
    assert dmp.get_priority_mode() == -3
    assert config.DUMMYMP_MODE == -3
    # Its other rules come from the nearest built-in mode on the politer
    # side of -3: Normal (0).
    assert engine_mode() == ("Custom", 75.0, 0.3, 12.0, "normal")
    dmp.run(tasks.square, 4)
    dmp.process_until_done()
    assert dmp.get_returns() == {0: 16}


def test_a_custom_mode_counts_nobody_above_its_threshold(dmp):
    # Above 1000 % of one CPU: no process of a 2-CPU machine, and not all
    # of them together, so every usable CPU is available.
    for table, value in (("THRESHOLD", 1000), ("MINTERVAL", 0.1), ("MREFRESH", 5), ("STRING", "Blind")):
        getattr(config, "DUMMYMP_" + table)[-15] = value
    dmp.set_priority_mode(-15)
    assert engine_mode()[4] == "extreme", "the nearest built-in mode above -15 is Extreme (-10)"
    assert dmp.getCPUAvail() == dmp.getTotalCPUs()
    assert config.CPU_AVAIL == dmp.getTotalCPUs()


def test_changed_tables_are_read_again_when_the_queue_is_processed(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NORMAL)
    assert engine_mode() == ("normal", 30.0, 0.35, 10.0, "normal")
    config.DUMMYMP_THRESHOLD[dmp.DUMMYMP_NORMAL] = 40
    dmp.process_process()
    assert engine_mode() == ("Normal", 40.0, 0.35, 10.0, "normal")
    assert dmp.get_priority_mode() is dummymp.Priority.NORMAL
    dmp.reset()
    assert config.DUMMYMP_THRESHOLD[dmp.DUMMYMP_NORMAL] == 30, "reset puts the tables back"
    assert engine_mode() == ("normal", 30.0, 0.35, 10.0, "normal")


def test_a_mode_the_tables_do_not_have_is_refused(dmp):
    with pytest.raises(ValueError, match="DUMMYMP_THRESHOLD"):
        dmp.set_priority_mode(-3)
    config.DUMMYMP_THRESHOLD[-3] = 75
    config.DUMMYMP_MINTERVAL[-3] = 0.3
    config.DUMMYMP_MREFRESH[-3] = False
    config.DUMMYMP_STRING[-3] = "Custom"
    with pytest.raises(ValueError, match="re-measure interval"):
        dmp.set_priority_mode(-3)
    assert dmp.get_priority_mode() is dummymp.Priority.NORMAL, "the mode set before stays"
    dmp.reset()
    assert -3 not in config.DUMMYMP_THRESHOLD


def test_the_state_the_original_kept_in_config(dmp):
    dmp.set_priority_mode(dmp.DUMMYMP_NUCLEAR)
    config.max_processes = 1
    assert dmp.get_max_processes() == 1
    seen = []

    def on_end(completed, running, total):
        seen.append((config.total_completed, config.total_running, config.total_procs, config.CPU_AVAIL))

    config.PROCESS_END_CALLBACK = on_end
    assert config.PROCESS_END_CALLBACK is on_end
    for x in range(3):
        dmp.run(tasks.square, x)
    assert config.total_procs == 3
    dmp.process_until_done()
    usable = dmp.getTotalCPUs()
    assert seen == [(1, 0, 3, usable), (2, 0, 3, usable), (3, 0, 3, usable)]
    assert config.dummymp_rets is dmp.get_returns()
    assert config.dummymp_rets == {0: 0, 1: 1, 2: 4}
    config.DUMMYMP_MODE = dmp.DUMMYMP_GENEROUS
    assert dmp.get_priority_mode() is dummymp.Priority.GENEROUS
    config.DUMMYMP_ARGS_DEEPCOPY = False
    config.DUMMYMP_KWARGS_DEEPCOPY = False
    assert (dmp.default()._args_deepcopy, dmp.default()._kwargs_deepcopy) == (False, False)
    with pytest.raises(AttributeError):
        config.total_completed = 0
