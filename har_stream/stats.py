"""Run statistics: throughput, per-stage latency, frame age, people and classifier load."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from har_stream.frame import FrameRecord


def mean_p95(values: list[float]) -> dict[str, float]:
    """Mean and 95th percentile, rounded to 0.01 (zeros when empty)."""
    if not values:
        return {"mean": 0.0, "p95": 0.0}
    array = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(array.mean()), 2), "p95": round(float(np.percentile(array, 95)), 2)}


@dataclass
class RunStats:
    """Accumulates per-frame figures; :meth:`summary` turns them into a JSON-ready dict."""

    started: float = field(default_factory=time.perf_counter)
    frames: int = 0
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    frame_age_ms: list[float] = field(default_factory=list)
    people: list[int] = field(default_factory=list)
    classifier_calls: list[int] = field(default_factory=list)
    alerts_started: int = 0
    _recent: list[float] = field(default_factory=list)

    def add(self, record: FrameRecord, frame_age_s: float, classifier_calls: int) -> None:
        """Account for one processed frame."""
        self.frames += 1
        for stage, ms in record.timings.items():
            self.stage_ms[stage].append(ms)
        self.frame_age_ms.append(frame_age_s * 1000)
        self.people.append(len(record.detections))
        self.classifier_calls.append(classifier_calls)
        self.alerts_started += sum(1 for e in record.alerts if e.type == "alert_start")
        now = time.perf_counter()
        self._recent.append(now)
        if len(self._recent) > 30:
            del self._recent[0]

    @property
    def recent_fps(self) -> float:
        """Processing rate over the last 30 frames."""
        if len(self._recent) < 2:
            return 0.0
        return (len(self._recent) - 1) / max(1e-9, self._recent[-1] - self._recent[0])

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.started

    def summary(self) -> dict[str, object]:
        """Frames, wall time, fps, per-stage mean/p95 ms, frame age, people and classifier calls per frame."""
        elapsed = self.elapsed
        return {
            "frames": self.frames,
            "wall_s": round(elapsed, 3),
            "fps": round(self.frames / elapsed, 3) if elapsed > 0 else 0.0,
            "stages_ms": {name: mean_p95(values) for name, values in self.stage_ms.items()},
            "frame_age_ms": mean_p95(self.frame_age_ms),
            "people_per_frame": round(float(np.mean(self.people)), 2) if self.people else 0.0,
            "classifier_calls_per_frame": round(float(np.mean(self.classifier_calls)), 3)
            if self.classifier_calls
            else 0.0,
            "alerts_started": self.alerts_started,
        }
