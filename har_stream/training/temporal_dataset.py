"""Training windows for the temporal model, replayed from harvested tracks (:mod:`har_stream.training.harvest`).

Clips are labelled per clip, not per person, so per-track targets come from a multiple-instance reading:

- ``fighting``: in a fight clip at least one pair fights. A track counts as fighting when its box touches or
  nearly touches another person's box on at least half of its frames (the fighting pair); other people in fight
  clips (bystanders) are left out of the fighting target, neither positive nor negative. Every track of a
  ``none`` or ``walking`` clip is a negative.
- ``running``: no running footage comes from CCTV here, so positives are synthetic: tracks of people walking in
  quiet clips replayed 2x and 3x faster (limbs, cadence and body speed all scale). Negatives are every track at
  its real speed (quiet and fight clips), plus walkers whose body translation is stretched 4x without speeding
  up their limbs (what a foreshortened overhead view does to a walker's speed in box heights per second).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_stream.temporal.features import WINDOWS_S
from har_stream.temporal.flow import FLOW_STATS, SPEED_STATS
from har_stream.temporal.windows import TrackWindows
from har_stream.training.background import QUIET_LABELS, WALKING_SPEED, near_someone
from har_stream.training.harvest import ClipTracks

SAMPLE_EVERY_S = 0.1
_FLOW_SPEEDS = [FLOW_STATS.index(name) for name in SPEED_STATS]
SPEED_UPS = (2.0, 3.0)
STRETCH = 4.0


@dataclass
class Windows:
    """Feature rows with their targets (NaN: not a training row for that target) and where they came from."""

    x: np.ndarray
    fighting: np.ndarray
    running: np.ndarray
    weight: np.ndarray
    clip: np.ndarray
    group: np.ndarray
    track: np.ndarray
    time: np.ndarray
    variant: np.ndarray

    @classmethod
    def concat(cls, parts: Iterable[Windows]) -> Windows:
        """One set from several."""
        parts = list(parts)
        names = cls.__dataclass_fields__
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, mask: np.ndarray) -> Windows:
        """The rows where ``mask`` is true."""
        return Windows(**{n: getattr(self, n)[mask] for n in Windows.__dataclass_fields__})


def replay(
    tracks: ClipTracks,
    time_scale: float = 1.0,
    stretch: float = 1.0,
    only: set[int] | None = None,
    windows_s: tuple[float, ...] = WINDOWS_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feed a clip's tracks frame by frame through :class:`TrackWindows` (windows of ``windows_s`` seconds);
    sample every track's window features every ``SAMPLE_EVERY_S``. ``time_scale`` > 1 plays the clip faster;
    ``stretch`` > 1 multiplies how far each person's box and keypoints travel from where the track started
    (limbs keep their own motion). The flow statistics that are speeds scale with ``time_scale``; a stretch
    leaves them as they are (the flow's median, the body's translation, is taken out of them)."""
    windows = TrackWindows(windows_s)
    rows, ids, times = [], [], []
    origin: dict[int, np.ndarray] = {}
    next_sample = -np.inf
    for frame in np.unique(tracks.frame):
        sel = np.flatnonzero(tracks.frame == frame)
        t = float(tracks.timestamp[sel[0]]) / time_scale
        track_ids = tracks.track_id[sel]
        boxes = tracks.box[sel].copy()
        keypoints = tracks.keypoints[sel].copy()
        patches = tracks.patch[sel]
        flows = tracks.flow[sel].copy()
        flows[:, _FLOW_SPEEDS] *= time_scale
        if stretch != 1.0:
            for j, tid in enumerate(track_ids):
                centre = np.array([(boxes[j, 0] + boxes[j, 2]) / 2, boxes[j, 3]])
                shift = (stretch - 1.0) * (centre - origin.setdefault(int(tid), centre))
                boxes[j] += np.tile(shift, 2)
                keypoints[j, :, :2] += shift
        windows.update(t, track_ids, boxes, keypoints, patches, flows)
        if t < next_sample:
            continue
        next_sample = t + SAMPLE_EVERY_S
        chosen = np.arange(len(sel))
        if only is not None:
            chosen = np.array([j for j in chosen if int(track_ids[j]) in only], dtype=int)
        if len(chosen) == 0:
            continue
        x, ok = windows.features(t, tracks.height, track_ids, boxes, chosen)
        rows.append(x[ok])
        ids.append(track_ids[chosen][ok])
        times.append(np.full(int(ok.sum()), t))
    if not rows:
        return np.zeros((0, windows.width), np.float32), np.zeros(0, int), np.zeros(0)
    return np.concatenate(rows), np.concatenate(ids), np.concatenate(times)


def fighting_tracks(tracks: ClipTracks) -> set[int]:
    """Tracks near another person's box on at least half of their frames."""
    near = np.array([near_someone(tracks, r) for r in range(len(tracks.frame))], dtype=bool)
    return {int(t) for t in np.unique(tracks.track_id) if near[tracks.track_id == t].mean() >= 0.5}


def walking_tracks(tracks: ClipTracks) -> set[int]:
    """Tracks whose median speed is a walk or faster."""
    ids = np.unique(tracks.track_id)
    return {int(t) for t in ids if np.median(tracks.speed[tracks.track_id == t]) >= WALKING_SPEED}


def clip_windows(
    path: Path, label: str, group: str, synthetic: bool = True, windows_s: tuple[float, ...] = WINDOWS_S
) -> Windows:
    """Every training window (of ``windows_s`` seconds) of one harvested clip, with both targets (see the module
    docstring)."""
    tracks = ClipTracks.load(path)
    parts = []

    def make(x: np.ndarray, ids: np.ndarray, t: np.ndarray, fight: np.ndarray, run: float, variant: str) -> Windows:
        n = len(x)
        return Windows(
            x,
            fight.astype(np.float32),
            np.full(n, run, np.float32),
            np.full(n, 1.0 / max(n, 1), np.float32),
            np.full(n, path.stem, object),
            np.full(n, group, object),
            ids,
            t,
            np.full(n, variant, object),
        )

    x, ids, t = replay(tracks, windows_s=windows_s)
    if label == "fighting":
        fighters = fighting_tracks(tracks)
        fight = np.array([1.0 if int(i) in fighters else np.nan for i in ids])
    elif label in QUIET_LABELS:
        fight = np.zeros(len(ids))
    else:
        fight = np.full(len(ids), np.nan)
    parts.append(make(x, ids, t, fight, 0.0, "real"))
    if synthetic and label in QUIET_LABELS:
        walkers = walking_tracks(tracks)
        if walkers:
            for k in SPEED_UPS:
                x, ids, t = replay(tracks, time_scale=k, only=walkers, windows_s=windows_s)
                parts.append(make(x, ids, t, np.full(len(ids), np.nan), 1.0, f"speed_x{k:g}"))
            x, ids, t = replay(tracks, stretch=STRETCH, only=walkers, windows_s=windows_s)
            parts.append(make(x, ids, t, np.zeros(len(ids)), 0.0, f"stretch_x{STRETCH:g}"))
    return Windows.concat(parts)
