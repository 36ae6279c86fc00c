"""A Python 3 port of the original DummyMP 0.5b1 (from PyRadmon), written
for the benchmarks only: its scheduling logic is the original's, unchanged,
defects included (see shared/SPEC.md sections 1-3). Only what Python 3
requires changed: relative imports, ``range``, an explicit ``fork`` start
method (what Python 2 always used), and ``reset()`` re-initialising the
state module instead of ``reload(config)``.
"""

from .config import (  # noqa: F401
    DUMMYMP_AGGRESSIVE,
    DUMMYMP_EXTREME,
    DUMMYMP_GENEROUS,
    DUMMYMP_NORMAL,
    DUMMYMP_NUCLEAR,
)
from .detect import getCPUAvail, getTotalCPUs  # noqa: F401
from .interface import (  # noqa: F401
    get_max_processes,
    get_priority_mode,
    get_returns,
    get_version,
    killall,
    reset,
    run,
    set_args_deepcopy,
    set_end_callback,
    set_kwargs_deepcopy,
    set_max_processes,
    set_priority_mode,
    set_start_callback,
)
from .taskmgr import process_process, process_queue, process_until_done  # noqa: F401
