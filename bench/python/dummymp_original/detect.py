"""CPU availability (the original's ``detect.py``): two psutil polls of
every process, a sampling interval apart, before anything starts."""

import datetime
import logging
import os
import time

import psutil

from . import config


def poll_procs(interval):
    """Sleeps ``interval``, then reads every process's user name, CPU
    percentage (since the previous poll of the same process) and status.
    Returns the processes, busiest first, and a count per status."""
    time.sleep(interval)
    procs = []
    procs_status = {}
    for p in psutil.process_iter():
        try:
            p.dict = p.as_dict(["username", "cpu_percent", "status"])
            try:
                procs_status[p.dict["status"]] += 1
            except KeyError:
                procs_status[p.dict["status"]] = 1
        except psutil.NoSuchProcess:
            pass
        else:
            procs.append(p)
    processes = sorted(procs, key=lambda p: p.dict["cpu_percent"], reverse=True)
    return (processes, procs_status)


def needUpdateCPUAvail():
    """True when the cached availability is too old (never in Nuclear)."""
    return not (
        (config.DUMMYMP_MODE == config.DUMMYMP_NUCLEAR)
        or (
            datetime.datetime.now() - config.LAST_CPU_CHECK
            <= config.CPU_CHECK_TIMEDELTA_THRESHOLD
        )
    )


def checkProcRunning():
    """Number of our children still alive."""
    running = 0
    for proc in config.dummymp_procs:
        if proc.is_alive():
            running += 1
    return running


def getProcPIDs():
    """Process ids of our children still alive."""
    pids = []
    for proc in config.dummymp_procs:
        if proc.is_alive():
            pids.append(proc.pid)
    return pids


def getTotalCPUs():
    """CPUs on the machine (affinity and quotas ignored, as the original)."""
    return psutil.cpu_count()


def getCPUAvail():
    """CPUs available under the priority mode: cached for the re-measure
    interval (and always in Nuclear), else measured by two polls of the
    mode's sampling interval, blocking."""
    checkProcRunning()

    if (config.DUMMYMP_MODE == config.DUMMYMP_NUCLEAR) or (
        datetime.datetime.now() - config.LAST_CPU_CHECK
        <= config.CPU_CHECK_TIMEDELTA_THRESHOLD
    ):
        return config.CPU_AVAIL

    ncpus = psutil.cpu_count()

    # "Make sure we aren't looking at ourselves": when as many of ours run
    # as CPUs were available, keep the old answer (and its timestamp).
    if config.total_running == config.CPU_AVAIL:
        return config.CPU_AVAIL

    logging.debug("Querying CPUs (%s mode)..." % (config.DUMMYMP_STRING[config.DUMMYMP_MODE]))

    dmp_pids = getProcPIDs()

    # Two polls: the first only primes psutil's per-process CPU counters.
    cur_state = poll_procs(config.DUMMYMP_MINTERVAL[config.DUMMYMP_MODE])
    cur_state = poll_procs(config.DUMMYMP_MINTERVAL[config.DUMMYMP_MODE])

    cpu_usage_percents = []
    for p in cur_state[0]:
        if (
            (p.dict["cpu_percent"] > config.DUMMYMP_THRESHOLD[config.DUMMYMP_MODE])
            and (p.pid != os.getpid())
            and (p.pid not in dmp_pids)
        ):
            cpu_usage_percents.append(p.dict["cpu_percent"])

    total_cpu_usage = sum(cpu_usage_percents)

    # Truncated, not rounded: one loop at 100.5 % leaves 0 of 2 CPUs.
    available_num_cpus = int(((ncpus * 100.0) - total_cpu_usage) / 100.0)

    logging.debug("Total external CPU usage: %i%%" % total_cpu_usage)
    logging.debug("Available CPUs: %i/%i" % (available_num_cpus, ncpus))

    config.CPU_AVAIL = available_num_cpus
    config.LAST_CPU_CHECK = datetime.datetime.now()
    return available_num_cpus
