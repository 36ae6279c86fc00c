"""The scheduler loop (the original's ``taskmgr.py``)."""

import logging
import multiprocessing
import time

from . import config
from .detect import getCPUAvail, needUpdateCPUAvail
from .process import _runner

# The original ran on Python 2, where multiprocessing always forks.
_mp = multiprocessing.get_context("fork")


def process_queue():
    """Takes at most one message from each child's queue (a defect kept on
    purpose: a chatty child can lose its return)."""
    logger = logging.getLogger()
    for dummymp_queue in config.dummymp_queues:
        if not dummymp_queue.empty():
            qout = dummymp_queue.get(timeout=0.001)
            if type(qout) != list:  # noqa: E721 (as the original)
                logger.warning("WARNING: Received invalid message from process! Message: %s" % str(qout))
                continue
            if qout[0][0] == config.DUMMYMP_LOG_ID:
                qout[1].msg = ("[PID %i] " % qout[0][1]) + qout[1].msg
                logger.handle(qout[1])
            elif qout[0][0] == config.DUMMYMP_RET_ID:
                config.dummymp_rets[qout[0][2]] = qout[1]
            else:
                logger.warning("WARNING: Received invalid message type! Message: %s" % str(qout))


def process_process():
    """Reaps finished children, then starts queued calls as the CPU
    availability allows. True when nothing is *running* (queued calls may
    remain: with no CPU free in Generous mode it returns True at once)."""
    nproc = 0
    while nproc < len(config.dummymp_procs):
        dummymp_proc = config.dummymp_procs[nproc]
        if (dummymp_proc not in config.dummymp_start_procs) and (not dummymp_proc.is_alive()):
            process_queue()
            pi = config.dummymp_procs.index(dummymp_proc)
            config.dummymp_queues[pi].close()
            config.dummymp_queues.pop(pi)
            config.dummymp_procs.pop(pi)
            logging.debug("Process complete!")
            config.total_completed += 1
            config.total_running -= 1
            if config.PROCESS_END_CALLBACK:
                config.PROCESS_END_CALLBACK(
                    config.total_completed, config.total_running, config.total_procs
                )
            nproc -= 1
        nproc += 1

    avail_cpus = getCPUAvail() - config.total_running

    if not needUpdateCPUAvail():
        nproc = 0
        while nproc < len(config.dummymp_start_procs):
            dummymp_proc_entry = config.dummymp_start_procs[nproc]
            if (config.max_processes == 0) or (config.total_running < config.max_processes):
                if (
                    (avail_cpus == 0)
                    and (config.total_running == 0)
                    and (config.DUMMYMP_MODE != config.DUMMYMP_GENEROUS)
                ):
                    avail_cpus += 1
                    logging.debug("Not in generous mode, so forcing one task to run.")
                if avail_cpus > 0:
                    logging.debug("%i CPUs available, spawning process!" % avail_cpus)
                    avail_cpus -= 1
                    q = _mp.Queue()
                    int_pid, func, final_args, final_kwargs = dummymp_proc_entry
                    final_args.insert(0, func)
                    final_args.insert(0, q)
                    final_args.insert(0, int_pid)
                    p = _mp.Process(target=_runner, args=final_args, kwargs=final_kwargs)
                    config.dummymp_queues.append(q)
                    config.dummymp_procs.append(p)
                    p.start()
                    config.dummymp_start_procs.remove(dummymp_proc_entry)
                    config.total_running += 1
                    if config.PROCESS_START_CALLBACK:
                        config.PROCESS_START_CALLBACK(
                            config.total_completed, config.total_running, config.total_procs
                        )
                    nproc -= 1
            else:
                logging.debug(
                    "Max processes limit of %i reached, waiting for process to terminate."
                    % config.max_processes
                )
            nproc += 1

    if len(config.dummymp_procs) == 0:
        logging.debug("All processes complete, returning True.")
        return True
    return False


def process_until_done():
    """Loops process_process and process_queue with a 1 ms sleep until
    nothing runs."""
    while not process_process():
        process_queue()
        time.sleep(0.001)
