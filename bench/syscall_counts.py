#!/usr/bin/env python3
"""System calls (by name) and context switches per task, per process, of one
run of a benchmark program (bench/PROFILE.md).

    python3 bench/syscall_counts.py target/release/overhead 20000 2 reuse

runs the program under `perf record -c 1` of the `raw_syscalls:sys_enter`
tracepoint and of `context-switches` (every event recorded, none sampled:
exact counts whatever the machine's load), then prints, for the three
processes of the program that made the most system calls (the parent, the
fork server, a worker), their system calls per task, the commonest by
name. The task count is the program's first argument. Needs `perf` and
permission to use tracepoints (root, or `perf_event_paranoid` <= 1).
Standard library only; never part of the test suite.
"""

import collections
import os
import re
import subprocess
import sys
import tempfile

# x86-64 system call numbers of the calls dummymp makes per task.
NAMES = {
    0: "read", 1: "write", 3: "close", 7: "poll", 9: "mmap", 10: "mprotect", 11: "munmap", 12: "brk",
    16: "ioctl", 20: "writev", 22: "pipe", 25: "mremap", 33: "dup2", 39: "getpid", 44: "sendto",
    45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 53: "socketpair", 56: "clone", 62: "kill", 72: "fcntl",
    79: "getcwd", 109: "setpgid", 202: "futex", 228: "clock_gettime", 247: "waitid", 257: "openat",
    271: "ppoll", 292: "dup3", 293: "pipe2", 302: "prlimit64", 318: "getrandom", 332: "statx",
    424: "pidfd_send_signal", 434: "pidfd_open", 435: "clone3",
}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    program, tasks = argv[1], int(argv[2])
    name = os.path.basename(program)[:15]
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "perf.data")
        subprocess.run(["perf", "record", "-q", "-o", data, "-c", "1", "-e", "raw_syscalls:sys_enter",
                        "-e", "context-switches"] + argv[1:], check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,event,trace"],
                             capture_output=True, text=True, check=True).stdout
    per = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+(\d+)\s+(\S+):\s*(.*)", line)
        if not m or m.group(1) not in (name, "dummymp-relay"):
            continue
        pid, event = int(m.group(2)), m.group(3)
        if event.startswith("context"):
            per[pid]["(context switches)"] += 1
        else:
            nr = re.search(r"NR (\d+)", m.group(4))
            per[pid][NAMES.get(int(nr.group(1)), "nr " + nr.group(1)) if nr else "?"] += 1
    calls = {pid: sum(v for k, v in c.items() if not k.startswith("(")) for pid, c in per.items()}
    for pid in sorted(calls, key=lambda p: -calls[p])[:3]:
        top = ", ".join("%s %.2f" % (k, v / tasks) for k, v in per[pid].most_common(9))
        print("pid %d: %.2f system calls per task: %s" % (pid, calls[pid] / tasks, top))


if __name__ == "__main__":
    main(sys.argv)
