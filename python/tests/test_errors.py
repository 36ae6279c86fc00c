"""Errors are the Python exceptions that fit: ValueError and TypeError for
usage mistakes, TimeoutError for a task that timed out, dummymp.Error for
the rest; a refusal names the object that could not be sent."""

import threading

import pytest

import dummymp
import tasks

try:
    import cloudpickle  # noqa: F401

    HAVE_CLOUDPICKLE = True
except ImportError:
    HAVE_CLOUDPICKLE = False


def test_usage_mistakes_raise_value_and_type_errors(mp):
    with pytest.raises(TypeError, match="only run a callable"):
        mp.run(42)
    with pytest.raises(ValueError):
        mp.set_priority_mode(7)
    with pytest.raises(ValueError):
        mp.set_priority_mode("lazy")
    with pytest.raises(TypeError):
        mp.set_priority_mode(1.5)
    with pytest.raises(ValueError):
        mp.set_output_mode("loud")
    with pytest.raises(ValueError):
        mp.set_kill_grace(-1)
    with pytest.raises(ValueError):
        mp.run_with(tasks.square, (1,), timeout=-1)
    assert mp.progress() == (0, 0, 0), "nothing was queued"


@pytest.mark.skipif(HAVE_CLOUDPICKLE, reason="cloudpickle sends these by value")
def test_a_refusal_names_the_object_that_cannot_be_sent(mp):
    mp.set_reuse_workers(True)
    with pytest.raises(TypeError) as refused:
        mp.run(tasks.uses_the_lock, threading.Lock())
    message = str(refused.value)
    assert "cannot send argument 0 (<unlocked _thread.lock" in message
    assert "cannot pickle '_thread.lock' object" in message
    with pytest.raises(TypeError, match="cannot send keyword argument lock="):
        mp.run(tasks.uses_the_lock, lock=threading.Lock())
    with pytest.raises(TypeError, match="cannot send the function <function .*<lambda>"):
        mp.run(lambda: 1)
    assert mp.progress() == (0, 0, 0), "nothing was queued"


def test_a_task_that_timed_out_raises_timeout_error(mp):
    mp.run_with(tasks.sleep, (60,), timeout=0.2)
    mp.process_until_done()
    with pytest.raises(TimeoutError) as error:
        mp.outcome(0).result()
    assert isinstance(error.value, dummymp.TaskTimeoutError)
    assert isinstance(error.value, dummymp.TaskError)
    assert isinstance(error.value, dummymp.Error)
    assert error.value.outcome.kind == "timed_out"


def test_task_errors_are_dummymp_errors(mp):
    with pytest.raises(dummymp.Error) as error:
        mp.map(tasks.raises, ["no"])
    assert type(error.value) is dummymp.TaskError
    assert not isinstance(error.value, OSError)
    assert dummymp.Error.__module__ == "dummymp"
