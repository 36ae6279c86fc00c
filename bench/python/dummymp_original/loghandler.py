"""Forwards a child's log records to the parent (the original's
``loghandler.py``)."""

import logging
import os

from . import config


class DummyMPLogHandler(logging.Handler):
    """Puts every record on the child's queue as
    ``[[DUMMYMP_LOG_ID, pid, internal id], record]``."""

    def __init__(self, int_pid, queue):
        logging.Handler.__init__(self)
        self.queue = queue
        self.int_pid = int_pid

    def emit(self, record):
        try:
            self.queue.put([[config.DUMMYMP_LOG_ID, os.getpid(), self.int_pid], record])
        except Exception:
            self.handleError(record)
