"""How fast a model folder runs on this machine: milliseconds per crop, for each model's card.

Below the trainer and the int8 copy, which both measure their models with it.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np


def measure_latency(model: Any, repeats: int = 15) -> dict[str, Any]:
    """Median milliseconds per crop at batch 1 and batch 8 on this machine (any ActionModel)."""
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {"machine": f"{platform.machine()}, {_cpu_count()} CPU cores"}
    for batch in (1, 8):
        crops = rng.integers(0, 255, (batch, model.input_size, model.input_size, 3), dtype=np.uint8)
        for _ in range(3):
            model.predict(crops)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict(crops)
            times.append(time.perf_counter() - start)
        result[f"batch{batch}"] = round(float(np.median(times)) * 1000 / batch, 2)
    return result


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
