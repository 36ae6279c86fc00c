"""State and constants of the DummyMP port (the original's ``config.py``).

The original keeps all of its state in this module and resets it with
``reload(config)``; :func:`reinit` does the same here.
"""

import datetime

import psutil

# Priority modes.
DUMMYMP_GENEROUS = -1
DUMMYMP_NORMAL = -2
DUMMYMP_AGGRESSIVE = -3
DUMMYMP_EXTREME = -4
DUMMYMP_NUCLEAR = -9999

# A foreign process counts when its CPU use is above this many percent.
DUMMYMP_THRESHOLD = {
    DUMMYMP_GENEROUS: 20,
    DUMMYMP_NORMAL: 30,
    DUMMYMP_AGGRESSIVE: 50,
    DUMMYMP_EXTREME: 80,
    DUMMYMP_NUCLEAR: float("inf"),
}

# Sampling interval of one process-table poll, in seconds.
DUMMYMP_MINTERVAL = {
    DUMMYMP_GENEROUS: 0.5,
    DUMMYMP_NORMAL: 0.35,
    DUMMYMP_AGGRESSIVE: 0.2,
    DUMMYMP_EXTREME: 0.1,
    DUMMYMP_NUCLEAR: 0.1,
}

# Documented re-measure intervals. Only the one of the mode in force when
# the state is (re)initialised is used: set_priority_mode never updates
# CPU_CHECK_TIMEDELTA_THRESHOLD (a defect kept on purpose).
DUMMYMP_MREFRESH = {
    DUMMYMP_GENEROUS: 5,
    DUMMYMP_NORMAL: 10,
    DUMMYMP_AGGRESSIVE: 20,
    DUMMYMP_EXTREME: 30,
    DUMMYMP_NUCLEAR: False,
}

DUMMYMP_STRING = {
    DUMMYMP_GENEROUS: "Generous",
    DUMMYMP_NORMAL: "Normal",
    DUMMYMP_AGGRESSIVE: "Aggressive",
    DUMMYMP_EXTREME: "Extreme",
    DUMMYMP_NUCLEAR: "Nuclear",
}

# Message types on a child's queue.
DUMMYMP_LOG_ID = 1
DUMMYMP_RET_ID = 2


def reinit():
    """Puts every setting and all state back to the defaults."""
    global dummymp_queues, dummymp_procs, dummymp_start_procs, dummymp_rets
    global total_procs, total_completed, total_running, max_processes
    global DUMMYMP_MODE, CPU_AVAIL, LAST_CPU_CHECK, CPU_CHECK_TIMEDELTA_THRESHOLD
    global PROCESS_START_CALLBACK, PROCESS_END_CALLBACK
    global DUMMYMP_ARGS_DEEPCOPY, DUMMYMP_KWARGS_DEEPCOPY

    DUMMYMP_ARGS_DEEPCOPY = True
    DUMMYMP_KWARGS_DEEPCOPY = True

    # Per running child: its queue and its Process, at the same index.
    dummymp_queues = []
    dummymp_procs = []
    # Queued calls: [internal id, func, args list, kwargs].
    dummymp_start_procs = []
    dummymp_rets = {}

    total_procs = 0
    total_completed = 0
    total_running = 0

    max_processes = 0

    DUMMYMP_MODE = DUMMYMP_NORMAL

    CPU_AVAIL = psutil.cpu_count()
    LAST_CPU_CHECK = datetime.datetime(1900, 1, 1)
    if DUMMYMP_MODE != DUMMYMP_NUCLEAR:
        CPU_CHECK_TIMEDELTA_THRESHOLD = datetime.timedelta(
            seconds=DUMMYMP_MREFRESH[DUMMYMP_MODE]
        )
    else:
        CPU_CHECK_TIMEDELTA_THRESHOLD = None

    PROCESS_START_CALLBACK = None
    PROCESS_END_CALLBACK = None


reinit()
