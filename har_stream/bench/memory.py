"""Peak resident memory of this process, resettable between benchmark phases (Linux)."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter for this process (``/proc/self/clear_refs``); False if unsupported."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
        return True
    return False


def peak_rss_mb() -> float:
    """Peak resident set size in MiB since start or the last :func:`reset_peak_rss`."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
