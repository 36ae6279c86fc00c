"""What runs in the child (the original's ``process.py``)."""

import logging
import os
import time

from . import config
from .loghandler import DummyMPLogHandler


def _runner(process_id, dummymp_queue, func, *args, **kwargs):
    """Routes the child's logging to its queue, calls ``func``, sends the
    return value, then sleeps 0.1 s (the original's guard against losing
    the queue, which caps it at about 20 tasks per second with 2 slots)."""
    logger = logging.getLogger()
    logger.setLevel(logging.DEBUG)
    for hdlr in list(logger.handlers):
        logger.removeHandler(hdlr)
    logger.addHandler(DummyMPLogHandler(process_id, dummymp_queue))

    ret = func(*args, **kwargs)

    dummymp_queue.put([[config.DUMMYMP_RET_ID, os.getpid(), process_id], ret])

    time.sleep(0.1)
