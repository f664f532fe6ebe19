"""Stress test of the temporal model's running evidence: walking tracks replayed faster must score as running,
walking tracks at their real speed must not. Labelled a stress test: the speed-ups are synthetic."""

from __future__ import annotations

import numpy as np

from har_stream.temporal.model import TemporalModel
from har_stream.temporal.running import RunningModel
from har_stream.temporal.windows import TrackWindows
from har_stream.training.harvest import ClipTracks
from har_stream.training.temporal_dataset import replay, walking_tracks
from har_stream.training.temporal_training import track_scores


def walker_scores(
    tracks: ClipTracks, model: TemporalModel, speed: float, alpha: float = 0.4, action: str = "running"
) -> dict[int, float]:
    """Per walking track, the highest ``action`` probability when the clip is played ``speed`` x faster (the
    kinematic running model's as the stage gives it; a tree model's smoothed as the stage smooths it)."""
    walkers = walking_tracks(tracks)
    if not walkers:
        return {}
    if action == "running" and model.running is not None:
        return kinematic_walker_scores(tracks, model.running, speed, walkers)
    x, ids, times = replay(tracks, time_scale=speed, only=walkers)
    if len(x) == 0:
        return {}
    probs = model.predict(x)[:, model.actions.index(action)]
    smoothed = track_scores(times, ids, probs, alpha)
    return {int(t): float(smoothed[ids == t].max()) for t in np.unique(ids)}


def kinematic_walker_scores(
    tracks: ClipTracks, running: RunningModel, speed: float, walkers: set[int], every_n: int = 2
) -> dict[int, float]:
    """Per track of ``walkers``, the highest kinematic running probability, scored every ``every_n`` frames."""
    windows = TrackWindows()
    best: dict[int, float] = {}
    for k, frame in enumerate(np.unique(tracks.frame)):
        rows = np.flatnonzero((tracks.frame == frame) & np.isin(tracks.track_id, list(walkers)))
        if len(rows) == 0:
            continue
        t = float(tracks.timestamp[rows[0]]) / speed
        ids = tracks.track_id[rows]
        windows.update(t, ids, tracks.box[rows], tracks.keypoints[rows])
        if k % every_n:
            continue
        x = windows.running(t, tracks.width, tracks.height, ids, running.spans)
        known = ~np.isnan(x[:, 0])
        for tid, p in zip(ids[known], running.predict(x[known]), strict=True):
            best[int(tid)] = max(best.get(int(tid), 0.0), float(p))
    return best
