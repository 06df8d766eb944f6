"""Memory readings shared by the benchmark scripts (run as scripts: this folder is on
``sys.path``)."""

from __future__ import annotations

import os
import resource

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_now_mb() -> float:
    """Current resident set size of this process in MiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS in MiB: ``VmHWM`` (``ru_maxrss`` where /proc is missing).

    Not ``ru_maxrss``: after ``subprocess`` spawns a child, the child's ``ru_maxrss`` is at
    least the parent's peak (Linux keeps the peak of the memory map replaced by exec).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
