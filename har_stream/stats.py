"""Run statistics: throughput, per-stage latency, frame age, people and classifier load, and the run summary.

:class:`RunSummary` is the one definition of a run's summary: ``Pipeline.run`` returns it, ``har-stream run``
prints it (and writes it with ``--summary``) as :meth:`RunSummary.as_json`. Its ``source`` part is the
:class:`SourceCounters` a source reports (``FrameSource.counters``): the same snapshot the event log's health
records and a camera's health (local, or a cluster camera's worker) are built from.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from har_stream.frame import FrameRecord


class SourceCounters(BaseModel):
    """A source's status and counters (since it was opened): part of the run summary, the event log's health
    records, and a camera's health."""

    status: str
    frames_in: int
    frames_dropped: int
    reconnects: int
    outages: int
    decode_errors: int
    fps_in: float


class MeanP95(BaseModel):
    """Mean and 95th percentile of a series, rounded to 0.01."""

    mean: float
    p95: float

    @classmethod
    def of(cls, values: list[float]) -> MeanP95:
        """Of ``values`` (zeros when empty)."""
        if not values:
            return cls(mean=0.0, p95=0.0)
        array = np.asarray(values, dtype=np.float64)
        return cls(mean=round(float(array.mean()), 2), p95=round(float(np.percentile(array, 95)), 2))


def mean_p95(values: list[float]) -> dict[str, float]:
    """Mean and 95th percentile, rounded to 0.01 (zeros when empty), as a dict."""
    return MeanP95.of(values).model_dump()


class ClassifierInfo(BaseModel):
    """The action classifier a run used."""

    model: str = Field(description="its name, or none")
    runtime: str = Field(description="e.g. onnx-int8 or keras; empty without a classifier")


class RunSummary(BaseModel):
    """What a run did: frames, time, throughput, per-stage latency, load, alerts; then the source and models.

    ``source``, ``temporal_model`` and ``classifier`` are filled in by the pipeline when the run ends (a summary
    of :class:`RunStats` alone leaves them out).
    """

    frames: int
    wall_s: float
    fps: float
    stages_ms: dict[str, MeanP95] = Field(description="per pipeline stage, milliseconds per frame")
    frame_age_ms: MeanP95 = Field(description="capture to end of processing")
    people_per_frame: float
    classifier_calls_per_frame: float
    alerts_started: int
    source: SourceCounters | None = None
    temporal_model: str | None = None
    classifier: ClassifierInfo | None = None

    @classmethod
    def empty(cls) -> RunSummary:
        """The summary of a run that processed nothing (yet)."""
        zero = MeanP95(mean=0.0, p95=0.0)
        return cls(
            frames=0,
            wall_s=0.0,
            fps=0.0,
            stages_ms={},
            frame_age_ms=zero,
            people_per_frame=0.0,
            classifier_calls_per_frame=0.0,
            alerts_started=0,
        )

    def as_json(self) -> dict[str, Any]:
        """The JSON object ``har-stream run`` prints (the fields not filled in are left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    # Read access by key, as when the summary was a plain dict (scripts outside the package still read it so).
    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields or getattr(self, key) is None:
            raise KeyError(key)
        return self.model_dump(mode="json", include={key})[key]


@dataclass
class RunStats:
    """Accumulates per-frame figures; :meth:`summary` turns them into a :class:`RunSummary`."""

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

    def summary(self) -> RunSummary:
        """Frames, wall time, fps, per-stage mean/p95 ms, frame age, people and classifier calls per frame."""
        elapsed = self.elapsed
        return RunSummary(
            frames=self.frames,
            wall_s=round(elapsed, 3),
            fps=round(self.frames / elapsed, 3) if elapsed > 0 else 0.0,
            stages_ms={name: MeanP95.of(values) for name, values in self.stage_ms.items()},
            frame_age_ms=MeanP95.of(self.frame_age_ms),
            people_per_frame=round(float(np.mean(self.people)), 2) if self.people else 0.0,
            classifier_calls_per_frame=round(float(np.mean(self.classifier_calls)), 3)
            if self.classifier_calls
            else 0.0,
            alerts_started=self.alerts_started,
        )
