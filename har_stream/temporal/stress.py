"""Stress test of the temporal model's running evidence: walking tracks replayed faster must score as running,
walking tracks at their real speed must not. Labelled a stress test: the speed-ups are synthetic."""

from __future__ import annotations

import numpy as np

from har_stream.temporal.dataset import replay, walking_tracks
from har_stream.temporal.model import TemporalModel
from har_stream.temporal.training import track_scores
from har_stream.training.harvest import ClipTracks


def walker_scores(
    tracks: ClipTracks, model: TemporalModel, speed: float, alpha: float = 0.4, action: str = "running"
) -> dict[int, float]:
    """Per walking track, the highest smoothed ``action`` probability when the clip is played ``speed`` x faster."""
    walkers = walking_tracks(tracks)
    if not walkers:
        return {}
    x, ids, times = replay(tracks, time_scale=speed, only=walkers)
    if len(x) == 0:
        return {}
    probs = model.predict(x)[:, model.actions.index(action)]
    smoothed = track_scores(times, ids, probs, alpha)
    return {int(t): float(smoothed[ids == t].max()) for t in np.unique(ids)}
