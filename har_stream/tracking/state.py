"""Per-track state kept between frames: box history, speed, first and last sighting."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrackState:
    """What is remembered about one tracked person."""

    track_id: int
    first_seen: float
    last_seen: float
    history: collections.deque[tuple[float, np.ndarray]] = field(default_factory=collections.deque)

    def add(self, timestamp: float, box: np.ndarray, window_s: float) -> None:
        """Record the box seen at ``timestamp`` and forget boxes older than the speed window."""
        self.last_seen = timestamp
        self.history.append((timestamp, box.astype(np.float32, copy=True)))
        while len(self.history) > 2 and timestamp - self.history[1][0] >= window_s:
            self.history.popleft()

    def endpoints(self) -> tuple[float, np.ndarray, np.ndarray] | None:
        """Seconds between the oldest and newest box of the window, and their bottom centres (None if unknown)."""
        if len(self.history) < 2:
            return None
        (t0, b0), (t1, b1) = self.history[0], self.history[-1]
        return t1 - t0, np.array([(b0[0] + b0[2]) / 2, b0[3]]), np.array([(b1[0] + b1[2]) / 2, b1[3]])

    def speed(self) -> float:
        """Speed of the box's bottom centre in box heights per second over the window (0 if unknown)."""
        if len(self.history) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self.history[0], self.history[-1]
        dt = t1 - t0
        if dt <= 0:
            return 0.0
        p0 = np.array([(b0[0] + b0[2]) / 2, b0[3]])
        p1 = np.array([(b1[0] + b1[2]) / 2, b1[3]])
        height = max(1.0, float(np.mean([b[3] - b[1] for _, b in self.history])))
        return float(np.linalg.norm(p1 - p0) / height / dt)


class TrackRegistry:
    """All live tracks; tracks unseen for longer than ``max_age_s`` are ended and forgotten."""

    def __init__(self, max_age_s: float, speed_window_s: float) -> None:
        self.max_age_s = max_age_s
        self.speed_window_s = speed_window_s
        self.tracks: dict[int, TrackState] = {}

    def update(self, timestamp: float, track_ids: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Record this frame's boxes; return each track's speed in box heights per second."""
        speeds = np.zeros(len(track_ids), dtype=np.float32)
        for i, (track_id, box) in enumerate(zip(track_ids.tolist(), boxes, strict=True)):
            state = self.tracks.get(track_id)
            if state is None:
                state = self.tracks[track_id] = TrackState(track_id, timestamp, timestamp)
            state.add(timestamp, box, self.speed_window_s)
            speeds[i] = state.speed()
        return speeds

    def end_stale(self, timestamp: float) -> list[int]:
        """End tracks not seen for more than ``max_age_s``; return their ids."""
        ended = [tid for tid, s in self.tracks.items() if timestamp - s.last_seen > self.max_age_s]
        for tid in ended:
            del self.tracks[tid]
        return ended

    def end_all(self) -> list[int]:
        """End every track (stream over or restarted)."""
        ended = list(self.tracks)
        self.tracks.clear()
        return ended
